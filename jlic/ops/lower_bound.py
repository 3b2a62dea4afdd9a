"""Lower bound with a gradient that lets optimization move values back above the bound.

Ballé et al. 2016, "End-to-end optimized image compression", arXiv 1611.01704 (GDN reparametrization).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


@jax.custom_vjp
def lower_bound(x: Array, bound: float | Array) -> Array:
    """`max(x, bound)`; the gradient passes where `x >= bound` or where it would push `x` upward."""
    return jnp.maximum(x, bound)


def _fwd(x, bound):
    return jnp.maximum(x, bound), (x, bound)


def _bwd(res, g):
    x, bound = res
    pass_through = (x >= bound) | (g < 0)
    return jnp.where(pass_through, g, jnp.zeros_like(g)), jnp.zeros_like(jnp.asarray(bound, dtype=g.dtype))


lower_bound.defvjp(_fwd, _bwd)


def lower_bound_identity(x: Array, bound: float | Array) -> Array:
    """`max(x, bound)` with an identity (straight-through) gradient everywhere."""
    return x + jax.lax.stop_gradient(jnp.maximum(x, bound) - x)
