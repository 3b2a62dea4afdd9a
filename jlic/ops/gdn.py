"""Generalized divisive normalization (GDN) and its inverse (IGDN).

Ballé, Laparra, Simoncelli 2016, "Density modeling of images using a generalized normalization
transformation", arXiv 1511.06281; reparametrization from Ballé 2018, arXiv 1802.01436.
`y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2)`; IGDN multiplies instead of dividing.
beta and gamma are stored reparametrized (`value = max(p, bound)^2 - pedestal`), as in CompressAI and
tensorflow-compression, so their weights import unchanged.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jlic.ops.lower_bound import lower_bound

Array = jax.Array

PEDESTAL = 2.0**-36
REPARAM_OFFSET = 2.0**-18
BETA_MIN = 1e-6
GAMMA_INIT = 0.1


def nonneg_param_to_value(p: Array, minimum: float = 0.0) -> Array:
    """Map a stored (reparametrized) parameter to its non-negative value `max(p, bound)^2 - pedestal`."""
    bound = (minimum + PEDESTAL) ** 0.5
    return lower_bound(p, bound) ** 2 - PEDESTAL


def nonneg_value_to_param(v: Array) -> Array:
    """Inverse of `nonneg_param_to_value` (for initialization and weight import)."""
    return jnp.sqrt(jnp.maximum(v + PEDESTAL, PEDESTAL))


def gdn(x: Array, beta: Array, gamma: Array, inverse: bool = False) -> Array:
    """GDN/IGDN on NHWC `x` with effective (non-reparametrized) `beta` (C,) and `gamma` (C_out, C_in)."""
    # A 2-D matmul: the gradient of gamma then is a 2-D dot too; as an einsum over "..." XLA:CPU lowered
    # it ~2.6x slower (a dot contracting several leading axes).
    c = x.shape[-1]
    norm = ((x * x).reshape(-1, c) @ gamma.T).reshape(x.shape) + beta
    return x * jnp.sqrt(norm) if inverse else x * jax.lax.rsqrt(norm)


class GDN(nn.Module):
    """GDN layer (or IGDN with `inverse=True`) with reparametrized `beta` and `gamma` parameters."""

    inverse: bool = False

    @nn.compact
    def __call__(self, x: Array) -> Array:
        c = x.shape[-1]
        beta_p = self.param("beta", lambda key, s: nonneg_value_to_param(jnp.ones(s)), (c,))
        gamma_p = self.param("gamma", lambda key, s: nonneg_value_to_param(GAMMA_INIT * jnp.eye(s[0])), (c, c))
        beta = nonneg_param_to_value(beta_p, BETA_MIN)
        gamma = nonneg_param_to_value(gamma_p, 0.0)
        return gdn(x, beta.astype(x.dtype), gamma.astype(x.dtype), self.inverse)
