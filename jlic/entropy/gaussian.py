"""Conditional Gaussian entropy model with an indexed scale table for coding.

Ballé et al. 2018 (scale hyperprior), arXiv 1802.01436; mean-scale: Minnen et al. 2018, arXiv 1809.02736.
The likelihood of a quantized value is the Gaussian mass of its unit bin, `Phi((1/2 - v)/s) - Phi((-1/2 - v)/s)`
with `v = |y - mean|`, scales lower-bounded at 0.11 and likelihoods at 1e-9 (as in CompressAI/TFC).
For coding, each scale maps to the smallest entry of a fixed log-spaced table that is >= it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import ndtr, ndtri

from jlic.ops.lower_bound import lower_bound

Array = jax.Array

SCALE_MIN = 0.11
SCALE_MAX = 256.0
NUM_SCALES = 64
SCALE_BOUND = 0.11
LIKELIHOOD_BOUND = 1e-9
DEFAULT_TAIL_MASS = 1e-9
SCALE_TABLE = np.exp(np.linspace(np.log(SCALE_MIN), np.log(SCALE_MAX), NUM_SCALES))


def _std_normal_cdf(x: Array) -> Array:
    return 0.5 * jax.scipy.special.erfc(-x * (2.0**-0.5))


def likelihood(y_hat: Array, scale: Array, mean: Array | float = 0.0, scale_bound: float = SCALE_BOUND,
               bound: float = LIKELIHOOD_BOUND) -> Array:
    """Gaussian probability mass of the unit bin centred on `y_hat`."""
    scale = lower_bound(scale, scale_bound)
    v = jnp.abs(y_hat - mean)
    p = _std_normal_cdf((0.5 - v) / scale) - _std_normal_cdf((-0.5 - v) / scale)
    return lower_bound(p, bound)


def scale_index(scale: Array, scale_table: np.ndarray = SCALE_TABLE) -> Array:
    """Index of the smallest table entry >= `scale` (scales clamped to the table's range), int32."""
    table = jnp.asarray(scale_table, jnp.float32)
    idx = jnp.searchsorted(table, jnp.maximum(scale, table[0]), side="left")
    return jnp.minimum(idx, len(scale_table) - 1).astype(jnp.int32)


def pmf_table(scale_table: np.ndarray = SCALE_TABLE, tail_mass: float = DEFAULT_TAIL_MASS
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Probability tables for coding `round(y - mean)` with each table scale, in float64.

    Returns `(pmf (T, L), offset (T,), length (T,))`: the support of scale `s` is `[-c, c]` with
    `c = ceil(s * Phi^-1(1 - tail_mass / 2))`.
    """
    scale_table = np.asarray(scale_table, np.float64)
    multiplier = -ndtri(tail_mass / 2)
    center = np.ceil(scale_table * multiplier).astype(np.int64)
    length = 2 * center + 1
    k = np.arange(int(length.max()))[None, :]
    v = np.abs(k - center[:, None]).astype(np.float64)
    s = scale_table[:, None]
    pmf = ndtr((0.5 - v) / s) - ndtr((-0.5 - v) / s)
    pmf = np.where(k < length[:, None], pmf, 0.0)
    return pmf, (-center).astype(np.int32), length.astype(np.int32)
