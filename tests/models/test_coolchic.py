import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jlic.entropy import laplace
from jlic.models import coolchic as C


def test_presets_and_config_bounds():
    assert C.get_config("coolchic").arm_context == 8
    assert C.get_config("coolchic-hop").synth_hidden == 40
    with pytest.raises(ValueError):
        C.CoolChicConfig(arm_context=99)
    with pytest.raises(KeyError):
        C.get_config("nope")


def test_c3_preset_follows_the_paper_config():
    """C3 (arXiv 2312.02753, configs/kodak.py): 7x7 causal mask (24 neighbours), ARM and synthesis (18, 18),
    GELU synthesis, fixed bilinear upsampling."""
    c = C.get_config("c3")
    assert len(c.offsets) == 24 and set(c.offsets) == set(C.SQUARE_OFFSETS)
    assert all(-3 <= dr <= 0 and -3 <= dc <= 3 and (dr < 0 or dc < 0) for dr, dc in c.offsets)
    assert (c.arm_hidden, c.arm_layers, c.synth_hidden, c.synth_layers) == (18, 2, 18, 2)
    p = C.init_params(jax.random.key(0), c, 16, 16)
    assert [w.shape for w in p["synth"]["w"][:3]] == [(7, 18), (18, 18), (18, 3)]
    np.testing.assert_array_equal(p["ups"]["w"][0][0], C.bilinear_phases())
    ramp = jnp.arange(10, dtype=jnp.float32)[None, :, None] * jnp.ones((1, 10, 3))
    up = np.asarray(C._upsample_axis(ramp, jnp.asarray(C.bilinear_phases()), 1, 20))
    np.testing.assert_allclose(up[0, 1:-1, 0], (np.arange(20) / 2 - 0.25)[1:-1], atol=1e-6)
    m = C.macs_per_pixel(c, 512, 768)
    assert m["synthesis"] == 7 * 18 + 18 * 18 + 18 * 3 + 2 * 27 * 3
    with pytest.raises(ValueError):
        C.CoolChicConfig(synth_gelu=2)


def test_grid_shapes():
    assert C.grid_shapes(512, 768, 7)[-1] == (8, 12)
    assert C.grid_shapes(5, 3, 3) == [(5, 3), (3, 2), (2, 1)]


def test_bicubic_upsampling_keeps_constants_and_ramps():
    taps = jnp.asarray(C.bicubic_phases())
    x = jnp.arange(12, dtype=jnp.float32)[None, :, None] * jnp.ones((2, 12, 5))
    y = np.asarray(C._upsample_axis(x, taps, 1, 24))
    expected = np.arange(24) / 2 - 0.25
    np.testing.assert_allclose(y[0, 4:-4, 0], expected[4:-4], atol=1e-5)  # interior: exact on a ramp
    c = np.asarray(C._upsample_axis(jnp.full((1, 4, 7), 3.0), taps, 2, 13))
    np.testing.assert_allclose(c, 3.0, atol=1e-6)
    assert c.shape == (1, 4, 13)


def test_arm_contexts_are_causal():
    offsets = C.get_config("coolchic-hop").offsets
    g = jnp.zeros((12, 13)).at[5, 6].set(1.0)
    ctx = np.asarray(C.arm_contexts(g, offsets))
    r, c = np.nonzero(ctx.any(axis=-1))
    # only positions after (5, 6) in raster order see it, one per offset
    assert np.all(r * 13 + c > 5 * 13 + 6) and len(r) == len(offsets)


def test_macs_per_pixel_lop():
    m = C.macs_per_pixel(C.get_config("coolchic"), 512, 768)
    assert 500 < m["total"] < 700  # ARM 144 MAC x 1.33 latents/pixel + upsampling + 322 synthesis
    assert m["synthesis"] == 7 * 16 + 16 * 3 + 2 * 27 * 3


def test_decode_image_shape_and_init_is_gray():
    cfg = C.CoolChicConfig(num_grids=3)
    p = C.init_params(jax.random.key(0), cfg, 9, 11)
    x = C.decode_image(p, p["latents"], 9, 11)
    assert x.shape == (9, 11, 3)
    np.testing.assert_allclose(np.asarray(x), 0.5, atol=1e-6)


