"""Training-time quantization of overfitted latents: soft rounding with annealed temperature and noise.

Cool-chic (Leguay et al. 2023, arXiv 2307.12706) quantizes latents in training as `s(s(y, T) + u, T)` with the
soft-round `s` of Agustsson & Theis (arXiv 2006.09952, `jlic.ops.soft_round`, `alpha = 1 / T`) and noise `u`
drawn from a Kumaraswamy distribution shifted to [-1/2, 1/2]; its recipe anneals `T` from 0.3 to 0.1 and the
Kumaraswamy parameter `a` from 2 (noise concentrated near 0) to 1 (uniform noise). The last phase uses hard
rounding with a straight-through gradient (`jlic.quantize.round_ste`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jlic.ops.soft_round import soft_round

Array = jax.Array


def kumaraswamy_noise(key: Array, shape: tuple[int, ...], a: float | Array) -> Array:
    """Noise in [-1/2, 1/2] from Kumaraswamy(a, b) with `b = (2^a (a - 1) + 1) / a` (mode 1/2 for a > 1;
    `a = 1` is uniform), sampled by inverting its CDF `1 - (1 - x^a)^b`."""
    a = jnp.asarray(a, jnp.float32)
    b = (2.0**a * (a - 1.0) + 1.0) / a
    u = jax.random.uniform(key, shape, jnp.float32, 1e-6, 1.0 - 1e-6)
    return (1.0 - (1.0 - u) ** (1.0 / b)) ** (1.0 / a) - 0.5


def soft_round_noisy(y: Array, key: Array, temperature: float | Array, a: float | Array) -> Array:
    """`s(s(y, T) + u, T)` with Kumaraswamy noise `u` of parameter `a`."""
    alpha = 1.0 / jnp.asarray(temperature, jnp.float32)
    return soft_round(soft_round(y, alpha) + kumaraswamy_noise(key, y.shape, a), alpha)


def anneal(start: float, end: float, t: float | Array) -> Array:
    """Linear interpolation from `start` (t = 0) to `end` (t = 1)."""
    return start + (end - start) * jnp.clip(jnp.asarray(t, jnp.float32), 0.0, 1.0)
