"""MLIC++ (arXiv 2307.15421): official sizes, causality of every context at each of the 20 coding steps, and
bit-exact coding of a real Kodak crop (another batch size and no jit decode the same).

The tiny-model tests are `slow`: XLA:CPU needs minutes to compile `model.init` of a model with 879 parameter
leaves (the per-leaf threefry key derivation, see the ELIC note in benchmarks/sota.py), ~180 s on a loaded
2-core machine; the parameter count (`jax.eval_shape`) and the attention layers (tests/layers) stay in the
default suite."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jlic.codec import codec
from jlic.entropy.stream import StreamWriter
from jlic.latent_codecs import CodingContext, anchor_mask
from jlic.models import mlicpp, registry

TINY = {"N": 8, "M": 20, "channel_widths": (8,), "parameter_widths": (16, 8), "lrp_widths": (8,)}
KODAK = Path(__file__).parents[2] / ".." / "shared" / "data" / "kodak" / "kodim23.png"


def test_official_size_and_parameter_count():
    """83.5 M parameters for the fixed official version (README of JiangWeibeta/MLIC): within 2%."""
    n = mlicpp.parameter_count(N=192, M=320)
    assert abs(n - 83.5e6) <= 0.02 * 83.5e6, n
    m = registry.get("mlicpp")
    assert m.stride == 64 and m.module.slice_channels() == 32 and m.module.slices == 10


@pytest.fixture(scope="module")
def tiny():
    """The tiny model (10 slices of 2 channels) and its params, made once for the module."""
    model = registry.get("mlicpp", **TINY)
    params = model.init(jax.random.PRNGKey(0), (1, 64, 64, 3))
    return model, params


class Recording(CodingContext):
    """A coding context that keeps the output of every checkerboard pass (the parameters of each step)."""

    log: list

    def call(self, method, *args, static=()):
        out = super().call(method, *args, static=static)
        if method in ("anchor_step", "nonanchor_step"):
            self.log.append(tuple(np.asarray(a) for a in out))
        return out


def _steps(model, params, y, hyper, tables, coders):
    ctx = Recording(model.module, params, tables, coders, cache=model._coding_fns)
    ctx.log = []
    root = ctx.root()
    root.y.encode(ctx.child("y"), StreamWriter(), y, hyper)
    return ctx.log


@pytest.mark.slow
def test_every_context_is_causal_at_each_of_the_20_steps(tiny):
    """Changing latents not yet decoded at step t (its own and all later ones) changes none of the
    parameters computed at step t: checked for slices 0..9 x (anchors, non-anchors)."""
    model, params = tiny
    c = codec.Codec(model, params)
    rng = np.random.default_rng(0)
    h, w, s, n = 8, 8, model.module.slice_channels(), model.module.slices
    y = (rng.normal(size=(1, h, w, s * n)) * 4).astype(np.float32)
    z_hat = np.round(rng.normal(size=(1, h // 4, w // 4, model.module.N))).astype(np.float32)
    hyper = np.asarray(c.context.call("hyper_synthesis", z_hat), np.float32)
    base = _steps(model, params, y, hyper, c.tables, c.coders)
    assert len(base) == 2 * n
    anchors = anchor_mask(h, w, "odd")
    for t in range(2 * n):
        k, second = divmod(t, 2)
        later = np.zeros(y.shape, bool)
        later[..., (k + 1) * s:] = True
        later[0, :, :, k * s:(k + 1) * s] = (~anchors if second else np.ones_like(anchors))[..., None]
        jump = rng.choice([-1, 1], y.shape) * rng.uniform(3, 9, y.shape)
        y2 = np.where(later, y + jump, y).astype(np.float32)
        got = _steps(model, params, y2, hyper, c.tables, c.coders)
        for u in range(t + 1):  # this step and every earlier one: (scale index, mean) at its positions
            sel = ~anchors if u % 2 else anchors
            for a, b in zip(base[u], got[u], strict=True):
                np.testing.assert_array_equal(a[0][sel], b[0][sel], err_msg=f"changed after step {t}: step {u}")
        if t + 1 < 2 * n:  # the test can fail: the next step does see what step t decoded
            sel = anchors if second else ~anchors
            assert any(not np.array_equal(a[0][sel], b[0][sel]) for a, b in zip(base[t + 1], got[t + 1],
                                                                                 strict=True)), t


def _kodak(h, w):
    from PIL import Image

    if not KODAK.exists():
        pytest.skip("needs ../shared/data/kodak")
    return np.asarray(Image.open(KODAK).convert("RGB"))[100:100 + h, 200:200 + w]


@pytest.mark.slow
def test_real_kodak_crop_codes_bit_exactly_with_jit_and_without(tiny):
    model, params = tiny
    img = _kodak(64, 128)
    c = codec.Codec(model, params)
    data, latents = c.compress_with_latents(img)
    _, decoded = c.decompress_latents(data)
    for key in ("y", "z", "y_hat"):
        np.testing.assert_array_equal(decoded[key], latents[key], err_msg=key)
    assert np.abs(latents["y"]).max() > 0
    # the evaluation forward pass gives the coded y_hat bit for bit
    y = c.fn("analysis")(params, jnp.asarray(c.pad(img)[0]))
    out = model.module.apply({"params": params}, y,
                             method=lambda m, y: m.latent_codec.forward(y, None, False, None))
    # (to float rounding: the LRP is evaluated in one fused program here and in per-step programs by the
    # coder, 3e-6 apart at most; a different symbol would put y_hat a whole unit away)
    np.testing.assert_allclose(np.asarray(out.y_hat), latents["y_hat"], rtol=0, atol=1e-5)
    _, decoded1 = codec.Codec(model, params, batch=7).decompress_latents(data)  # same compiled steps
    for key in ("y", "z", "y_hat"):
        np.testing.assert_array_equal(decoded1[key], latents[key], err_msg=f"batch 7: {key}")
    eager = codec.Codec(model, params, jit=False, batch=7)
    _, decoded2 = eager.decompress_latents(data)
    for key in ("y", "z"):
        np.testing.assert_array_equal(decoded2[key], latents[key], err_msg=f"no jit: {key}")
    # Op by op, XLA rounds GELU/LayerNorm/softmax differently from the fused programs: the symbols are the
    # same, y_hat (symbol + mean + LRP) agrees to 3e-6 (the deterministic mode, jlic/fixedpoint, is exact).
    np.testing.assert_allclose(decoded2["y_hat"], latents["y_hat"], rtol=0, atol=1e-5)
    assert c.decompress(data).shape == img.shape
