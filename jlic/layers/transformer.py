"""Transformer blocks over a 2-D token grid, as in Entroformer (Qian et al. 2022, arXiv 2202.05492).

- `Attention`: multi-head self-attention, bias-free qkv and output projections, score
  ``(q . k + q . r) * dim**-0.5`` with the diamond relative position vector ``r``
  (:mod:`jlic.layers.relative_position`), an optional (Q, K) mask of allowed keys and top-k masking
  (:mod:`jlic.layers.topk`);
- `TransformerBlock`: pre-LayerNorm attention and pre-LayerNorm MLP (ratio 4, LeakyReLU 0.2), each residual;
- `Transformer`: a stack of blocks on NHWC maps, with ONE relative position table shared by its blocks.

Tokens are the pixels of an NHWC map, row-major. ``k=None`` disables top-k (plain masked attention).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jlic.layers.relative_position import RelativePositionTable, diamond_buckets, relative_scores
from jlic.layers.topk import masked_softmax, topk_keep

Array = jax.Array


class Attention(nn.Module):
    """Self-attention of tokens (B, L, dim) with contextual relative positions, mask and top-k."""

    dim: int
    heads: int
    dim_head: int

    @nn.compact
    def __call__(self, x: Array, table: Array | None, buckets: np.ndarray | None, allowed: Array | None,
                 k: Array | int | None, k_max: int | None) -> Array:
        b, n, _ = x.shape
        inner = self.heads * self.dim_head
        qkv = nn.Dense(3 * inner, use_bias=False, name="qkv")(x).reshape(b, n, 3, self.heads, self.dim_head)
        q, kk, v = (qkv[:, :, i].transpose(0, 2, 1, 3) for i in range(3))  # (B, heads, L, d)
        scores = jnp.einsum("bhqd,bhkd->bhqk", q, kk)
        if table is not None:
            scores = scores + relative_scores(q, table, buckets)
        scores = scores * self.dim ** -0.5
        if k is None:
            keep = jnp.ones(scores.shape, bool) if allowed is None else jnp.broadcast_to(allowed, scores.shape)
        else:
            keep = topk_keep(scores, k, allowed, k_max)
        w = masked_softmax(scores, keep)
        out = jnp.einsum("bhqk,bhkd->bhqd", w, v).transpose(0, 2, 1, 3).reshape(b, n, inner)
        return nn.Dense(self.dim, use_bias=False, name="o")(out)


class TransformerBlock(nn.Module):
    """``x + attn(LN(x))`` then ``x + mlp(LN(x))`` with mlp = Dense(ratio*dim), LeakyReLU(0.2), Dense(dim)."""

    dim: int
    heads: int
    dim_head: int
    mlp_ratio: int = 4

    @nn.compact
    def __call__(self, x: Array, table: Array | None, buckets: np.ndarray | None, allowed: Array | None,
                 k: Array | int | None, k_max: int | None) -> Array:
        h = nn.LayerNorm(epsilon=1e-5, name="norm_attn")(x)
        attn = Attention(self.dim, self.heads, self.dim_head, name="attn")
        x = x + attn(h, table, buckets, allowed, k, k_max)
        h = nn.LayerNorm(epsilon=1e-5, name="norm_mlp")(x)
        h = nn.Dense(self.dim * self.mlp_ratio, name="mlp_0")(h)
        h = nn.Dense(self.dim, name="mlp_2")(nn.leaky_relu(h, 0.2))
        return x + h


class Transformer(nn.Module):
    """``depth`` blocks over the tokens of an NHWC map (B, H, W, dim) -> same shape.

    Args:
      dim, heads, dim_head, mlp_ratio: block widths.
      depth: number of blocks (0: identity).
      position_num: side of the relative position table (odd; diamond radius ``position_num // 2``),
        shared by all blocks (``None``: no relative positions).
    Call args: ``allowed`` (H*W, H*W) bool of allowed keys per query (``None``: all); ``k`` the top-k (``None``:
    off), ``k_max`` a static bound when ``k`` is traced.
    """

    dim: int
    heads: int
    dim_head: int
    depth: int
    mlp_ratio: int = 4
    position_num: int | None = 7

    @nn.compact
    def __call__(self, x: Array, allowed: Array | None = None, k: Array | int | None = None,
                 k_max: int | None = None) -> Array:
        b, h, w, c = x.shape
        if c != self.dim:
            raise ValueError(f"transformer of width {self.dim} got {c} channels")
        table = buckets = None
        if self.position_num is not None and self.depth:
            table = RelativePositionTable(self.position_num, self.dim_head, name="position")()
            buckets = diamond_buckets(h, w, self.position_num)
        t = x.reshape(b, h * w, c)
        for i in range(self.depth):
            t = TransformerBlock(self.dim, self.heads, self.dim_head, self.mlp_ratio, name=f"block_{i}")(
                t, table, buckets, allowed, k, k_max)
        return t.reshape(b, h, w, c)
