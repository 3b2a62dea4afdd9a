"""Discretized Gaussian mixture likelihood (Cheng, Sun, Takeuchi, Katto 2020, "Learned image compression with
discretized Gaussian mixture likelihoods and attention modules", arXiv 2001.01568).

Each latent element has K components with weights `w_k` (softmax over K), means `mu_k` and scales `s_k`
(lower-bounded at 0.11, as the single Gaussian); the probability of the integer bin centred on `y_hat` is
`sum_k w_k [Phi((y_hat + 1/2 - mu_k)/s_k) - Phi((y_hat - 1/2 - mu_k)/s_k)]`, lower-bounded at 1e-9.
The entropy-parameter network outputs `3*K*M` channels, laid out `(means, scales, weight logits)`, each
`(..., M, K)` after :func:`split_params`.

For coding, :func:`quantize_params` maps the parameters to integers (weights to counts summing to
`2**WEIGHT_BITS`, means to a `1/MEAN_STEPS` grid, scales to the index of the Gaussian scale table), from which
:func:`integer_pmf` builds every symbol's probability table with integer arithmetic only, from one fixed table
of integer component masses (:func:`component_table`, built once). Encoder and decoder that obtain the same
integer parameters therefore get the same tables on any platform.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import ndtr

from jlic.entropy import gaussian
from jlic.ops.lower_bound import lower_bound

Array = jax.Array

K_DEFAULT = 3
WEIGHT_BITS = 8  # mixture weights as counts summing to 2**8
MEAN_STEPS = 8  # component means on a 1/8 grid
COMPONENT_BITS = 24  # component masses as counts summing to at most 2**24
TAIL = 8.0  # component support: |v - mu| <= TAIL * scale (mass beyond is < 1e-15)


def split_params(p: Array, k: int = K_DEFAULT) -> tuple[Array, Array, Array]:
    """`(..., 3*K*M)` -> means, scales, weight logits, each `(..., M, K)`."""
    m = p.shape[-1] // (3 * k)
    means, scales, logits = jnp.split(p, 3, axis=-1)
    shape = (*p.shape[:-1], m, k)
    return means.reshape(shape), scales.reshape(shape), logits.reshape(shape)


def likelihood(y_hat: Array, means: Array, scales: Array, logits: Array,
               scale_bound: float = gaussian.SCALE_BOUND, bound: float = gaussian.LIKELIHOOD_BOUND) -> Array:
    """Mixture mass of the unit bin around `y_hat` (..., M); component params (..., M, K)."""
    scales = lower_bound(scales, scale_bound)
    w = jax.nn.softmax(logits, axis=-1)
    v = y_hat[..., None] - means
    upper = 0.5 * jax.scipy.special.erfc(-(v + 0.5) / scales * 2**-0.5)
    lower = 0.5 * jax.scipy.special.erfc(-(v - 0.5) / scales * 2**-0.5)
    return lower_bound(jnp.sum(w * (upper - lower), axis=-1), bound)


def quantize_params(means: Array, scales: Array, logits: Array,
                    scale_table: np.ndarray = gaussian.SCALE_TABLE) -> tuple[Array, Array, Array]:
    """Integer mixture parameters: means in 1/MEAN_STEPS units (int32), scale indexes, weight counts.

    Weight counts are `>= 1` and sum to `2**WEIGHT_BITS` exactly (the remainder goes to the largest weight).
    """
    mq = jnp.round(means * MEAN_STEPS).astype(jnp.int32)
    sidx = gaussian.scale_index(scales, scale_table)
    w = jax.nn.softmax(logits, axis=-1)
    k = w.shape[-1]
    free = 2**WEIGHT_BITS - k
    counts = 1 + jnp.floor(w * free).astype(jnp.int32)
    top = jax.nn.one_hot(jnp.argmax(w, axis=-1), k, dtype=jnp.int32)
    counts = counts + top * (2**WEIGHT_BITS - counts.sum(-1, keepdims=True))
    return mq, sidx, counts


@functools.cache
def component_table(scale_table: tuple[float, ...] = tuple(gaussian.SCALE_TABLE)) -> tuple[np.ndarray, int]:
    """Integer masses `T[s, f, j]` (int64) of the bin `r + j - R` for a component of scale `scale_table[s]`
    whose mean is `r + f / MEAN_STEPS` (r integer), and the radius R. Built once, in float64 then floored."""
    st = np.asarray(scale_table, np.float64)
    radius = int(np.ceil(TAIL * st.max())) + 1
    j = np.arange(-radius, radius + 1, dtype=np.float64)
    f = np.arange(MEAN_STEPS, dtype=np.float64) / MEAN_STEPS
    v = j[None, None, :] - f[None, :, None]  # bin centre minus mean
    s = st[:, None, None]
    mass = ndtr((v + 0.5) / s) - ndtr((v - 0.5) / s)
    return np.floor(mass * 2**COMPONENT_BITS).astype(np.int64), radius


def support(mq: np.ndarray, sidx: np.ndarray, scale_table: np.ndarray = gaussian.SCALE_TABLE
            ) -> tuple[np.ndarray, np.ndarray]:
    """Integer window `[lo, lo + width)` per element (..., M) covering every component's `TAIL` range."""
    st = np.asarray(scale_table, np.float64)
    reach = np.ceil(TAIL * st[sidx]).astype(np.int64)  # (..., K)
    mean_floor = np.floor_divide(mq, MEAN_STEPS).astype(np.int64)
    lo = (mean_floor - reach).min(-1)
    hi = (mean_floor + 1 + reach).max(-1)
    return lo, hi - lo + 1


def integer_pmf(mq: np.ndarray, sidx: np.ndarray, counts: np.ndarray, lo: np.ndarray, width: int,
                scale_table: np.ndarray = gaussian.SCALE_TABLE) -> np.ndarray:
    """Integer masses (n, width) of symbols `lo + i`, for n elements with integer params (n, K)."""
    table, radius = component_table(tuple(np.asarray(scale_table, np.float64)))
    mean_floor = np.floor_divide(mq, MEAN_STEPS).astype(np.int64)
    frac = (mq - mean_floor * MEAN_STEPS).astype(np.int64)
    out = np.zeros((mq.shape[0], width), np.int64)
    i = np.arange(width)[None, :]
    for k in range(mq.shape[1]):
        j = lo[:, None] + i - mean_floor[:, k:k + 1] + radius  # column of the component table
        ok = (j >= 0) & (j <= 2 * radius)
        vals = table[sidx[:, k:k + 1], frac[:, k:k + 1], np.clip(j, 0, 2 * radius)]
        out += counts[:, k:k + 1].astype(np.int64) * np.where(ok, vals, 0)
    return out
