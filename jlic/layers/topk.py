"""Top-k attention masking (Entroformer, Qian et al. 2022, arXiv 2202.05492; Wang et al. 2021, KVT).

Each query keeps only its ``k`` highest-scoring allowed keys; the others get zero attention weight. In
training the paper draws ``k`` uniformly from ``[k/2, 2k)`` per step (here from an explicit PRNG key, so
``k`` may be a traced integer: the threshold is read from a static ``lax.top_k`` of ``k_max`` scores). At
inference ``k`` is fixed and the whole computation is a deterministic function of its inputs, so encoder and
decoder (which call the same compiled function on the same values) keep the same keys. Ties with the k-th
score are kept (the official ``scores >= threshold``), so a query keeps at least ``k`` keys, exactly ``k``
when scores are distinct, and all allowed keys when it has fewer than ``k``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

Array = jax.Array


def train_k_range(k: int) -> tuple[int, int]:
    """``[low, high)`` of the training-time k: the paper's ``[k // 2, 2k)``."""
    return max(1, k // 2), 2 * k


def draw_k(key: Array | None, k: int) -> Array | int:
    """The k of one step: ``k`` itself without a key (inference), else uniform on ``train_k_range(k)``."""
    if key is None:
        return k
    low, high = train_k_range(k)
    return jax.random.randint(key, (), low, high)


def topk_keep(scores: Array, k: Array | int, allowed: Array | None = None, k_max: int | None = None
              ) -> Array:
    """Bool mask of the keys each query keeps: allowed and among its top ``k`` scores (last axis = keys).

    Args:
      scores: (..., Q, K) attention scores.
      k: keys per query (python int, or a traced int when ``k_max`` bounds it).
      allowed: (Q, K) or broadcastable bool: keys a query may attend to (``None``: all).
      k_max: static upper bound of ``k`` (default: ``k``, which must then be a python int).
    """
    n = scores.shape[-1]
    if k_max is None:
        if not isinstance(k, int):
            raise ValueError("a traced k needs a static k_max")
        k_max = k
    k_max = max(1, min(int(k_max), n))
    s = scores if allowed is None else jnp.where(allowed, scores, -jnp.inf)
    top = lax.top_k(s, k_max)[0]  # (..., Q, k_max), descending
    idx = jnp.clip(jnp.asarray(k, jnp.int32), 1, k_max) - 1
    thresh = lax.dynamic_index_in_dim(top, idx, axis=-1, keepdims=True)
    keep = s >= thresh
    return keep if allowed is None else keep & allowed


def masked_softmax(scores: Array, keep: Array) -> Array:
    """Softmax over the last axis restricted to ``keep``: dropped keys get weight exactly 0.

    Every query must keep at least one key (``topk_keep`` with a query allowed to see itself does).
    """
    s = jnp.where(keep, scores, -jnp.inf)
    m = lax.stop_gradient(jnp.max(s, axis=-1, keepdims=True))
    e = jnp.where(keep, jnp.exp(s - m), 0.0)
    return e / jnp.sum(e, axis=-1, keepdims=True)
