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
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Array = Any  # np.ndarray | jax.Array

MS_SSIM_WEIGHTS: tuple[float, ...] = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def gaussian_window(size: int = 11, sigma: float = 1.5) -> tuple[float, ...]:
    """Normalized 1-D Gaussian window of odd length ``size`` centred on its middle tap (a hashable tuple)."""
    if size % 2 != 1:
        raise ValueError(f"window size must be odd, got {size}")
    t = np.arange(size, dtype=np.float64) - size // 2
    g = np.exp(-(t**2) / (2.0 * sigma**2))
    return tuple(float(v) for v in np.float32(g / g.sum()))


def _slices(x: jax.Array, win: tuple[float, ...]) -> jax.Array:
    """'Valid' correlation of (N, H, W, C) images with ``win`` along H then W, as weighted shifted slices
    (measured faster on CPU than XLA's depthwise convolution, and it fuses under jit)."""
    n = len(win)
    h, w = x.shape[-3], x.shape[-2]
    x = sum(win[k] * x[..., k : h - n + 1 + k, :, :] for k in range(n))
    return sum(win[k] * x[..., :, k : w - n + 1 + k, :] for k in range(n))


@partial(jax.custom_vjp, nondiff_argnums=(1,))
def _filter_valid(x: jax.Array, win: tuple[float, ...]) -> jax.Array:
    """Separable 'valid' filtering; its gradient is the 'full' correlation with the reversed window, written
    by hand because autodiff of the slices compiles ~3x slower and runs ~4x slower on CPU."""
    return _slices(x, win)


def _filter_fwd(x: jax.Array, win: tuple[float, ...]) -> tuple[jax.Array, None]:
    return _slices(x, win), None


def _filter_bwd(win: tuple[float, ...], _: None, g: jax.Array) -> tuple[jax.Array]:
    n = len(win)
    g = jnp.pad(g, [(0, 0)] * (g.ndim - 3) + [(n - 1, n - 1), (n - 1, n - 1), (0, 0)])
    return (_slices(g, win[::-1]),)


_filter_valid.defvjp(_filter_fwd, _filter_bwd)


def _ssim_terms(
    x: jax.Array, y: jax.Array, win: tuple[float, ...], data_range: float | jax.Array, k1: float, k2: float
) -> tuple[jax.Array, jax.Array]:
    """Per-channel mean SSIM and contrast-structure (cs) terms of (N, H, W, C) images, each of shape (N, C)."""
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    c = x.shape[-1]
    # One filtering pass over the five local statistics of every channel together.
    stats = _filter_valid(jnp.concatenate([x, y, x * x, y * y, x * y], axis=-1), win)
    mu_x, mu_y, e_xx, e_yy, e_xy = (stats[..., i * c : (i + 1) * c] for i in range(5))
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    var_x, var_y, cov = e_xx - mu_xx, e_yy - mu_yy, e_xy - mu_xy
    cs_map = (2.0 * cov + c2) / (var_x + var_y + c2)
    ssim_map = (2.0 * mu_xy + c1) / (mu_xx + mu_yy + c1) * cs_map
    return jnp.mean(ssim_map, axis=(-3, -2)), jnp.mean(cs_map, axis=(-3, -2))


_ssim_terms_jit = jax.jit(_ssim_terms, static_argnums=(2, 4, 5))


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


def _check(x: Array, y: Array) -> tuple[jax.Array, jax.Array, tuple[int, ...]]:
    """float32 (N, H, W, C) views of two same-shape (..., H, W, C) image arrays, and the leading shape."""
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    if x.shape != y.shape:
        raise ValueError(f"images must have the same shape, got {x.shape} and {y.shape}")
    if x.ndim < 3:
        raise ValueError(f"images must be (..., H, W, C), got shape {x.shape}")
    lead = x.shape[:-3]
    return x.reshape((-1,) + x.shape[-3:]), y.reshape((-1,) + y.shape[-3:]), lead


def ssim(
    x: Array,
    y: Array,
    data_range: float = 1.0,
    win_size: int = 11,
    sigma: float = 1.5,
    k: tuple[float, float] = (0.01, 0.03),
) -> jax.Array:
    """Single-scale SSIM (Wang et al. 2004) of NHWC images, mean over pixels and channels: shape (...)."""
    x, y, lead = _check(x, y)
    if min(x.shape[-3], x.shape[-2]) < win_size:
        raise ValueError(f"SSIM needs H and W >= win_size={win_size}, got {x.shape[-3:-1]}")
    s, _ = _ssim_terms_jit(x, y, gaussian_window(win_size, sigma), jnp.float32(data_range), *k)
    return jnp.mean(s, axis=-1).reshape(lead)


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

    Differentiable (use ``1 - ms_ssim`` as a distortion) and jit-compiled; ``weights``, the window and ``k``
    are static Python values (a change recompiles), ``data_range`` may be a traced scalar.
    Raises ValueError when the shorter side is too small for the number of scales (see ``min_size``).
    """
    x, y, lead = _check(x, y)
    scales = len(weights)
    need = min_size(win_size, scales)
    if min(x.shape[-3], x.shape[-2]) < need:
        raise ValueError(
            f"MS-SSIM with {scales} scales and window {win_size} needs both sides >= {need} px, got "
            f"{tuple(x.shape[-3:-1])}; crop larger or pass fewer weights (e.g. MS_SSIM_WEIGHTS[:3])"
        )
    win = gaussian_window(win_size, sigma)
    return _ms_ssim(x, y, jnp.float32(data_range), tuple(weights), win, tuple(k)).reshape(lead)


@partial(jax.jit, static_argnums=(3, 4, 5))
def _ms_ssim(
    x: jax.Array,
    y: jax.Array,
    data_range: float | jax.Array,
    weights: tuple[float, ...],
    win: tuple[float, ...],
    k: tuple[float, float],
) -> jax.Array:
    scales = len(weights)
    factors = []
    for level in range(scales):
        s, cs = _ssim_terms(x, y, win, data_range, *k)
        if level < scales - 1:
            factors.append(jax.nn.relu(cs))
            x, y = _avg_pool2(x), _avg_pool2(y)
        else:
            factors.append(jax.nn.relu(s))
    stacked = jnp.stack(factors, axis=0)  # (scales, N, C)
    per_channel = jnp.prod(stacked ** jnp.asarray(weights, jnp.float32)[:, None, None], axis=0)
    return jnp.mean(per_channel, axis=-1)


def ms_ssim_db(value: Array) -> Array:
    """MS-SSIM in dB, ``-10 log10(1 - ms_ssim)``, as RD plots show it."""
    xp = jnp if isinstance(value, jax.Array) else np
    return -10.0 * xp.log10(1.0 - xp.asarray(value))
