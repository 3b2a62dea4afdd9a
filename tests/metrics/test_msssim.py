"""MS-SSIM against independent implementations: a float64 numpy/scipy formula written here (2-D window,
direct correlation) and pytorch_msssim (what CompressAI reports with) when torch is installed."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.signal import correlate2d
from skimage.metrics import structural_similarity

from jlic.metrics.msssim import MS_SSIM_WEIGHTS, min_size, ms_ssim, ms_ssim_db, ssim

WEIGHTS = np.array([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])


def _ref_ssim_cs(x: np.ndarray, y: np.ndarray, data_range: float) -> tuple[float, float]:
    """Mean SSIM and contrast-structure over pixels then channels, float64, 2-D Gaussian, 'valid' region."""
    t = np.arange(11) - 5.0
    g = np.exp(-(t**2) / (2 * 1.5**2))
    win = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    ssims, css = [], []
    for c in range(x.shape[-1]):
        a, b = x[..., c], y[..., c]

        def f(z):
            return correlate2d(z, win, mode="valid")

        ma, mb = f(a), f(b)
        va, vb, cov = f(a * a) - ma**2, f(b * b) - mb**2, f(a * b) - ma * mb
        cs = (2 * cov + c2) / (va + vb + c2)
        ssims.append(np.mean((2 * ma * mb + c1) / (ma**2 + mb**2 + c1) * cs))
        css.append(np.mean(cs))
    return np.array(ssims), np.array(css)


def _ref_downsample(z: np.ndarray) -> np.ndarray:
    """2x2 mean; an odd side is zero-padded by one on both sides (zeros counted), as avg_pool2d(padding=1)."""
    ph, pw = z.shape[0] % 2, z.shape[1] % 2
    z = np.pad(z, ((ph, ph), (pw, pw), (0, 0)))
    h, w = z.shape[0] // 2 * 2, z.shape[1] // 2 * 2
    z = z[:h, :w]
    return 0.25 * (z[0::2, 0::2] + z[1::2, 0::2] + z[0::2, 1::2] + z[1::2, 1::2])


def _ref_ms_ssim(x: np.ndarray, y: np.ndarray, data_range: float = 1.0) -> float:
    x, y = x.astype(np.float64), y.astype(np.float64)
    per_channel = np.ones(x.shape[-1])
    for level, w in enumerate(WEIGHTS):
        s, cs = _ref_ssim_cs(x, y, data_range)
        if level == len(WEIGHTS) - 1:
            per_channel *= np.maximum(s, 0) ** w
        else:
            per_channel *= np.maximum(cs, 0) ** w
            x, y = _ref_downsample(x), _ref_downsample(y)
    return float(per_channel.mean())


@pytest.mark.parametrize(
    ("index", "h", "w", "quality"),
    [(7, 192, 256, 20), (23, 181, 203, 10)],  # the second one has odd sides at every scale
)
def test_ms_ssim_matches_numpy_reference_on_real_crops(index, h, w, quality, load_rgb8, jpeg_roundtrip):
    x8 = load_rgb8(index, h, w)
    y8 = jpeg_roundtrip(x8, quality)
    ref = _ref_ms_ssim(x8 / 255.0, y8 / 255.0)
    got = float(ms_ssim(x8 / 255.0, y8 / 255.0))
    assert abs(got - ref) < 1e-4, (got, ref)
    # data_range=255 on 0..255 values is the same quantity (CompressAI's convention)
    assert abs(float(ms_ssim(x8.astype(np.float32), y8.astype(np.float32), data_range=255.0)) - ref) < 1e-4


@pytest.mark.peers
def test_ms_ssim_matches_pytorch_msssim(crop_pair, load_rgb8, jpeg_roundtrip):
    torch = pytest.importorskip("torch")
    pytorch_msssim = pytest.importorskip("pytorch_msssim")
    pairs = [crop_pair, (load_rgb8(23, 181, 203), jpeg_roundtrip(load_rgb8(23, 181, 203), 10))]
    for x8, y8 in pairs:
        tx = torch.from_numpy(x8.astype(np.float32)).permute(2, 0, 1)[None]
        ty = torch.from_numpy(y8.astype(np.float32)).permute(2, 0, 1)[None]
        ref = float(pytorch_msssim.ms_ssim(tx, ty, data_range=255, size_average=True))
        got = float(ms_ssim(x8 / 255.0, y8 / 255.0))
        assert abs(got - ref) < 1e-4, (got, ref)


def test_single_scale_ssim_matches_skimage(crop_pair):
    x8, y8 = crop_pair
    ref = structural_similarity(
        x8, y8, data_range=255, channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    got = float(ssim(x8 / 255.0, y8 / 255.0))
    assert abs(got - ref) < 1e-4, (got, ref)


def test_batched_values_equal_per_image_values(crop_pair, jpeg_roundtrip):
    x8, y8 = crop_pair
    z8 = jpeg_roundtrip(x8, 70)
    batch = ms_ssim(np.stack([x8, x8]) / 255.0, np.stack([y8, z8]) / 255.0)
    assert batch.shape == (2,)
    singles = [ms_ssim(x8 / 255.0, y8 / 255.0), ms_ssim(x8 / 255.0, z8 / 255.0)]
    np.testing.assert_allclose(np.asarray(batch), singles, atol=1e-6)
    assert float(batch[1]) > float(batch[0])  # q70 is closer to the original than q20
    np.testing.assert_allclose(float(ms_ssim(x8 / 255.0, x8 / 255.0)), 1.0, atol=1e-6)


def test_gradient_is_finite_and_a_step_along_it_improves_ms_ssim(crop_pair):
    x8, y8 = crop_pair
    x = jnp.asarray(x8[None] / 255.0, jnp.float32)
    y = jnp.asarray(y8[None] / 255.0, jnp.float32)

    def loss(z):
        return 1.0 - ms_ssim(x, z).mean()

    value, grad = jax.jit(jax.value_and_grad(loss))(y)
    grad = np.asarray(grad)
    assert np.all(np.isfinite(grad)) and np.abs(grad).max() > 0
    stepped = y - 1e-3 * grad / np.abs(grad).max()
    assert float(loss(stepped)) < float(value)


def test_too_small_images_raise_a_clear_error_and_fewer_scales_work(load_rgb8, jpeg_roundtrip):
    assert min_size() == 161
    x = np.zeros((1, 160, 300, 3), np.float32)
    with pytest.raises(ValueError, match="161"):
        ms_ssim(x, x)
    small = load_rgb8(3, 64, 64) / 255.0
    assert min_size(scales=3) == 41
    val = float(ms_ssim(small, jpeg_roundtrip(load_rgb8(3, 64, 64), 30) / 255.0, weights=MS_SSIM_WEIGHTS[:3]))
    assert 0.5 < val < 1.0
    with pytest.raises(ValueError, match="same shape"):
        ms_ssim(np.zeros((200, 200, 3)), np.zeros((200, 201, 3)))


def test_ms_ssim_db():
    np.testing.assert_allclose(ms_ssim_db(np.array([0.9, 0.99])), [10.0, 20.0], rtol=1e-9)
