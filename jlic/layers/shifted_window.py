"""Swin window attention on maps of any size (Liu et al. 2021, arXiv 2103.14030): multi-head self-attention
inside non-overlapping ``w x w`` windows, optionally cyclically shifted by ``w // 2`` with the regions that the
shift brings together masked apart, and a learned relative-position bias per head (a ``(2w-1)^2`` table).

As the learned-compression models that use it (TCM, arXiv 2303.14978; DCAE, arXiv 2504.00496) and their
PyTorch code: a map whose sides are not multiples of ``w`` is zero-padded at the bottom and right *inside* the
attention (the padded tokens are attended to; they are not masked) and cropped after; the shift mask is
computed on the padded size; masked scores get ``-100`` added (timm's value; DCAE's code writes ``-inf`` into
the same pairs, the same softmax in float32 since ``exp(-100)`` underflows next to 1). Parameters and
semantics are those of timm's / CompressAI's window attention (as `jlic.layers.swin` of the STF/WACNN work,
written in parallel, which refuses maps that are not window multiples); the padding is what TCM and DCAE
need, whose y and z maps of small images and tiles are smaller than their windows.

- `WindowAttention`: ``qkv`` (Dense C -> 3C, channel order (3, heads, head_dim)),
  ``relative_position_bias_table`` ((2w-1)^2, heads), ``proj`` (Dense C -> C); heads merge head-major.
- `SwinBlock`: the pre-norm transformer block ``x + attn(LN(x))``, then ``x + mlp(LN(x))`` (GELU MLP, ratio 4),
  LayerNorm epsilon 1e-5 (PyTorch's).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jlic.layers.window_attention import relative_position_index

Array = jax.Array

MASKED = -100.0  # added to the scores of token pairs from different regions of a shifted window


def shift_mask(height: int, width: int, window: int, shift: int) -> np.ndarray:
    """(windows, w*w, w*w) bool: token pairs of a shifted window that come from different regions of the map
    (True: masked). ``height``/``width`` are multiples of ``window``; regions are the bands
    ``[0, -w)``, ``[-w, -shift)``, ``[-shift, end)`` of each axis; windows in raster order."""
    region = np.zeros((height, width), np.int32)
    bands = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    count = 0
    for hs in bands:
        for ws in bands:
            region[hs, ws] = count
            count += 1
    win = region.reshape(height // window, window, width // window, window).transpose(0, 2, 1, 3)
    win = win.reshape(-1, window * window)
    return win[:, :, None] != win[:, None, :]


def partition(x: Array, window: int) -> Array:
    """(B, H, W, C) -> (B, windows, w*w, C), windows and the tokens inside them in raster order."""
    b, h, w, c = x.shape
    x = x.reshape(b, h // window, window, w // window, window, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, (h // window) * (w // window), window * window, c)


def merge(x: Array, window: int, height: int, width: int) -> Array:
    """The inverse of `partition`."""
    b, _, _, c = x.shape
    x = x.reshape(b, height // window, width // window, window, window, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, height, width, c)


class WindowAttention(nn.Module):
    """(Shifted) window multi-head self-attention of an NHWC map (any size), ``dim / head_dim`` heads."""

    dim: int
    head_dim: int
    window: int = 8
    shifted: bool = False

    @nn.compact
    def __call__(self, x: Array) -> Array:
        b, h, w, c = x.shape
        if c != self.dim or c % self.head_dim:
            raise ValueError(f"window attention of dim {self.dim} (head dim {self.head_dim}) got {c} channels")
        heads, win, n = c // self.head_dim, self.window, self.window * self.window
        table = self.param("relative_position_bias_table", nn.initializers.truncated_normal(0.02),
                           ((2 * win - 1) ** 2, heads))
        ph, pw = -h % win, -w % win
        if ph or pw:
            x = jnp.pad(x, ((0, 0), (0, ph), (0, pw), (0, 0)))
        hp, wp = h + ph, w + pw
        shift = win // 2 if self.shifted else 0
        if shift:
            x = jnp.roll(x, (-shift, -shift), axis=(1, 2))
        t = partition(x, win)  # (B, nW, n, C)
        qkv = nn.Dense(3 * c, name="qkv")(t).reshape(b, -1, n, 3, heads, self.head_dim)
        q, k, v = qkv[..., 0, :, :], qkv[..., 1, :, :], qkv[..., 2, :, :]  # (B, nW, n, heads, d)
        scores = jnp.einsum("bwqhd,bwkhd->bwhqk", q * self.head_dim ** -0.5, k)
        bias = table[relative_position_index(win)]  # (n, n, heads)
        scores = scores + jnp.transpose(bias, (2, 0, 1))
        if shift:
            mask = np.where(shift_mask(hp, wp, win, shift), MASKED, 0.0).astype(np.float32)
            scores = scores + jnp.asarray(mask, scores.dtype)[None, :, None]
        attn = jax.nn.softmax(scores, axis=-1)
        out = jnp.einsum("bwhqk,bwkhd->bwqhd", attn, v).reshape(b, -1, n, c)
        out = merge(nn.Dense(c, name="proj")(out), win, hp, wp)
        if shift:
            out = jnp.roll(out, (shift, shift), axis=(1, 2))
        return out[:, :h, :w] if (ph or pw) else out


def gelu(x: Array) -> Array:
    """PyTorch's default (exact, erf) GELU."""
    return nn.gelu(x, approximate=False)


class SwinBlock(nn.Module):
    """``x + attn(norm1(x))`` then ``x + fc2(GELU(fc1(norm2(x))))`` on an NHWC map (Swin's block)."""

    dim: int
    head_dim: int
    window: int = 8
    shifted: bool = False
    mlp_ratio: int = 4

    @nn.compact
    def __call__(self, x: Array) -> Array:
        x = x + WindowAttention(self.dim, self.head_dim, self.window, self.shifted, name="attn")(
            nn.LayerNorm(epsilon=1e-5, name="norm1")(x))
        h = nn.LayerNorm(epsilon=1e-5, name="norm2")(x)
        h = nn.Dense(self.dim * self.mlp_ratio, name="fc1")(h)
        return x + nn.Dense(self.dim, name="fc2")(gelu(h))
