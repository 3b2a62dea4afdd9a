"""Quantization proxies for training and hard quantization for coding, one pure function per mode.

- `noise`: additive uniform noise U(-1/2, 1/2) (Ballé et al. 2017, arXiv 1611.01704).
- `round_ste`: rounding with a straight-through (identity) gradient (Theis et al. 2017, arXiv 1703.00395).
- `round_offset`: hard rounding around an offset, `round(x - m) + m` (medians / means, as the coders use).
- `soft_round_noise`: soft rounding + noise + conditional mean (Agustsson & Theis 2020, arXiv 2006.09952).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jlic.ops.initializers import uniform
from jlic.ops.soft_round import soft_round, soft_round_conditional_mean

Array = jax.Array

MODES = ("noise", "ste", "round", "soft_round")


def noise(x: Array, key: Array) -> Array:
    """`x + u` with `u ~ U(-1/2, 1/2)`, the continuous relaxation used to train with likelihoods."""
    return x + uniform(key, x.shape, x.dtype, -0.5, 0.5)


def round_offset(x: Array, offset: Array | float = 0.0) -> Array:
    """`round(x - offset) + offset` (round half to even, as numpy and torch)."""
    return jnp.round(x - offset) + offset


def round_ste(x: Array, offset: Array | float = 0.0) -> Array:
    """`round_offset` in the forward pass, identity gradient in the backward pass."""
    return x + jax.lax.stop_gradient(round_offset(x, offset) - x)


def soft_round_noise(x: Array, key: Array, alpha: float | Array) -> Array:
    """Soft-round, add uniform noise, then take the conditional mean (a differentiable quantizer)."""
    y = noise(soft_round(x, alpha), key)
    return soft_round_conditional_mean(y, alpha)


def quantize(x: Array, mode: str, key: Array | None = None, offset: Array | float = 0.0,
             alpha: float | Array = 5.0) -> Array:
    """Quantize `x` with one of `MODES`; `key` is required by the stochastic modes."""
    if mode == "round":
        return round_offset(x, offset)
    if mode == "ste":
        return round_ste(x, offset)
    if key is None:
        raise ValueError(f"quantization mode {mode!r} needs a PRNG key")
    if mode == "noise":
        return noise(x, key)
    if mode == "soft_round":
        return soft_round_noise(x, key, alpha)
    raise ValueError(f"unknown quantization mode {mode!r}; expected one of {MODES}")
