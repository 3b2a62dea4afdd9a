"""Overlapping-window attention with a relative-position bias and key masks.

Every position gets its own ``w x w`` window (stride-1 unfolding, zero padding at the borders, as
``nn.Unfold``); inside a window every position attends to every other one, with a learned bias per head
and relative offset (a ``(2w-1)^2`` table, Swin's indexing: Liu et al. 2021, arXiv 2103.14030) and an
additive mask (``-100`` on pairs that must not interact, as MLIC++'s local context: Jiang et al. 2023,
arXiv 2307.15421, which masks keys that are not yet decoded). The output keeps the window axis,
``(B, H, W, w*w, C)``; a caller reduces it (MLIC++: a ``w x w`` "fusion" convolution over the window).
Cost: ``H*W * (w*w)^2 * C``, linear in the number of positions.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

MASKED = -100.0  # the additive mask value of MLIC++'s local context (not -inf: a fully masked row stays finite)


def relative_position_index(window: int) -> np.ndarray:
    """(w*w, w*w) int: index into a ``(2w-1)^2`` table of the offset from key to query (raster order)."""
    i, j = np.meshgrid(np.arange(window), np.arange(window), indexing="ij")
    coords = np.stack([i.ravel(), j.ravel()])  # (2, w*w)
    rel = coords[:, :, None] - coords[:, None, :] + (window - 1)  # (2, q, k), each in [0, 2w-2]
    return (rel[0] * (2 * window - 1) + rel[1]).astype(np.int32)


def unfold(x: Array, window: int) -> Array:
    """(B, H, W, C) -> (B, H, W, w*w, C): the zero-padded ``w x w`` window around every position, raster
    order inside the window (offsets ``-(w//2) .. w//2``)."""
    p = window // 2
    h, w = x.shape[1:3]
    xp = jnp.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    return jnp.stack([xp[:, a:a + h, b:b + w] for a in range(window) for b in range(window)], axis=3)


def pair_mask(allowed: np.ndarray, window: int) -> np.ndarray:
    """(H, W, w*w, w*w) float32 additive mask from an (H, W) bool map of usable positions: 0 where both the
    query and the key window positions are usable (inside the image and ``allowed``), else ``MASKED``."""
    h, w = allowed.shape
    p = window // 2
    ap = np.pad(np.asarray(allowed, np.float32), p)
    ok = np.stack([ap[a:a + h, b:b + w] for a in range(window) for b in range(window)], axis=-1)  # (H,W,w²)
    both = ok[..., :, None] * ok[..., None, :]
    return np.where(both > 0.5, 0.0, MASKED).astype(np.float32)


class OverlappingWindowAttention(nn.Module):
    """Multi-head attention inside the ``window x window`` neighbourhood of every position.

    ``__call__(x, mask)``: x (B, H, W, C) (channel ``i*heads + h`` is element i of head h), mask an additive
    (H, W, w*w, w*w) array (e.g. `pair_mask`) or ``None``; returns (B, H, W, w*w, C), the attended values of
    every window position (channel ``h*d + i``). Parameters: ``qkv`` (Dense C -> 3C) and
    ``relative_position_table`` ((2w-1)^2, heads), as MLIC++'s local context.
    """

    dim: int
    heads: int = 2
    window: int = 5
    qkv_bias: bool = True

    @nn.compact
    def __call__(self, x: Array, mask: Array | None = None) -> Array:
        b, h, w, c = x.shape
        if c != self.dim or c % self.heads:
            raise ValueError(f"window attention of dim {self.dim} ({self.heads} heads) got {c} channels")
        n = self.window * self.window
        d = c // self.heads
        table = self.param("relative_position_table", nn.initializers.truncated_normal(0.02),
                           ((2 * self.window - 1) ** 2, self.heads))
        qkv = nn.Dense(3 * c, use_bias=self.qkv_bias, name="qkv")(x)
        # MLIC++'s channel order: the input splits as (head_dim, heads), the output merges as (heads, head_dim)
        win = unfold(qkv, self.window).reshape(b, h, w, n, 3, d, self.heads).swapaxes(-1, -2)
        q, k, v = win[..., 0, :, :], win[..., 1, :, :], win[..., 2, :, :]  # (B, H, W, n, heads, d)
        scores = jnp.einsum("bhwqnd,bhwknd->bhwnqk", q * d ** -0.5, k)
        bias = table[relative_position_index(self.window)]  # (n, n, heads)
        scores = scores + jnp.transpose(bias, (2, 0, 1))
        if mask is not None:
            scores = scores + mask[None, :, :, None]
        attn = jax.nn.softmax(scores, axis=-1)
        out = jnp.einsum("bhwnqk,bhwknd->bhwqnd", attn, v)
        return out.reshape(b, h, w, n, c)
