"""Conditional Laplace density of integer values, and its probability tables for coding.

The entropy model of overfitted codecs: Cool-chic (Ladune et al. 2023, arXiv 2212.05458) and C3 (Kim et al.
2024, arXiv 2312.02753) let a small autoregressive network predict a mean and a scale per latent, and the
latent's probability is the Laplace mass of its unit bin, `F(y + 1/2) - F(y - 1/2)`.

For coding, a mean is split into `round(mean)` (subtracted from the symbol) and its fractional part in
`[-1/2, 1/2)`, which is quantized to one of `num_fracs` bins; the scale is quantized to a log-spaced table. Each
(scale, fraction) pair is one row of a probability table over the same support `[-support, support]`, so that
all rows have one length. This module imports no coder; `jlic.entropy.cdf.from_pmf` turns the rows into CDFs.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

LIKELIHOOD_BOUND = 1e-9
SCALE_MIN = 0.02
SCALE_MAX = 40.0
NUM_SCALES = 64
NUM_FRACS = 8


def log_scale_table(scale_min: float = SCALE_MIN, scale_max: float = SCALE_MAX,
                    num_scales: int = NUM_SCALES) -> np.ndarray:
    """Natural logs of the table scales, evenly spaced (float64)."""
    return np.linspace(math.log(scale_min), math.log(scale_max), num_scales)


def likelihood(y: Array, mean: Array, scale: Array, bound: float = LIKELIHOOD_BOUND) -> Array:
    """Laplace(mean, scale) probability mass of the unit bin centred on `y` (differentiable, stable).

    With `v = |y - mean|`: `1 - exp(-1/(2b)) cosh(v/b)` inside the central bin (`v < 1/2`), else
    `exp(-(v - 1/2)/b) (1 - exp(-1/b)) / 2`.
    """
    v = jnp.abs(y - mean)
    inv = 1.0 / scale
    inner = -jnp.expm1(-0.5 * inv) - jnp.exp(-0.5 * inv) * (jnp.cosh(jnp.minimum(v, 0.5) * inv) - 1.0)
    outer = 0.5 * jnp.exp(-jnp.maximum(v - 0.5, 0.0) * inv) * (-jnp.expm1(-inv))
    p = jnp.where(v < 0.5, inner, outer)
    return jnp.maximum(p, bound)


def pmf_table(log_scales: np.ndarray, num_fracs: int = NUM_FRACS, support: int = 62) -> np.ndarray:
    """Probabilities `(S * F, 2 * support + 1)` of `k = y - round(mean)` in `[-support, support]`, float64.

    Row `s * F + f` is the Laplace with scale `exp(log_scales[s])` and mean `(f + 1/2) / F - 1/2` (the centre
    of fraction bin `f`); mass beyond the support is left out (the coder gives it to its escape symbol).
    """
    scales = np.exp(np.asarray(log_scales, np.float64))
    fracs = (np.arange(num_fracs) + 0.5) / num_fracs - 0.5
    k = np.arange(-support, support + 1, dtype=np.float64)
    b = np.repeat(scales, num_fracs)[:, None]
    mu = np.tile(fracs, len(scales))[:, None]

    def cdf(z: np.ndarray) -> np.ndarray:
        return np.where(z < 0, 0.5 * np.exp(np.minimum(z, 0) / b), 1.0 - 0.5 * np.exp(-np.maximum(z, 0) / b))

    return np.maximum(cdf(k + 0.5 - mu) - cdf(k - 0.5 - mu), 0.0)


def table_row(mean_frac_bin: np.ndarray, scale_bin: np.ndarray, num_fracs: int = NUM_FRACS) -> np.ndarray:
    """Row index of `pmf_table` for a scale bin and a fraction bin."""
    return scale_bin * num_fracs + mean_frac_bin
