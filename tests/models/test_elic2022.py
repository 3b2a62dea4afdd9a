"""ELIC (arXiv 2203.10886): layer list and every sub-network equal to CompressAI's `Elic2022Official`."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jlic.models import elic2022 as E
from tests.layers.torch_weights import params_from_torch, perturb

SMALL = {"N": 16, "M": 40, "groups": (2, 2, 4, 8, 24)}


def test_default_groups():
    assert E.default_groups(320) == (16, 16, 32, 64, 192)
    assert E.default_groups(192) == (16, 16, 32, 64, 64)
    assert E.default_groups(40) == SMALL["groups"]
    with pytest.raises(ValueError, match="pass groups"):
        E.default_groups(30)
    with pytest.raises(ValueError, match="sum to M"):
        E.check_groups((16, 16), 40)


def test_paper_widths():
    """The aggregation widths of sota-facts.md §1.1 (N=192, M=320) and the transform shapes."""
    g = E.default_groups(320)
    assert [E.aggregation_widths(g, k, 192) for k in range(5)] == [
        (384, 384, 32), (384, 384, 32), (384, 384, 64), (469, 384, 128), (896, 640, 384)]
    s = jax.eval_shape(lambda k: E.AnalysisElic(192, 320).init(k, jnp.zeros((1, 64, 64, 3))),
                       jax.random.PRNGKey(0))["params"]
    assert s["layer_13"]["kernel"].shape == (5, 5, 192, 320)
    assert s["layer_14"]["conv_b_3"]["kernel"].shape == (1, 1, 320, 320)
    assert s["layer_8"]["conv_a_0"]["layer_2"]["kernel"].shape == (3, 3, 96, 96)
    assert s["layer_1"]["conv1"]["kernel"].shape == (1, 1, 192, 96)


torch = pytest.importorskip("torch", reason="needs the peers extra (torch)")


@pytest.fixture(scope="module")
def net():
    pytest.importorskip("compressai", reason="needs the peers extra (compressai)")
    from compressai.models.sensetime import Elic2022Official

    torch.manual_seed(0)
    m = Elic2022Official(N=SMALL["N"], M=SMALL["M"], groups=list(SMALL["groups"])).eval()
    perturb(m, scale=0.05)
    return m


def _check(block, torch_module, x, transposed=lambda path: False, atol=1e-5):
    shapes = jax.eval_shape(lambda k: block.init(k, jnp.asarray(x)), jax.random.PRNGKey(0))["params"]
    params = params_from_torch(shapes, torch_module, transposed)
    with torch.no_grad():
        ref = torch_module(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))).numpy()
    ref = ref.transpose(0, 2, 3, 1)
    out = np.asarray(jax.jit(block.apply)({"params": params}, x))
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=0, atol=atol * max(1.0, float(np.abs(ref).max())))


def _x(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_transforms_match_compressai(net):
    n, m = SMALL["N"], SMALL["M"]
    x = np.random.default_rng(0).uniform(size=(1, 64, 48, 3)).astype(np.float32)
    _check(E.AnalysisElic(n, m), net.g_a, x)
    _check(E.SynthesisElic(n, m), net.g_s, _x(1, 4, 3, m), transposed=lambda p: p[0] in {
        "layer_1", "layer_5", "layer_10", "layer_14"})
    hyper = net.latent_codec["hyper"]
    _check(E.HyperAnalysisElic(n), hyper.h_a, _x(1, 8, 12, m))
    _check(E.HyperSynthesisElic(n), hyper.h_s, _x(1, 2, 3, n), transposed=lambda p: True)


def test_context_networks_match_compressai(net):
    g, n = SMALL["groups"], SMALL["N"]
    codec = net.latent_codec["y"]
    for k in range(len(g)):
        sub = codec.latent_codec[f"y{k}"]
        _check(E.spatial_context(g, k), sub.context_prediction, _x(2, 6, 8, g[k], seed=k))
        width = 2 * g[k] + (k > 0) * 2 * g[k] + 2 * n
        _check(E.param_aggregation(g, k, n), sub.entropy_parameters, _x(2, 6, 8, width, seed=k))
        if k:
            _check(E.channel_context(g, k), codec.channel_context[f"y{k}"], _x(2, 6, 8, sum(g[:k]), seed=k))
