"""Round trips of the overfitted codec: latents (wavefront ANS), weights, the whole file, a short real fit."""

import numpy as np
import pytest

from jlic.entropy.bitstream import BitstreamError
from jlic.models import coolchic as C
from jlic.overfit import codec, fit
from jlic.overfit import weights as W


@pytest.mark.parametrize("preset", ["coolchic", "coolchic-hop", "c3"])
def test_schedule_decodes_every_context_before_its_latent(preset):
    cfg = C.get_config(preset)
    shapes = C.grid_shapes(13, 17, 4)
    sched = codec.Schedule(shapes, cfg.offsets)
    order = np.full(sched.size, -1)
    order[sched.pos] = np.arange(len(sched.pos))
    assert len(np.unique(sched.pos)) == len(sched.pos) == sum(h * w for h, w in shapes)
    ctx_order = order[sched.ctx]  # -1: padding (always zero)
    assert np.all(ctx_order < np.arange(len(sched.pos))[:, None])
    grid_of = np.repeat(np.arange(len(shapes)), [h * w for h, w in shapes])
    np.testing.assert_array_equal(sched.ctx, sched.pos[:, None] + sched.rel[grid_of])


@pytest.mark.parametrize("preset", ["coolchic", "coolchic-hop", "coolchic-vlop", "c3"])
def test_compiled_arm_equals_the_numpy_fixed_point_reference(preset):
    """The numba ARM (int64 shifts) gives the same rounded means and table rows as `make_arm_fixed`
    (float64 integers through BLAS), for random integer weights and contexts up to the latent range."""
    cfg = C.get_config(preset)
    rng = np.random.default_rng(1)
    dims = [cfg.arm_context] + [cfg.arm_hidden] * cfg.arm_layers + [2]
    layers = zip(dims[:-1], dims[1:], strict=True)
    arm = {"w": [rng.integers(-3000, 3000, (a, b)).astype(np.float64) for a, b in layers],
           "b": [rng.integers(-3000, 3000, b).astype(np.float64) for b in dims[1:]]}
    aexp = {"w": 12, "b": 9}
    ctx = rng.integers(-cfg.latent_max, cfg.latent_max + 1, (4000, cfg.arm_context))
    ctx[::7] = 0
    ctx[1::5] = rng.integers(-2, 3, (len(ctx[1::5]), cfg.arm_context))
    ref = C.arm_fixed(arm, aexp, ctx, cfg, codec.LOG_SCALES, codec.NUM_FRACS)
    rounded, rows = codec._symbols(arm, aexp, ctx, cfg)
    np.testing.assert_array_equal(rounded, ref[0])
    np.testing.assert_array_equal(rows, ref[2] * codec.NUM_FRACS + ref[1])
    assert len(np.unique(rows)) > 20  # the test reaches many table rows


def _random_quantized(cfg, h, w, seed=0):
    rng = np.random.default_rng(seed)
    tree = W.shapes(cfg, h, w)
    ints, exps = {}, {}
    for g in W.GROUPS:
        n = sum(int(np.prod(t.shape)) for t in tree[g[0]][g[1]])
        if n:
            ints[g] = rng.integers(-200, 200, n).astype(np.int32)
            exps[g] = 9
    latents = [np.clip(np.round(rng.laplace(0, 2.0, s)), -cfg.latent_max, cfg.latent_max).astype(np.int32)
               for s in C.grid_shapes(h, w, cfg.num_grids)]
    latents[0][0, :3] = [cfg.latent_max, -cfg.latent_max, 0]
    return W.Quantized(cfg, h, w, latents, ints, exps)


@pytest.mark.parametrize("preset", ["coolchic", "coolchic-vlop", "c3"])
def test_file_roundtrip_random_codec(preset):
    cfg = C.get_config(preset, num_grids=4)
    q = _random_quantized(cfg, 21, 30)
    data = codec.encode(q, preset)
    back = codec.decode_quantized(data)
    for a, b in zip(back.latents, q.latents, strict=True):
        np.testing.assert_array_equal(a, b)
    for g in q.ints:
        np.testing.assert_array_equal(back.ints[g], q.ints[g])
    assert back.exps == q.exps and back.config == q.config


