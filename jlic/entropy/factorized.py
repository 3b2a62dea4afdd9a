"""Non-parametric factorized density ("entropy bottleneck"), one density per channel.

Ballé, Minnen, Singh, Hwang, Johnston 2018, "Variational image compression with a scale hyperprior",
arXiv 1802.01436, appendix 6.1. The cumulative is `c(x) = sigmoid(f(x))` with
`f = f_K o ... o f_1`, `f_k(x) = g_k(softplus(H_k) x + b_k)`, `g_k(x) = x + tanh(a_k) * tanh(x)` (not on the
last layer). Parameters are a plain dict (shapes follow CompressAI's `EntropyBottleneck`, which defaults to
`filters=(3, 3, 3, 3)`; tensorflow-compression uses `(3, 3, 3)`):

- `matrix_k`: (C, F[k+1], F[k]),  `bias_k`: (C, F[k+1]),  `factor_k`: (C, F[k+1]) for k < K-1,
- `quantiles`: (C, 3), the lower tail, median and upper tail, fitted by `quantile_loss`.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jlic.ops.initializers import uniform
from jlic.ops.lower_bound import lower_bound

Array = jax.Array
Params = dict[str, Array]

LIKELIHOOD_BOUND = 1e-9
DEFAULT_TAIL_MASS = 1e-9


def num_layers(params: Params) -> int:
    return sum(1 for k in params if k.startswith("matrix_"))


def init(key: Array, channels: int, filters: tuple[int, ...] = (3, 3, 3, 3), init_scale: float = 10.0,
         tail_mass: float = DEFAULT_TAIL_MASS) -> Params:
    """Initialize as CompressAI/TFC do: constant matrices, U(-1/2, 1/2) biases, zero factors."""
    f = (1, *filters, 1)
    scale = init_scale ** (1.0 / (len(filters) + 1))
    params: Params = {}
    keys = jax.random.split(key, len(filters) + 1)
    for k in range(len(filters) + 1):
        v = math.log(math.expm1(1.0 / scale / f[k + 1]))
        params[f"matrix_{k}"] = jnp.full((channels, f[k + 1], f[k]), v, jnp.float32)
        params[f"bias_{k}"] = uniform(keys[k], (channels, f[k + 1]), jnp.float32, -0.5, 0.5)
        if k < len(filters):
            params[f"factor_{k}"] = jnp.zeros((channels, f[k + 1]), jnp.float32)
    t = init_scale
    params["quantiles"] = jnp.tile(jnp.array([[-t, 0.0, t]], jnp.float32), (channels, 1))
    del tail_mass
    return params


def logits_cumulative(params: Params, x: Array, stop_gradient: bool = False) -> Array:
    """`f(x)` for `x` of shape (..., C): the logit of the cumulative distribution of each channel."""
    sg = jax.lax.stop_gradient if stop_gradient else (lambda a: a)
    h = x[..., None].astype(jnp.float32)  # (..., C, 1)
    for k in range(num_layers(params)):
        m = jax.nn.softplus(sg(params[f"matrix_{k}"]))  # (C, out, in)
        h = jnp.einsum("...ci,coi->...co", h, m) + sg(params[f"bias_{k}"])
        if f"factor_{k}" in params:
            h = h + jnp.tanh(sg(params[f"factor_{k}"])) * jnp.tanh(h)
    return h[..., 0]


def likelihood(params: Params, x: Array, bound: float = LIKELIHOOD_BOUND, step: Array | float = 1.0) -> Array:
    """P(x - step/2 < X < x + step/2) per element of `x` (..., C), lower-bounded at `bound`.

    `step` (default 1): the quantization step of `x`, e.g. the per-level step of a variable-rate hyperprior
    (Kamisli et al. 2024, arXiv 2402.18930).

    Uses the sign flip of tensorflow-compression (`|sigmoid(s*u) - sigmoid(s*l)|`, `s = -sign(l + u)`), which
    keeps precision in the upper tail.
    """
    half = 0.5 if isinstance(step, (int, float)) and step == 1.0 else 0.5 * step
    lower = logits_cumulative(params, x - half)
    upper = logits_cumulative(params, x + half)
    sign = jax.lax.stop_gradient(-jnp.sign(lower + upper))
    p = jnp.abs(jax.nn.sigmoid(sign * upper) - jax.nn.sigmoid(sign * lower))
    return lower_bound(p, bound)


def medians(params: Params) -> Array:
    """Per-channel medians (the quantization offsets used in evaluation and coding)."""
    return params["quantiles"][:, 1]


def quantile_loss(params: Params, tail_mass: float = DEFAULT_TAIL_MASS) -> Array:
    """Auxiliary loss that moves `quantiles` to the tail-mass/2, 1/2 and 1 - tail-mass/2 points.

    Only `quantiles` receive gradient; the density is held fixed.
    """
    t = math.log(2.0 / tail_mass - 1.0)
    target = jnp.array([-t, 0.0, t], jnp.float32)
    logits = logits_cumulative(params, params["quantiles"].T, stop_gradient=True).T  # (C, 3)
    return jnp.sum(jnp.abs(logits - target))


def bisect_quantiles(params: Params, tail_mass: float = DEFAULT_TAIL_MASS, radius: float = 1e5,
                     iters: int = 64) -> np.ndarray:
    """The (C, 3) quantiles found by bisection of the cumulative, independent of the aux-loss progress."""
    t = math.log(2.0 / tail_mass - 1.0)
    target = jnp.array([-t, 0.0, t], jnp.float32)
    c = params["quantiles"].shape[0]

    @jax.jit
    def run(params):
        lo = jnp.full((3, c), -radius, jnp.float32)
        hi = jnp.full((3, c), radius, jnp.float32)

        def body(_, bounds):
            lo, hi = bounds
            mid = 0.5 * (lo + hi)
            above = logits_cumulative(params, mid) > target[:, None]
            return jnp.where(above, lo, mid), jnp.where(above, mid, hi)

        lo, hi = jax.lax.fori_loop(0, iters, body, (lo, hi))
        return 0.5 * (lo + hi)

    return np.asarray(run(params)).T


def pmf_table(params: Params, tail_mass: float = DEFAULT_TAIL_MASS, step: float = 1.0
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Probability tables for coding `round((z - median) / step)` per channel (`step` 1 unless a variable-rate
    model quantizes z with a coarser step, arXiv 2402.18930).

    Returns `(pmf (C, L) float64, offset (C,) int32, length (C,) int32)`; row `c` holds
    P(symbol = offset[c] + k) for k < length[c] and zeros beyond. The support spans the tail-mass quantiles
    (found by bisection, so tables are right even if the auxiliary loss has not converged).
    """
    med = np.asarray(medians(params), np.float64)
    q = bisect_quantiles(params, tail_mass)
    minima = np.maximum(np.ceil((med - q[:, 0]) / step), 0).astype(np.int64)
    maxima = np.maximum(np.ceil((q[:, 2] - med) / step), 0).astype(np.int64)
    length = minima + maxima + 1
    size = int(length.max())
    k = np.arange(size)[:, None]
    samples = (med - minima * step)[None, :] + k * step  # (L, C)
    pmf = np.asarray(likelihood(params, jnp.asarray(samples, jnp.float32), bound=0.0, step=float(step)),
                     np.float64).T
    pmf = np.where(k.T < length[:, None], pmf, 0.0)
    return pmf, (-minima).astype(np.int32), length.astype(np.int32)
