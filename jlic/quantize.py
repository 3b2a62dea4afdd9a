"""Quantization proxies for training and hard quantization for coding, one pure function per mode.

- `noise`: additive uniform noise U(-1/2, 1/2) (Ballé et al. 2017, arXiv 1611.01704); `supplied_noise`
  makes it use given arrays (to train exactly as another implementation).
- `round_ste`: rounding with a straight-through (identity) gradient (Theis et al. 2017, arXiv 1703.00395).
- `round_offset`: hard rounding around an offset, `round(x - m) + m` (medians / means, as the coders use).
- `soft_round_noise`: soft rounding + noise + conditional mean (Agustsson & Theis 2020, arXiv 2006.09952).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping

import jax
import jax.numpy as jnp

from jlic.ops.initializers import uniform
from jlic.ops.soft_round import soft_round, soft_round_conditional_mean

Array = jax.Array

MODES = ("noise", "ste", "round", "soft_round")


_SUPPLIED: contextvars.ContextVar[dict | None] = contextvars.ContextVar("jlic_supplied_noise", default=None)


@contextlib.contextmanager
def supplied_noise(arrays: Mapping[str, Array]) -> Iterator[None]:
    """Use given uniform noise instead of drawing it: inside the context, `noise(x, key)` ignores `key` and
    adds the one array of `arrays` whose shape is `x.shape` (e.g. `{"y": u_y, "z": u_z}`, NHWC).

    This is how a train step is fed the exact noise of another implementation (CompressAI, to check that
    both train alike; `jlic.train.step.make_train_step(...)(..., noise=arrays)`). It acts while the forward
    pass is traced, so it works under `jax.jit`. A noise call whose shape matches no array or several, or
    an array left unused when the context ends, raises `ValueError`: supplied noise is never half-applied.
    """
    state = {"arrays": dict(arrays), "used": set()}
    token = _SUPPLIED.set(state)
    try:
        yield
    finally:
        _SUPPLIED.reset(token)
    unused = sorted(set(state["arrays"]) - state["used"])
    if unused:
        raise ValueError(f"supplied noise {unused} was not used by the model (no latent of that shape)")


def noise(x: Array, key: Array) -> Array:
    """`x + u` with `u ~ U(-1/2, 1/2)`, the continuous relaxation used to train with likelihoods (`u` is the
    array given by `supplied_noise`, if active)."""
    state = _SUPPLIED.get()
    if state is not None:
        names = [k for k, v in state["arrays"].items() if tuple(v.shape) == tuple(x.shape)]
        if len(names) != 1:
            shapes = {k: tuple(v.shape) for k, v in state["arrays"].items()}
            raise ValueError(f"supplied noise: a latent of shape {tuple(x.shape)} matches {len(names)} of "
                             f"{shapes} (need exactly one)")
        state["used"].add(names[0])
        return x + jnp.asarray(state["arrays"][names[0]], x.dtype)
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