def _random_int_arm(cfg, rng, kw=8, kb=8):
    shapes = [(cfg.arm_context, cfg.arm_hidden)] + [(cfg.arm_hidden, cfg.arm_hidden)] * (cfg.arm_layers - 1)
    shapes.append((cfg.arm_hidden, 2))
    ws = [rng.integers(-300, 300, s).astype(np.float64) for s in shapes]
    bs = [rng.integers(-100, 100, s[1]).astype(np.float64) for s in shapes]
    return {"w": ws, "b": bs}, {"w": kw, "b": kb}


def test_arm_fixed_is_batch_invariant_and_close_to_float():
    cfg = C.get_config("coolchic")
    rng = np.random.default_rng(0)
    arm, exps = _random_int_arm(cfg, rng)
    ctx = rng.integers(-5, 6, (2000, cfg.arm_context))
    ls = laplace.log_scale_table()
    full = C.arm_fixed(arm, exps, ctx, cfg, ls, 8)
    parts = [C.arm_fixed(arm, exps, ctx[i:i + 7], cfg, ls, 8) for i in range(0, 2000, 7)]
    for k in range(3):
        np.testing.assert_array_equal(full[k], np.concatenate([p[k] for p in parts]))
    fl = {"w": [jnp.asarray(w / 2**8, jnp.float32) for w in arm["w"]],
          "b": [jnp.asarray(b / 2**8, jnp.float32) for b in arm["b"]]}
    mu, scale = C.arm_float(fl, jnp.asarray(ctx, jnp.float32))
    mu = np.clip(np.asarray(mu), -cfg.latent_max, cfg.latent_max)
    frac = (full[1] + 0.5) / 8 - 0.5
    assert np.mean(np.abs(full[0] + frac - mu) <= 1 / 16 + 1e-3) > 0.99
    idx = np.abs(ls[None] - np.log(np.asarray(scale))[:, None]).argmin(axis=1)
    assert np.mean(idx == full[2]) > 0.99


@pytest.mark.parametrize("preset,grids", [("coolchic", 3), pytest.param("c3", 3, marks=pytest.mark.slow),
                                          pytest.param("coolchic-hop", 7, marks=pytest.mark.slow),
                                          pytest.param("coolchic-vlop", 1, marks=pytest.mark.slow)])
def test_inference_decoder_equals_the_training_decoder(preset, grids):
    """`decode_image_inference` (planes, for decoding) computes `decode_image` (conv / dot, for fitting)."""
    cfg = C.get_config(preset, num_grids=grids)
    h, w = 37, 50
    p = C.init_params(jax.random.key(1), cfg, h, w)
    keys = iter(jax.random.split(jax.random.key(2), 64))
    p = jax.tree.map(lambda a: a + 0.3 * jax.random.normal(next(keys), a.shape), p)
    nets = {"ups": p["ups"], "synth": p["synth"]}
    lat = [jnp.round(3 * g) for g in p["latents"]]
    ref = np.asarray(C.decode_image(nets, lat, h, w, cfg))
    out = np.asarray(jax.jit(C.decode_image_inference, static_argnums=(2, 3, 4))(nets, lat, h, w, cfg))
    assert out.shape == (h, w, 3) and np.std(ref) > 0.1
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("preset,h,w", [("coolchic", 19, 26), ("coolchic", 1, 3),
                                        pytest.param("c3", 9, 5, marks=pytest.mark.slow)])
def test_training_form_equals_the_reference_in_value_and_gradient(preset, h, w):
    """`decode_image_train` / `rate_bits_train` (hand-written transposes of windows and edge padding) give the
    loss and every gradient of `decode_image` / `rate_bits` (XLA's own transposes), incl. 1-pixel grids."""
    cfg = C.get_config(preset, num_grids=3)
    p = C.init_params(jax.random.key(1), cfg, h, w)
    keys = iter(jax.random.split(jax.random.key(2), 64))
    p = jax.tree.map(lambda a: a + 0.3 * jax.random.normal(next(keys), a.shape), p)
    x = jax.random.uniform(jax.random.key(3), (h, w, 3))

    def loss(dec, rate):
        def f(q):
            mse = jnp.mean((dec(q, q["latents"], h, w, cfg) - x) ** 2)
            return mse + 1e-3 * rate(q["arm"], q["latents"], cfg)
        return jax.jit(jax.value_and_grad(f))

    ref_v, ref_g = loss(C.decode_image, C.rate_bits)(p)
    v, g = loss(C.decode_image_train, C.rate_bits_train)(p)
    np.testing.assert_allclose(v, ref_v, rtol=1e-5)
    for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(ref_g), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * float(jnp.max(jnp.abs(b))) + 1e-7)
