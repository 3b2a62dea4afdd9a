"""Soft rounding, its inverse and conditional mean.

Agustsson & Theis 2020, "Universally quantized neural compression", arXiv 2006.09952.
`s_a(x) = m + tanh(a r) / (2 tanh(a / 2))` with `m = floor(x) + 1/2`, `r = x - m`; `a -> 0` is the identity and
`a -> inf` is rounding.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def soft_round(x: Array, alpha: float | Array, eps: float = 1e-3) -> Array:
    """Differentiable approximation of `round(x)`; falls back to the identity for `alpha < eps`."""
    alpha = jnp.asarray(alpha, dtype=x.dtype)
    safe = jnp.maximum(alpha, eps)
    m = jnp.floor(x) + 0.5
    r = x - m
    y = m + jnp.tanh(safe * r) / (2.0 * jnp.tanh(safe / 2.0))
    return jnp.where(alpha < eps, x, y)


def soft_round_inverse(y: Array, alpha: float | Array, eps: float = 1e-3) -> Array:
    """Inverse of `soft_round`."""
    alpha = jnp.asarray(alpha, dtype=y.dtype)
    safe = jnp.maximum(alpha, eps)
    m = jnp.floor(y) + 0.5
    t = jnp.clip(2.0 * (y - m) * jnp.tanh(safe / 2.0), -1.0 + 1e-7, 1.0 - 1e-7)
    x = m + jnp.arctanh(t) / safe
    return jnp.where(alpha < eps, y, x)


def soft_round_conditional_mean(y: Array, alpha: float | Array) -> Array:
    """E[x | s_a(x) + u = y] for uniform noise u: the best reconstruction of noisy soft-rounded values."""
    return soft_round_inverse(y - 0.5, alpha) + 0.5
