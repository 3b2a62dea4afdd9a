"""The pieces STF and WACNN (Zou et al. 2022, arXiv 2203.08450) add around Swin's window attention (Liu et
al. 2021, arXiv 2103.14030; `jlic.layers.shifted_window`: `WindowAttention`, `SwinBlock`), in the layouts of
timm / CompressAI so their weights import:

- `PatchMerging` (2x2 neighbours -> LayerNorm -> bias-free linear 4C -> 2C) and `PatchSplit` (LayerNorm ->
  bias-free linear C -> 2C -> pixel shuffle x2 -> C/2): STF's down / up sampling between Swin stages;
- `WindowAttentionBlock`: WACNN's attention module, ``x + a(x) * sigmoid(b(x))`` with ``a`` three GELU
  residual units and ``b`` a residual shifted-window attention (no projection beyond the attention's own),
  three units and a 1x1 conv.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jlic.layers.hyper import gelu
from jlic.layers.residual import ResidualUnit
from jlic.layers.shifted_window import WindowAttention
from jlic.ops.conv import Conv, pixel_shuffle

Array = jax.Array


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
    """``x + WindowAttention(x)``, shifted by half a window (WACNN's `WinBasedAttention`; child `attn`)."""

    heads: int
    window: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        c = x.shape[-1]
        return x + WindowAttention(c, c // self.heads, self.window, shifted=True, name="attn")(x)


class WindowAttentionBlock(nn.Module):
    """WACNN's attention module (children `conv_a_<i>`, `conv_b_<i>` = CompressAI's `conv_a.<i>`,
    `conv_b.<i>`; `conv_b_0/attn` is its `conv_b.0.attn.attn`). CompressAI's `WinNoShiftAttention(dim, 8,
    window, window // 2)`: despite the name, its windows are shifted by half a window."""

    heads: int = 8
    window: int = 8

    @nn.compact
    def __call__(self, x: Array) -> Array:
        c = x.shape[-1]
        a = x
        for i in range(3):
            a = ResidualUnit(c, gelu, name=f"conv_a_{i}")(a)
        b = ResidualWindowAttention(self.heads, self.window, name="conv_b_0")(x)
        for i in range(1, 4):
            b = ResidualUnit(c, gelu, name=f"conv_b_{i}")(b)
        b = Conv(c, 1, 1, name="conv_b_4")(b)
        return x + a * jax.nn.sigmoid(b)
