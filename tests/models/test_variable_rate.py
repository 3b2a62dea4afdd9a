"""Variable-rate models (gain units, arXiv 2003.02012): levels, interpolation, round trips, the header level."""

import dataclasses
import struct

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jlic.codec import tiles
from jlic.codec.codec import Codec
from jlic.codec.export import load_model, save_model
from jlic.entropy import bitstream
from jlic.entropy.bitstream import BitstreamError
from jlic.models import registry
from jlic.models.variable_rate import (
    GAIN,
    INV_GAIN,
    VariableRateModel,
    check_level,
    interpolate,
    lambda_of_level,
    level_of_lambda,
    wrap,
)

LAMBDAS = (0.001, 0.004, 0.016)


@pytest.fixture(scope="module")
def vr():
    """A tiny hyperprior with gains spread so that every level codes a different number of symbols."""
    model = wrap(registry.get("bmshj2018-hyperprior", quality=1, N=16, M=24), LAMBDAS)
    params = model.init(jax.random.key(0), (1, 64, 64, 3))
    rng = np.random.default_rng(1)
    params = {**params, GAIN: params[GAIN] + 3.0 + 0.3 * jnp.asarray(rng.standard_normal(params[GAIN].shape)),
              INV_GAIN: params[INV_GAIN] - 3.0}
    return model, params


@pytest.fixture(scope="module")
def image():
    return (np.random.default_rng(0).random((40, 56, 3)) * 255).astype(np.uint8)


def test_interpolation_is_exact_at_levels_and_log_linear_between():
    table = jnp.asarray(np.random.default_rng(0).standard_normal((4, 5)), jnp.float32)
    for k in range(4):
        np.testing.assert_array_equal(np.asarray(interpolate(table, k)), np.asarray(table[k]))
    np.testing.assert_allclose(np.asarray(interpolate(table, 1.25)), 0.75 * table[1] + 0.25 * table[2], 1e-6)
    per_example = interpolate(table, jnp.asarray([0.0, 2.5, 3.0]))
    assert per_example.shape == (3, 5)
    np.testing.assert_allclose(np.asarray(per_example[1]), 0.5 * (table[2] + table[3]), 1e-6)
    assert level_of_lambda(0.004, LAMBDAS) == 1.0
    assert level_of_lambda(0.008, LAMBDAS) == pytest.approx(1.5)
    assert lambda_of_level(0.5, LAMBDAS) == pytest.approx(0.002)


@pytest.mark.parametrize("bad", [-0.1, 2.01, float("nan"), float("inf"), "x"])
def test_bad_level_is_one_line_value_error(vr, bad):
    with pytest.raises(ValueError) as e:
        vr[0].at(bad)
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="outside"):
        vr[0].at_lambda(0.5)
    assert check_level(2, 3) == 2.0


def test_wrap_validates_and_sorts():
    base = registry.get("bmshj2018-hyperprior", quality=1, N=16, M=24)
    with pytest.raises(ValueError, match="distinct"):
        wrap(base, (0.01, 0.01))
    assert wrap(base, (0.02, 0.01)).lambdas == (0.01, 0.02)


def test_round_trip_every_level_and_between_is_bit_exact(vr, image):
    """Each level (and fractional ones) codes its own rate; the file records it; decoding is exact."""
    model, params = vr
    decoder = Codec(model, params)  # unbound: follows each file's level
    sizes = []
    for level in (0, 0.5, 1, 1.25, 2):
        enc = Codec(model.at(level), params)
        data, latents = enc.compress_with_latents(image)
        c = bitstream.unpack(data)
        assert struct.unpack("<d", c.extensions["rate_level"])[0] == level
        _, decoded = decoder.decompress_latents(data)
        for k in ("y", "z", "y_hat"):
            np.testing.assert_array_equal(decoded[k], latents[k])
        x, pads = enc.pad(image)
        want = np.asarray(model.synthesis(params, jnp.asarray(latents["y_hat"]), level))
        want = want[0, pads[0]:pads[0] + image.shape[0], pads[2]:pads[2] + image.shape[1]]
        np.testing.assert_array_equal(decoder.decompress(data),
                                      np.round(np.clip(want, 0, 1) * 255).astype(np.uint8))
        # the coded latent is the gained one: symbols follow g(level) * g_a(x)
        y = np.asarray(model.analysis(params, jnp.asarray(x), level))
        assert np.max(np.abs(latents["y_hat"] - y)) <= 0.5 + 1e-3
        sizes.append(len(data))
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1], sizes


