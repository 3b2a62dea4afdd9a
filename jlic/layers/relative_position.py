"""Diamond relative position encoding of Entroformer (Qian et al. 2022, arXiv 2202.05492).

A query at (i, j) and a key at (i + dv, j + dh) share a learned vector r(dv, dh) with every other pair at
the same offset when the offset lies in the L1 "diamond" ``|dv| + |dh| <= num // 2``; every farther offset
shares ONE vector. The vector enters the attention score contextually, as ``q . r`` added to ``q . k``
(not as a scalar bias). The table has ``num**2`` rows, row ``(dv + h) * num + (dh + h)`` for ``h = num // 2``
(the official layout); row 0, offset (-h, -h) with ``|dv| + |dh| = 2h``, is never in the diamond and serves
as the shared far row, and the other rows of offsets outside the diamond are never used.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

FAR = 0  # the row every offset outside the diamond uses


def diamond_buckets(height: int, width: int, num: int = 7) -> np.ndarray:
    """(H*W, H*W) int32: table row of each (query, key) pair of a row-major H x W token grid."""
    if num < 3 or num % 2 == 0:
        raise ValueError(f"the relative position table size must be odd and >= 3, got {num}")
    half = num // 2
    i, j = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    i, j = i.ravel(), j.ravel()
    dv = i[None, :] - i[:, None]  # key - query
    dh = j[None, :] - j[:, None]
    near = np.abs(dv) + np.abs(dh) <= half
    return np.where(near, (dv + half) * num + (dh + half), FAR).astype(np.int32)


def relative_scores(q: Array, table: Array, buckets: Array | np.ndarray) -> Array:
    """``q . r(query, key)``: (..., Q, K) from queries (..., Q, d), table (n, d) and buckets (Q, K).

    Computed as ``(q @ table.T)`` gathered by bucket, so memory is O(Q*K), not O(Q*K*d).
    """
    qr = jnp.einsum("...qd,nd->...qn", q, table)
    idx = jnp.broadcast_to(jnp.asarray(buckets), (*qr.shape[:-1], np.shape(buckets)[-1]))
    return jnp.take_along_axis(qr, idx, axis=-1)


class RelativePositionTable(nn.Module):
    """The learned table (``num**2`` rows of ``features``), parameter ``embedding``."""

    num: int = 7
    features: int = 64

    @nn.compact
    def __call__(self) -> Array:
        return self.param("embedding", nn.initializers.normal(0.02), (self.num * self.num, self.features))
