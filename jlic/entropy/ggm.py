"""Conditional generalized Gaussian density (shape ``beta``) of integer values, and its coding tables.

The entropy model of HPCM (Li et al. 2025, arXiv 2507.19125; official code lyq133/LIC-HPCM, ``GGM``): the
density ``beta / (2 s Gamma(1/beta)) exp(-|x/s|**beta)`` with ``beta = 1.5`` (``beta = 2`` is a Gaussian of
variance ``s**2 / 2``, ``beta = 1`` a Laplace). The likelihood of a quantized value is the mass of its unit
bin, ``F((v + 1/2)/s) - F((v - 1/2)/s)`` with ``v = y - mean`` and the standardized CDF
``F(x) = (1 + sign(x) P(1/beta, |x|**beta)) / 2`` (``P`` the regularized lower incomplete gamma function),
written on signed ``v`` as the official code does (so likelihoods match it to float rounding); scales are
lower-bounded at 0.12 and likelihoods at 1e-9. The CDF's derivative is the density itself (a custom JVP:
``P``'s own derivative is infinite at 0 for ``beta > 1``).

For coding, scales map to the smallest entry of a log-spaced table (0.12 to 64, 60 entries: the official
``get_scale_table(0.12, 64, 60)``) that is >= them, and each table scale has a probability row over
``[-c, c]``, ``c = ceil(s * F^-1(1 - tail_mass / 2))``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from scipy import special, stats

from jlic.ops.lower_bound import lower_bound

Array = jax.Array

BETA = 1.5
SCALE_BOUND = 0.12
LIKELIHOOD_BOUND = 1e-9
TAIL_MASS = 1e-6
SCALE_TABLE = np.exp(np.linspace(np.log(0.12), np.log(64.0), 60))


@jax.custom_jvp
def standardized_cdf(x: Array, beta: float) -> Array:
    """``F(x) = (1 + sign(x) P(1/beta, |x|**beta)) / 2``."""
    return 0.5 * (1.0 + jnp.sign(x) * jax.scipy.special.gammainc(1.0 / beta, jnp.abs(x) ** beta))


@standardized_cdf.defjvp
def _cdf_jvp(primals, tangents):
    x, beta = primals
    dx, _ = tangents
    pdf = jnp.exp(-jnp.abs(x) ** beta - jax.scipy.special.gammaln(1.0 / beta)) * (beta / 2.0)
    return standardized_cdf(x, beta), pdf * dx


def likelihood(y: Array, scale: Array, mean: Array | float = 0.0, beta: float = BETA,
               scale_bound: float = SCALE_BOUND, bound: float = LIKELIHOOD_BOUND) -> Array:
    """Generalized-Gaussian mass of the unit bin centred on ``y`` (see the module docstring)."""
    scale = lower_bound(scale, scale_bound)
    v = y - mean
    p = standardized_cdf((v + 0.5) / scale, beta) - standardized_cdf((v - 0.5) / scale, beta)
    return lower_bound(p, bound)


def pmf_table(scale_table: np.ndarray = SCALE_TABLE, beta: float = BETA, tail_mass: float = TAIL_MASS
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Probability rows for coding ``round(y - mean)`` with each table scale, float64.

    Returns ``(pmf (T, L), offset (T,), length (T,))`` as :func:`jlic.entropy.gaussian.pmf_table`.
    """
    scale_table = np.maximum(np.asarray(scale_table, np.float64), SCALE_BOUND)
    multiplier = -stats.gennorm.ppf(tail_mass / 2, beta)
    center = np.ceil(scale_table * multiplier).astype(np.int64)
    length = 2 * center + 1
    k = np.arange(int(length.max()))[None, :]
    v = (k - center[:, None]).astype(np.float64)
    s = scale_table[:, None]

    def cdf(x: np.ndarray) -> np.ndarray:
        return 0.5 * (1.0 + np.sign(x) * special.gammainc(1.0 / beta, np.abs(x) ** beta))

    pmf = cdf((v + 0.5) / s) - cdf((v - 0.5) / s)
    pmf = np.where(k < length[:, None], np.maximum(pmf, 0.0), 0.0)
    return pmf, (-center).astype(np.int32), length.astype(np.int32)
