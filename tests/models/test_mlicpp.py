"""MLIC++ (arXiv 2307.15421): official sizes, causality of every context at each of the 20 coding steps, and
bit-exact coding of a real Kodak crop (another batch size and no jit decode the same)."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jlic.coding import codec
from jlic.coding.stream import StreamWriter
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
    np.testing.assert_array_equal(np.asarray(out.y_hat), latents["y_hat"])
    eager = codec.Codec(model, params, jit=False, batch=7)
    _, decoded2 = eager.decompress_latents(data)
    for key in ("y", "z", "y_hat"):
        np.testing.assert_array_equal(decoded2[key], latents[key], err_msg=f"no jit: {key}")
    assert c.decompress(data).shape == img.shape
