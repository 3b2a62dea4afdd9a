import numpy as np
import pytest

from jlic.entropy.coder import Coder
from jlic.models import coolchic as C
from jlic.overfit import weights as W


@pytest.mark.parametrize("k", [5, 9, 13])
def test_quantize_dequantize_error_within_half_step(k):
    x = np.random.default_rng(k).normal(0, 0.3, 500)
    q = W.quantize_values(x, k)
    assert q.dtype == np.int32
    assert np.max(np.abs(q * 2.0**-k - x)) <= 2.0 ** -(k + 1) + 1e-12


def test_flatten_unflatten_and_dequantize_roundtrip():
    cfg = C.CoolChicConfig(num_grids=3)
    import jax

    p = C.init_params(jax.random.key(0), cfg, 10, 12)
    tree = W.shapes(cfg, 10, 12)
    for mod, kind in W.GROUPS:
        flat = W.flatten(p, (mod, kind))
        back = W.unflatten(tree[mod][kind], flat)
        for a, b in zip(back, p[mod][kind], strict=True):
            np.testing.assert_array_equal(a, np.asarray(b))
    ints = {g: W.quantize_values(W.flatten(p, g), 12) for g in W.GROUPS if W.flatten(p, g).size}
    exps = {g: 12 for g in ints}
    d = W.dequantize(cfg, 10, 12, ints, exps, p["latents"])
    np.testing.assert_allclose(d["synth"]["w"][0], np.asarray(p["synth"]["w"][0]), atol=2.0**-13)
    with pytest.raises(ValueError):
        W.unflatten(tree["arm"]["w"], np.zeros(3))


def test_weight_coding_roundtrip_and_bit_estimate():
    rng = np.random.default_rng(1)
    q = np.round(rng.laplace(0, 40, 3000)).astype(np.int32)
    q[:3] = [30000, -25000, 0]  # far beyond the table support: escape codes
    row = W.scale_bin(q)
    assert abs(np.exp(W.WEIGHT_LOG_SCALES[row]) - np.mean(np.abs(q))) / np.mean(np.abs(q)) < 0.15
    data = Coder(W.tables()).encode(q, np.full(q.shape, row))
    np.testing.assert_array_equal(Coder(W.tables()).decode(data, np.full(q.shape, row)), q)
    est = W.group_bits(q)
    assert abs(len(data) * 8 - est) / est < 0.02
    assert W.group_bits(np.zeros(0, np.int32)) == 0.0