def test_tiled_files_carry_the_level_and_each_tile_decodes_at_it(vr):
    """A tiled variable-rate file records its level beside the tile table; every tile decodes at that level."""
    model, params = vr
    img = (np.random.default_rng(2).random((100, 140, 3)) * 255).astype(np.uint8)
    decoder = Codec(model, params)
    sizes = []
    for level in (0, 1.25):
        enc = Codec(model.at(level), params)
        enc.tile, enc.tile_above = 64, 0
        data = enc.compress(img)
        c = bitstream.unpack(data)
        assert set(c.extensions) == {"tiles", "rate_level"}
        assert struct.unpack("<d", c.extensions["rate_level"])[0] == level
        out = decoder.decompress(data)
        alone = Codec(model.at(level), params)
        alone.tile = 0
        for t, left, th, tw in tiles.read_grid(c, model.stride).boxes():
            crop = img[t:t + th, left:left + tw]
            np.testing.assert_array_equal(out[t:t + th, left:left + tw], alone.decompress(alone.compress(crop)))
        sizes.append(len(data))
    assert sizes[0] < sizes[1], sizes


def test_header_level_checked_before_decoding(vr, image):
    model, params = vr
    codec = Codec(model.at(1), params)
    c = bitstream.unpack(codec.compress(image))
    for value, match in ((struct.pack("<d", 2.5), "outside"), (struct.pack("<d", float("nan")), "outside"),
                         (b"\x00" * 4, "bytes")):
        bad = bitstream.pack(dataclasses.replace(c, extensions={"rate_level": value}))
        with pytest.raises(BitstreamError, match=match) as e:
            codec.decompress(bad)
        assert "\n" not in str(e.value)
    with pytest.raises(BitstreamError, match="no rate level"):
        codec.decompress(bitstream.pack(dataclasses.replace(c, extensions={})))


def test_export_round_trip(vr, tmp_path, image):
    model, params = vr
    save_model(tmp_path / "m", model, params)
    loaded, p2 = load_model(tmp_path / "m")
    assert isinstance(loaded, VariableRateModel) and loaded.lambdas == LAMBDAS
    assert loaded.name == "variable-rate"
    assert Codec(loaded, p2).config_hash == Codec(model, params).config_hash
    enc = Codec(model.at(0.5), params)
    data, latents = enc.compress_with_latents(image)
    np.testing.assert_array_equal(Codec(loaded, p2).decompress_latents(data)[1]["y_hat"], latents["y_hat"])


@pytest.mark.slow
def test_per_example_levels_match_separate_passes(vr, image):
    """One forward pass with a level per example equals separate passes at each level."""
    model, params = vr
    x = jnp.asarray(np.stack([image[:32, :32], image[8:40, 8:40]]).astype(np.float32) / 255)
    both = model.apply(params, x, level=jnp.asarray([0.0, 1.5]))
    for i, level in enumerate((0.0, 1.5)):
        one = model.apply(params, x[i:i + 1], level=level)
        np.testing.assert_allclose(np.asarray(both.x_hat[i]), np.asarray(one.x_hat[0]), atol=1e-5)
        np.testing.assert_allclose(np.asarray(both.likelihoods["y"][i]), np.asarray(one.likelihoods["y"][0]),
                                   rtol=1e-5, atol=1e-7)


@pytest.mark.slow
def test_train_step_draws_levels_and_trains_the_gains(vr):
    from jlic.train.state import create_train_state
    from jlic.train.step import make_train_step
    from jlic.train.variable_rate import eval_lambdas, make_loss_fn

    model, params = vr
    cfg = {"lr": 1e-3, "image_shape": (1, 64, 64, 3)}
    state = create_train_state(model, jax.random.key(0), cfg, params)
    step = jax.jit(make_train_step(model, cfg, make_loss_fn))
    x = jnp.asarray(np.random.default_rng(2).random((4, 32, 32, 3)), jnp.float32)
    new, metrics = step(state, x, jnp.asarray(LAMBDAS), jax.random.key(3))
    assert float(metrics["finite"]) == 1.0 and np.isfinite(float(metrics["loss"]))
    assert float(jnp.max(jnp.abs(new.params[GAIN] - params[GAIN]))) > 0
    # the loss is mean_b(bpp_b + λ_b D_b): with every λ equal it is the fixed-λ loss
    # (jlic.train.step.make_loss_fn) of the model at the levels the variable-rate loss drew
    from jlic.train.step import make_loss_fn as fixed_loss

    lam = 0.004
    vr_l, _ = make_loss_fn(model, aux=False)(params, x, jnp.full((3,), lam), jax.random.key(5))
    level_key, noise_key = jax.random.split(jax.random.key(5))
    idx = jax.random.randint(level_key, (4,), 0, 3).astype(jnp.float32)

    class AtDrawnLevels:
        def apply(self, p, batch, train, rng):
            return model.apply(p, batch, train=train, rng=rng, level=idx)

    fixed_l, _ = fixed_loss(AtDrawnLevels(), aux=False)(params, x, lam, noise_key)
    np.testing.assert_allclose(float(vr_l), float(fixed_l), rtol=1e-5)
    other_l, _ = fixed_loss(AtDrawnLevels(), aux=False)(params, x, 2 * lam, noise_key)
    assert abs(float(other_l) - float(vr_l)) > 1e-3 * abs(float(vr_l))  # the comparison sees λ
    assert list(eval_lambdas(LAMBDAS, 1).values()) == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert list(eval_lambdas(LAMBDAS, 1))[::2] == list(LAMBDAS)
