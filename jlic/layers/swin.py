"""(Shifted-)window self-attention and the blocks built on it (Swin: Liu et al. 2021, arXiv 2103.14030), as
STF and WACNN use them (Zou et al. 2022, arXiv 2203.08450), in the layouts of timm / CompressAI so their
weights import.

- `WindowAttention`: multi-head attention inside non-overlapping ``w x w`` windows with a learned relative
  position bias (``(2w-1)^2 x heads`` table, Swin's indexing) and an output projection; with ``shift > 0``
  the map is rolled by ``-shift`` first and pairs from different regions of the rolled map are masked
  (``-100``), then rolled back. H and W must be multiples of the window (jlic pads images to the model's
  stride, so the maps of the registered models always are).
- `SwinBlock`: pre-LayerNorm window attention and pre-LayerNorm MLP (ratio 4, GELU), both residual (timm's
  `SwinTransformerBlock`).
- `PatchMerging` (2x2 neighbours -> LayerNorm -> linear 4C -> 2C) and `PatchSplit` (LayerNorm -> linear
  C -> 2C -> pixel shuffle x2 -> C/2): STF's down / up sampling between Swin stages.
- `WindowAttentionBlock`: WACNN's attention module, ``x + a(x) * sigmoid(b(x))`` with ``a`` three GELU
  residual units and ``b`` a residual shifted-window attention (no output projection beyond the
  attention's own), three units and a 1x1 conv.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jlic.layers.hyper import gelu
from jlic.layers.residual import ResidualUnit
from jlic.layers.window_attention import MASKED, relative_position_index
from jlic.ops.conv import Conv, pixel_shuffle

Array = jax.Array


def partition(x: Array, window: int) -> Array:
    """(B, H, W, C) -> (B * nW, w*w, C), windows in raster order per image (timm's `window_partition`); jax
    or numpy arrays."""
    b, h, w, c = x.shape
    x = x.reshape(b, h // window, window, w // window, window, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, window * window, c)


def merge(windows: Array, window: int, h: int, w: int) -> Array:
    """The inverse of `partition`."""
    c = windows.shape[-1]
    x = windows.reshape(-1, h // window, w // window, window, window, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, h, w, c)


def shift_mask(h: int, w: int, window: int, shift: int) -> np.ndarray:
    """(nW, w*w, w*w) additive mask of the rolled map: ``MASKED`` between positions of different regions."""
    regions = np.zeros((h, w), np.float32)
    cuts = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    for i, rows in enumerate(cuts):
        for j, cols in enumerate(cuts):
            regions[rows, cols] = 3 * i + j
    ids = partition(regions[None, :, :, None], window)[..., 0]  # (nW, w*w), numpy
    return np.where(ids[:, None, :] != ids[:, :, None], MASKED, 0.0).astype(np.float32)


class WindowAttention(nn.Module):
    """Window multi-head self-attention on (B, H, W, C) maps; children `qkv`, `proj` and the parameter
    `relative_position_bias_table` (timm's `WindowAttention`)."""

    heads: int
    window: int
    shift: int = 0

    @nn.compact
    def __call__(self, x: Array) -> Array:
        b, h, w, c = x.shape
        win, n = self.window, self.window * self.window
        if h % win or w % win or c % self.heads:
            raise ValueError(f"window attention ({win}x{win}, {self.heads} heads) got a {h}x{w}x{c} map")
        table = self.param("relative_position_bias_table", nn.initializers.truncated_normal(0.02),
                           ((2 * win - 1) ** 2, self.heads))
        if self.shift:
            x = jnp.roll(x, (-self.shift, -self.shift), (1, 2))
        d = c // self.heads
        qkv = nn.Dense(3 * c, name="qkv")(partition(x, win)).reshape(-1, n, 3, self.heads, d)
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]  # (B*nW, n, heads, d)
        scores = jnp.einsum("bqhd,bkhd->bhqk", q * d ** -0.5, k)
        scores = scores + jnp.transpose(table[relative_position_index(win)], (2, 0, 1))
        if self.shift:
            mask = shift_mask(h, w, win, self.shift)
            scores = (scores.reshape(b, -1, self.heads, n, n) + mask[None, :, None]).reshape(scores.shape)
        out = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(scores, -1), v).reshape(-1, n, c)
        x = merge(nn.Dense(c, name="proj")(out), win, h, w)
        return jnp.roll(x, (self.shift, self.shift), (1, 2)) if self.shift else x


class SwinBlock(nn.Module):
    """``x + attn(norm1(x))`` then ``x + mlp(norm2(x))`` (fc1 -> GELU -> fc2, hidden ``mlp_ratio * C``)."""

    heads: int
    window: int
    shift: int = 0
    mlp_ratio: float = 4.0

    @nn.compact
    def __call__(self, x: Array) -> Array:
        c = x.shape[-1]
        x = x + WindowAttention(self.heads, self.window, self.shift, name="attn")(
            nn.LayerNorm(epsilon=1e-5, name="norm1")(x))
        return x + Mlp(int(c * self.mlp_ratio), name="mlp")(nn.LayerNorm(epsilon=1e-5, name="norm2")(x))


class Mlp(nn.Module):
    """fc1 (-> hidden) -> GELU -> fc2 (-> C) (timm's `Mlp`)."""

    hidden: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        return nn.Dense(x.shape[-1], name="fc2")(gelu(nn.Dense(self.hidden, name="fc1")(x)))


class PatchMerging(nn.Module):
    """(B, H, W, C) -> (B, H/2, W/2, 2C): concat of the (0,0), (1,0), (0,1), (1,1) neighbours, LayerNorm,
    bias-free linear."""

    @nn.compact
    def __call__(self, x: Array) -> Array:
        c = x.shape[-1]
        x = jnp.concatenate([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        return nn.Dense(2 * c, use_bias=False, name="reduction")(nn.LayerNorm(epsilon=1e-5, name="norm")(x))


class PatchSplit(nn.Module):
    """(B, H, W, C) -> (B, 2H, 2W, C/2): LayerNorm, bias-free linear C -> 2C, pixel shuffle x2."""

    @nn.compact
    def __call__(self, x: Array) -> Array:
        c = x.shape[-1]
        x = nn.Dense(2 * c, use_bias=False, name="reduction")(nn.LayerNorm(epsilon=1e-5, name="norm")(x))
        return pixel_shuffle(x, 2)


class ResidualWindowAttention(nn.Module):
    """``x + WindowAttention(x)`` (WACNN's `WinBasedAttention`; the child is `attn`)."""

    heads: int
    window: int
    shift: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        return x + WindowAttention(self.heads, self.window, self.shift, name="attn")(x)


class WindowAttentionBlock(nn.Module):
    """WACNN's attention module (children `conv_a_<i>`, `conv_b_<i>` = CompressAI's `conv_a.<i>`,
    `conv_b.<i>`; `conv_b_0/attn` is its `conv_b.0.attn.attn`)."""

    heads: int = 8
    window: int = 8
    shift: int = 4

    @nn.compact
    def __call__(self, x: Array) -> Array:
        c = x.shape[-1]
        a = x
        for i in range(3):
            a = ResidualUnit(c, gelu, name=f"conv_a_{i}")(a)
        b = ResidualWindowAttention(self.heads, self.window, self.shift, name="conv_b_0")(x)
        for i in range(1, 4):
            b = ResidualUnit(c, gelu, name=f"conv_b_{i}")(b)
        b = Conv(c, 1, 1, name="conv_b_4")(b)
        return x + a * jax.nn.sigmoid(b)
