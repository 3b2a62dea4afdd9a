"""SSIM and multi-scale SSIM in JAX, usable as a differentiable training loss and as an evaluation metric.

References:
  Wang, Simoncelli, Bovik, "Multiscale structural similarity for image quality assessment", Asilomar 2003
  (MS-SSIM: 5 scales, weights 0.0448, 0.2856, 0.3001, 0.2363, 0.1333).
  Wang, Bovik, Sheikh, Simoncelli, "Image quality assessment: from error visibility to structural
  similarity", IEEE TIP 2004 (SSIM, Gaussian window 11 / sigma 1.5, K1 = 0.01, K2 = 0.03).

Conventions follow ``pytorch_msssim`` (the implementation CompressAI evaluates with), so figures are
comparable with published ``ms-ssim-rgb`` numbers: separable Gaussian filtering with no padding ("valid"),
statistics averaged per channel and then over channels, contrast-structure terms of the first four scales
and the full SSIM of the last scale clipped at 0, and 2x2 average pooling between scales (an odd side is
zero-padded by one pixel on both sides, the zeros counted in the average, as ``avg_pool2d(padding=1)``).

MS-SSIM needs the shorter image side to exceed ``(win_size - 1) * 2 ** (scales - 1)`` (160 px for the
defaults) so the window fits at the coarsest scale; smaller inputs raise ``ValueError``. For small crops,
pass fewer ``weights`` (e.g. ``weights=MS_SSIM_WEIGHTS[:3]``: 3 scales, 41 px minimum) -- a documented choice,
not a silent fallback.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Array = Any  # np.ndarray | jax.Array

MS_SSIM_WEIGHTS: tuple[float, ...] = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """Normalized 1-D Gaussian window of odd length ``size`` centred on its middle tap."""
    if size % 2 != 1:
        raise ValueError(f"window size must be odd, got {size}")
    t = np.arange(size, dtype=np.float64) - size // 2
    g = np.exp(-(t**2) / (2.0 * sigma**2))
    return (g / g.sum()).astype(np.float32)


def _filter_valid(x: jax.Array, win: np.ndarray) -> jax.Array:
    """Separable 'valid' filtering of NHWC images along H then W (a sum of shifted slices; fuses under jit)."""
    n = len(win)
    h, w = x.shape[-3], x.shape[-2]
    x = sum(float(win[k]) * x[..., k : h - n + 1 + k, :, :] for k in range(n))
    return sum(float(win[k]) * x[..., :, k : w - n + 1 + k, :] for k in range(n))


def _ssim_terms(
    x: jax.Array, y: jax.Array, win: np.ndarray, data_range: float, k1: float, k2: float
) -> tuple[jax.Array, jax.Array]:
    """Per-channel mean SSIM and contrast-structure (cs) terms, each of shape (..., C)."""
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    mu_x = _filter_valid(x, win)
    mu_y = _filter_valid(y, win)
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    var_x = _filter_valid(x * x, win) - mu_xx
    var_y = _filter_valid(y * y, win) - mu_yy
    cov = _filter_valid(x * y, win) - mu_xy
    cs_map = (2.0 * cov + c2) / (var_x + var_y + c2)
    ssim_map = (2.0 * mu_xy + c1) / (mu_xx + mu_yy + c1) * cs_map
    return jnp.mean(ssim_map, axis=(-3, -2)), jnp.mean(cs_map, axis=(-3, -2))


def _avg_pool2(x: jax.Array) -> jax.Array:
    """2x2 average pooling with stride 2 over (H, W); an odd side gets one zero each side (pytorch_msssim)."""
    h, w = x.shape[-3], x.shape[-2]
    ph, pw = h % 2, w % 2
    if ph or pw:
        pad = [(0, 0)] * (x.ndim - 3) + [(ph, ph), (pw, pw), (0, 0)]
        x = jnp.pad(x, pad)
    h2, w2 = x.shape[-3] // 2, x.shape[-2] // 2
    x = x[..., : 2 * h2, : 2 * w2, :]
    x = x.reshape(*x.shape[:-3], h2, 2, w2, 2, x.shape[-1])
    return jnp.mean(x, axis=(-4, -2))


def _check(x: Array, y: Array) -> tuple[jax.Array, jax.Array]:
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    if x.shape != y.shape:
        raise ValueError(f"images must have the same shape, got {x.shape} and {y.shape}")
    if x.ndim < 3:
        raise ValueError(f"images must be (..., H, W, C), got shape {x.shape}")
    return x, y


def ssim(
    x: Array,
    y: Array,
    data_range: float = 1.0,
    win_size: int = 11,
    sigma: float = 1.5,
    k: tuple[float, float] = (0.01, 0.03),
) -> jax.Array:
    """Single-scale SSIM (Wang et al. 2004) of NHWC images, mean over pixels and channels: shape (...)."""
    x, y = _check(x, y)
    if min(x.shape[-3], x.shape[-2]) < win_size:
        raise ValueError(f"SSIM needs H and W >= win_size={win_size}, got {x.shape[-3:-1]}")
    s, _ = _ssim_terms(x, y, gaussian_window(win_size, sigma), data_range, *k)
    return jnp.mean(s, axis=-1)


def min_size(win_size: int = 11, scales: int = len(MS_SSIM_WEIGHTS)) -> int:
    """Smallest allowed image side for MS-SSIM: strictly more than ``(win_size - 1) * 2**(scales-1)``."""
    return (win_size - 1) * 2 ** (scales - 1) + 1


def ms_ssim(
    x: Array,
    y: Array,
    data_range: float = 1.0,
    weights: Sequence[float] = MS_SSIM_WEIGHTS,
    win_size: int = 11,
    sigma: float = 1.5,
    k: tuple[float, float] = (0.01, 0.03),
) -> jax.Array:
    """MS-SSIM (Wang et al. 2003) of images ``(..., H, W, C)``; returns one value per image, shape ``(...)``.

    Args:
      x, y: images with values in ``[0, data_range]`` (numpy or JAX; computed in float32).
      data_range: the peak value (1.0 for [0, 1] images, 255 for 8-bit values); MS-SSIM is invariant to
        scaling both images and ``data_range`` together.
      weights: per-scale exponents; their number is the number of scales.
      win_size, sigma: Gaussian window; k: the constants (K1, K2).

    Differentiable (use ``1 - ms_ssim`` as a distortion); jit-compatible (shapes are static).
    Raises ValueError when the shorter side is too small for the number of scales (see ``min_size``).
    """
    x, y = _check(x, y)
    scales = len(weights)
    need = min_size(win_size, scales)
    if min(x.shape[-3], x.shape[-2]) < need:
        raise ValueError(
            f"MS-SSIM with {scales} scales and window {win_size} needs both sides >= {need} px, got "
            f"{tuple(x.shape[-3:-1])}; crop larger or pass fewer weights (e.g. MS_SSIM_WEIGHTS[:3])"
        )
    win = gaussian_window(win_size, sigma)
    w = jnp.asarray(weights, jnp.float32)
    factors = []
    for level in range(scales):
        s, cs = _ssim_terms(x, y, win, data_range, *k)
        if level < scales - 1:
            factors.append(jax.nn.relu(cs))
            x, y = _avg_pool2(x), _avg_pool2(y)
        else:
            factors.append(jax.nn.relu(s))
    stacked = jnp.stack(factors, axis=0)  # (scales, ..., C)
    per_channel = jnp.prod(stacked ** w.reshape((scales,) + (1,) * (stacked.ndim - 1)), axis=0)
    return jnp.mean(per_channel, axis=-1)


def ms_ssim_db(value: Array) -> Array:
    """MS-SSIM in dB, ``-10 log10(1 - ms_ssim)``, as RD plots show it."""
    xp = jnp if isinstance(value, jax.Array) else np
    return -10.0 * xp.log10(1.0 - xp.asarray(value))