def test_latent_coding_matches_table_bits():
    cfg = C.get_config("coolchic", num_grids=3)
    q = _random_quantized(cfg, 40, 40, seed=3)
    arm, aexp = codec._arm_int(q, cfg, 40, 40, q.ints, q.exps)
    data = codec.encode_latents(q.latents, cfg, arm, aexp)
    sched = codec.Schedule([g.shape for g in q.latents], cfg.offsets)
    buf = sched.fill(q.latents)
    rounded, rows = codec._symbols(arm, aexp, buf[sched.ctx], cfg)
    k = buf[sched.pos] - rounded
    tables = codec.latent_tables(cfg.latent_max)
    bits = -tables.log2_prob(k, rows).sum()
    assert 0 <= len(data) * 8 - bits < 64 + 0.001 * bits


def test_corrupt_files_raise_bitstream_error():
    cfg = C.get_config("coolchic", num_grids=3)
    data = bytearray(codec.encode(_random_quantized(cfg, 12, 12), "coolchic"))
    with pytest.raises(BitstreamError):
        codec.decode_quantized(bytes(data[:-9]))
    data[len(data) // 2] ^= 0x55
    with pytest.raises(BitstreamError):
        codec.decode_quantized(bytes(data))
    with pytest.raises(BitstreamError):
        codec.decode_quantized(b"not a jlic file at all")


def _smooth_image(h, w, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w] / max(h, w)
    base = np.stack([np.sin(3 * xx + 1) , np.cos(4 * yy), np.sin(2 * (xx + yy))], -1)
    return np.clip(128 + 90 * base + rng.normal(0, 2, (h, w, 3)), 0, 255).astype(np.uint8)


def test_short_fit_compresses_and_decodes_bit_exactly():
    """A real fit (200 iterations, 32x40): the codec learns the image; the file decodes to the encoder's
    image."""
    img = _smooth_image(32, 40)
    cfg = C.get_config("coolchic", num_grids=3)
    fitted = fit.fit_image(img, 0.05, cfg, fit.FitConfig(iterations=200, ste_fraction=0.2))
    hist = fitted.log["history"]
    assert hist[-1]["psnr"] > hist[0]["psnr"] + 8
    q, log = W.quantize_fitted(fitted, img)
    data = codec.encode(q)
    out = codec.decode(data)
    np.testing.assert_array_equal(out, codec.reconstruct(q))
    psnr = 10 * np.log10(255**2 / np.mean((out.astype(float) - img) ** 2))
    assert psnr > 22  # measured 24.1 dB (float, before weight quantization)
    assert abs(psnr - fit.psnr(log["final"]["mse"])) < 0.3  # 8-bit rounding only


@pytest.mark.slow
def test_c3_short_fit_compresses_and_decodes_bit_exactly():
    """The c3 preset (GELU synthesis, fixed bilinear upsampling, 7x7 causal ARM) with its fit recipe."""
    img = _smooth_image(32, 40, seed=1)
    cfg = C.get_config("c3", num_grids=3)
    fc = fit.FitConfig(iterations=200, ste_fraction=0.2, **fit.PRESET_FIT["c3"])
    fitted = fit.fit_image(img, 0.05, cfg, fc)
    hist = fitted.log["history"]
    assert hist[-1]["psnr"] > hist[0]["psnr"] + 8
    np.testing.assert_array_equal(fitted.params["ups"]["w"][0][0], C.bilinear_phases())  # not fitted
    q, _ = W.quantize_fitted(fitted, img)
    data = codec.encode(q, "c3")
    np.testing.assert_array_equal(codec.decode(data), codec.reconstruct(q))
