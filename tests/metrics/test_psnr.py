from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio

from jlic.metrics.psnr import mse, psnr, psnr_8bit, to_8bit


def test_psnr_8bit_matches_skimage_on_real_images(crop_pair):
    x8, y8 = crop_pair
    ref = peak_signal_noise_ratio(x8, y8, data_range=255)
    got = psnr_8bit(x8 / 255.0, y8 / 255.0)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6)
    # The same figure computed in JAX (float32) agrees to float32 precision.
    got_jax = psnr_8bit(jnp.asarray(x8 / 255.0, jnp.float32), jnp.asarray(y8 / 255.0, jnp.float32))
    np.testing.assert_allclose(np.asarray(got_jax), ref, atol=1e-4)


def test_psnr_8bit_rounds_and_clips_the_reconstruction(crop_pair):
    x8, _ = crop_pair
    x = x8 / 255.0
    rng = np.random.default_rng(0)
    y = x + rng.normal(0, 0.02, x.shape)  # float reconstruction, partly outside [0, 1]
    y8 = np.round(np.clip(y, 0, 1) * 255)
    expected = 10 * np.log10(255.0**2 / np.mean((x8.astype(np.float64) - y8) ** 2))
    np.testing.assert_allclose(psnr_8bit(x, y), expected, atol=1e-9)
    assert abs(psnr(x, y) - expected) > 1e-3  # the raw float variant differs (no rounding, no clipping)


def test_batch_shape_and_per_image_values(crop_pair):
    x8, y8 = crop_pair
    xb = np.stack([x8, x8]) / 255.0
    yb = np.stack([y8, x8]) / 255.0
    out = psnr_8bit(xb, yb)
    assert out.shape == (2,)
    np.testing.assert_allclose(out[0], psnr_8bit(x8 / 255.0, y8 / 255.0))
    assert np.isinf(out[1])


def test_raw_psnr_data_range_and_mse():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(2, 8, 8, 3))
    y = x + 0.01
    np.testing.assert_allclose(mse(x, y), [1e-4, 1e-4], rtol=1e-9)
    np.testing.assert_allclose(psnr(x, y), [40.0, 40.0], rtol=1e-9)
    np.testing.assert_allclose(psnr(255 * x, 255 * y, data_range=255.0), [40.0, 40.0], rtol=1e-9)


def test_to_8bit_grid():
    x = np.array([-0.1, 0.0, 0.5 / 255, 1.4 / 255, 0.999, 1.2])
    np.testing.assert_array_equal(to_8bit(x), [0, 0, 0, 1, 255, 255])


def test_float_psnr_is_jittable_and_differentiable():
    rng = np.random.default_rng(2)
    x = jnp.asarray(rng.uniform(size=(1, 16, 16, 3)), jnp.float32)
    y = x + 0.05
    val = jax.jit(psnr)(x, y)
    np.testing.assert_allclose(np.asarray(val), 10 * np.log10(1 / 0.0025), rtol=1e-4)
    g = jax.grad(lambda z: psnr(x, z).sum())(y)
    assert np.all(np.isfinite(np.asarray(g)))
    assert np.all(np.asarray(g) < 0)  # moving y further above x lowers PSNR


@pytest.mark.parametrize("shape", [(4, 4, 3), (2, 3, 4, 4, 3)])
def test_leading_axes_are_kept(shape):
    x = np.zeros(shape)
    assert psnr_8bit(x, x + 0.1).shape == shape[:-3]
