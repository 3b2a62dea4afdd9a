"""Full (quadratic) softmax attention between chosen positions of a 2-D map, as MLIC and MLIC+'s global
contexts use it (Jiang et al. 2023, arXiv 2211.07273).

Queries sit at the positions of ``query_mask`` and keys / values at those of ``key_mask`` (all positions
without a mask); every query attends to every key (``H*W`` squared cost, MLIC++ replaced it by the linear
attention of :mod:`jlic.layers.linear_attention`, which has the same signature). Optionally the keys within
Chebyshev distance ``exclude_radius`` of a query are excluded: their score is *replaced* by ``MASKED``
(MLIC's intra-slice context leaves the neighbourhood to the local context). The output is zero at the
positions that are not queries.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

MASKED = -100.0  # the score of an excluded key (replaced, not added: a fully excluded row stays uniform)


def softmax_attention(q: Array, k: Array, v: Array, heads: int, excluded: np.ndarray | None = None) -> Array:
    """Multi-head ``softmax(q k^T / sqrt(d)) v``: q (B, Nq, C), k (B, Nk, C), v (B, Nk, Cv), head i =
    channels ``i*d:(i+1)*d``; ``excluded`` (Nq, Nk) bool: scores set to ``MASKED``. Returns (B, Nq, Cv)."""
    b, nq, c = q.shape
    if c % heads or v.shape[-1] % heads or k.shape[:2] != v.shape[:2] or k.shape[-1] != c:
        raise ValueError(f"softmax attention: q {q.shape}, k {k.shape}, v {v.shape}, {heads} heads")
    d, dv = c // heads, v.shape[-1] // heads
    scores = jnp.einsum("bqhd,bkhd->bhqk", q.reshape(b, nq, heads, d), k.reshape(b, -1, heads, d)) * d ** -0.5
    if excluded is not None:
        scores = jnp.where(jnp.asarray(excluded), MASKED, scores)
    attn = jax.nn.softmax(scores, axis=-1)
    out = jnp.einsum("bhqk,bkhe->bqhe", attn, v.reshape(b, -1, heads, dv))
    return out.reshape(b, nq, heads * dv)


def neighbours(rows: np.ndarray, cols: np.ndarray, key_rows: np.ndarray, key_cols: np.ndarray,
               radius: int) -> np.ndarray:
    """(Nq, Nk) bool: key within Chebyshev distance ``radius`` of the query."""
    return ((np.abs(rows[:, None] - key_rows[None]) <= radius)
            & (np.abs(cols[:, None] - key_cols[None]) <= radius))


def grid_attention(q: Array, k: Array, v: Array, heads: int, key_mask: np.ndarray | None = None,
                   query_mask: np.ndarray | None = None, exclude_radius: int = -1) -> Array:
    """q, k, v: (B, H, W, C) maps; masks (H, W) static bool (None: every position). Returns (B, H, W, Cv),
    zero where ``query_mask`` is False."""
    b, h, w, c = q.shape
    every = np.ones((h, w), bool)
    qi = np.flatnonzero(every if query_mask is None else np.asarray(query_mask))
    ki = np.flatnonzero(every if key_mask is None else np.asarray(key_mask))
    excluded = None
    if exclude_radius >= 0:
        excluded = neighbours(qi // w, qi % w, ki // w, ki % w, exclude_radius)
    flat = lambda a: a.reshape(b, h * w, a.shape[-1])  # noqa: E731
    out = softmax_attention(flat(q)[:, qi], flat(k)[:, ki], flat(v)[:, ki], heads, excluded)
    if len(qi) == h * w:
        return out.reshape(b, h, w, -1)
    full = jnp.zeros((b, h * w, out.shape[-1]), out.dtype).at[:, qi].set(out)
    return full.reshape(b, h, w, -1)
