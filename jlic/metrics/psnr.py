"""PSNR on RGB images, as learned-compression papers and CompressAI report it.

Papers evaluate the *decoded 8-bit image*: the reconstruction is clipped to [0, 1], scaled to 0..255 and
rounded before the error is measured, and PSNR-RGB is ``20 log10(255) - 10 log10(MSE)`` with the MSE taken
over all pixels and the three channels together. ``psnr_8bit`` does exactly that; ``psnr`` is the raw
float variant (no rounding), which is what a training loop sees.

Every function accepts numpy arrays or JAX arrays (and works under ``jax.jit`` / ``jax.grad`` when given
JAX arrays); images are ``(..., H, W, C)`` and the result has the leading batch shape ``(...)``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Array = Any  # np.ndarray | jax.Array


def _xp(*arrays: Array) -> Any:
    """The array namespace to compute in: jax.numpy if any input is a JAX array (or tracer), else numpy."""
    return jnp if any(isinstance(a, jax.Array) for a in arrays) else np


def to_8bit(x: Array) -> Array:
    """Round a [0, 1] float image to the 8-bit grid, returned as floats in 0..255 (clip, scale, round).

    Rounding is half-to-even (numpy and JAX ``round``); values exactly at .5 after scaling do not occur for
    images that came from 8-bit data.
    """
    xp = _xp(x)
    return xp.round(xp.clip(x, 0.0, 1.0) * 255.0)


def mse(x: Array, y: Array) -> Array:
    """Mean squared error over the last three axes (H, W, C)."""
    xp = _xp(x, y)
    d = xp.asarray(x) - xp.asarray(y)
    return xp.mean(d * d, axis=(-3, -2, -1))


def psnr(x: Array, y: Array, data_range: float = 1.0) -> Array:
    """Raw PSNR in dB of float images (no clipping, no rounding): ``10 log10(data_range^2 / MSE)``.

    Identical images give ``inf``.
    """
    xp = _xp(x, y)
    m = mse(x, y)
    with np.errstate(divide="ignore"):
        return 10.0 * xp.log10(data_range**2 / m)


def psnr_8bit(x: Array, x_hat: Array) -> Array:
    """PSNR-RGB in dB of the 8-bit-rounded reconstruction, as papers and CompressAI report it.

    Both ``x`` (the original, in [0, 1]) and ``x_hat`` (the reconstruction, any float range) are clipped to
    [0, 1], rounded to the 8-bit grid, and compared with peak value 255. This is the per-image figure;
    average it over images (not MSEs) to get a dataset PSNR as in CompressAI's ``eval_model``.
    """
    return psnr(to_8bit(x), to_8bit(x_hat), data_range=255.0)
