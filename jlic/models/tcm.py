"""Liu, Sun, Katto 2023, "Learned image compression with mixed Transformer-CNN architectures", arXiv 2303.14978:
`tcm`, in the paper's
Small / Middle / Large widths N = 64 / 96 / 128 (`WIDTHS`; the registry's default is CompressAI's, N = 128).

Layer list of the official code (jmliu206/LIC_TCM) and of CompressAI's development line
(`compressai.models.tcm`, 1.2.9.dev0), whose state_dicts map onto this one (`jlic.interop.compressai_dev`):

- Transformer-CNN mixture (TCM) block on 2N channels: 1x1 conv, split into N + N; the CNN half a residual block
  (3x3 conv, LeakyReLU, 3x3 conv, LeakyReLU, + identity) plus its input; the Transformer half a Swin block
  (LayerNorm, (shifted) window attention, LayerNorm, GELU MLP x4); concatenated, 1x1 conv, + the block input.
  Blocks alternate plain and shifted windows.
- g_a: residual block with stride (3 -> 2N), then three stages of `depths[i]` TCM blocks (head widths 8, 16, 32,
  window 8) each followed by a residual block with stride (2N -> 2N) or, last, a 3x3 stride-2 conv (2N -> M).
- g_s: residual upsampling block (M -> 2N), three stages of TCM blocks (head widths 32, 16, 8), each followed
  by a residual upsampling block or, last, a sub-pixel conv (2N -> 3).
- h_a: residual block with stride (M -> 2N), `depths[0]` TCM blocks (head width 32, window 4), 3x3 stride-2 conv
  (-> 192); h_mean_s / h_scale_s: residual upsampling block (192 -> 2N), `depths[3]` TCM blocks, sub-pixel conv
  (-> M); the side tensor is [means, scales].
- entropy model: y in 5 channel slices (M / 5 each); slice k's mean path sees [latent means, y_hat of the first
  min(k, 5) slices], its scale path [latent scales, same]; each path is a SWAtten block (1x1 conv to 128, a Swin
  block pair W + SW (head width 16, window 8) whose output gates three residual units by a sigmoid (Cheng 2020's
  attention with the Swin pair as its gate input), + identity, 1x1 conv back) and 3x3 convs (-> 224 -> 128 ->
  M / 5) with GELU; latent residual prediction 0.5 tanh(3x3 convs -> 224 -> 128 -> M/5 of [mean path input,
  slice k]). Straight-through rounding of y (around the means) and of z (around the medians) in training.

Sizes below the official ones (CPU-sized variants): a head width larger than its block's width is clamped
to it (one head).

Composition: hyperprior(y = channel groups(5 Gaussian conditionals, context and LRP networks of the previous
slices and the side tensor), z = entropy bottleneck): the codecs of `jlic.latent_codecs`; no coding code here.

CompressAI's development line puts a second linear layer after each window attention's projection (timm's
`proj` plus its `output_proj`); two linear maps compose into one, so the import folds them (exact up to float
rounding) and this model has the official parameter count: 76,568,148 at N = 128 (CompressAI's module:
77,195,604 with the extra 18 + 20 linear layers; see `parameter_count`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jlic.entropy import factorized
from jlic.latent_codecs import ChannelGroups, EntropyBottleneck, GaussianConditional, Hyperprior
from jlic.layers import ConvStack, ResidualUnit
from jlic.layers.shifted_window import SwinBlock, gelu
from jlic.models.base import LatentCodecModel
from jlic.models.cheng2020 import ResidualBlock, ResidualBlockUpsample, ResidualBlockWithStride
from jlic.models.registry import register
from jlic.ops.conv import Conv, SubpelConv

Array = jax.Array

DEPTHS = (2, 2, 2, 2, 2, 2)  # TCM blocks per stage: g_a's three, then g_s's three
HEAD_DIMS = (8, 16, 32, 32, 16, 8)
CONTEXT_WIDTHS = (224, 128)  # hidden widths of the mean / scale / LRP conv stacks


class TcmBlock(nn.Module):
    """Transformer-CNN mixture block on 2 * `dim` channels (children as CompressAI's `ConvTransBlock`)."""

    dim: int
    head_dim: int
    window: int
    shifted: bool

    @nn.compact
    def __call__(self, x: Array) -> Array:
        h = Conv(2 * self.dim, 1, 1, name="conv1_1")(x)
        c, t = h[..., :self.dim], h[..., self.dim:]
        c = ResidualBlock(self.dim, name="conv_block")(c) + c
        t = SwinBlock(self.dim, min(self.head_dim, self.dim), self.window, self.shifted, name="trans_block")(t)
        return x + Conv(2 * self.dim, 1, 1, name="conv1_2")(jnp.concatenate([c, t], -1))


class TcmStages(nn.Module):
    """`first`, then per stage its TCM blocks and its tail: the shared plan of g_a, g_s, h_a and h_s.

    `plan` entries: ("rbs", features) residual block with stride, ("rbu", features) residual upsampling
    block, ("conv", features) 3x3 stride-2 conv, ("subpel", features) sub-pixel conv x2, ("tcm", head_dim)
    one TCM block (plain and shifted windows alternate within a stage). Children are `layer_<i>` in order.
    """

    dim: int
    window: int
    plan: Sequence[tuple[str, int]]

    @nn.compact
    def __call__(self, x: Array) -> Array:
        shifted = False
        for i, (kind, arg) in enumerate(self.plan):
            name = f"layer_{i}"
            if kind == "tcm":
                x = TcmBlock(self.dim, arg, self.window, shifted, name=name)(x)
                shifted = not shifted
                continue
            shifted = False
            if kind == "rbs":
                x = ResidualBlockWithStride(arg, name=name)(x)
            elif kind == "rbu":
                x = ResidualBlockUpsample(arg, name=name)(x)
            elif kind == "conv":
                x = Conv(arg, 3, 2, name=name)(x)
            else:
                x = SubpelConv(arg, 2, name=name)(x)
        return x


def _stage(depth: int, head_dim: int, tail: tuple[str, int]) -> list[tuple[str, int]]:
    return [("tcm", head_dim)] * depth + [tail]


class SwAttention(nn.Module):
    """SWAtten: 1x1 conv to `width`; ``x + a(x) * sigmoid(b(swin(x)))`` (a: three residual units, b: three
    residual units and a 1x1 conv, swin: a W + SW Swin block pair); 1x1 conv to `features`."""

    features: int
    width: int = 128
    head_dim: int = 16
    window: int = 8

    @nn.compact
    def __call__(self, x: Array) -> Array:
        x = Conv(self.width, 1, 1, name="in_conv")(x)
        hd = min(self.head_dim, self.width)
        g = SwinBlock(self.width, hd, self.window, False, name="block_1")(x)
        g = SwinBlock(self.width, hd, self.window, True, name="block_2")(g)
        a = x
        for i in range(3):
            a = ResidualUnit(self.width, name=f"conv_a_{i}")(a)
        for i in range(3):
            g = ResidualUnit(self.width, name=f"conv_b_{i}")(g)
        g = Conv(self.width, 1, 1, name="conv_b_3")(g)
        return Conv(self.features, 1, 1, name="out_conv")(x + a * jax.nn.sigmoid(g))


class Tcm(LatentCodecModel):
    """TCM: the mixed Transformer-CNN transforms above and one latent-codec composition (module docstring)."""

    N: int = 128
    M: int = 320
    depths: tuple[int, ...] = DEPTHS
    head_dims: tuple[int, ...] = HEAD_DIMS
    window: int = 8
    hyper_channels: int = 192
    hyper_window: int = 4
    hyper_head_dim: int = 32
    slices: int = 5
    max_support: int = 5
    attention_width: int = 128
    attention_head_dim: int = 16
    context_widths: tuple[int, ...] = CONTEXT_WIDTHS
    filters: tuple[int, ...] = (3, 3, 3, 3)

    def slice_channels(self) -> int:
        if self.M % self.slices or len(self.depths) != 6 or len(self.head_dims) != 6:
            raise ValueError(f"TCM needs M={self.M} divisible by slices={self.slices} and six depths/head dims")
        return self.M // self.slices

    def setup(self):
        n2, d, hd, s = 2 * self.N, self.depths, self.head_dims, self.slice_channels()
        self.g_a = TcmStages(self.N, self.window, [
            ("rbs", n2), *_stage(d[0], hd[0], ("rbs", n2)), *_stage(d[1], hd[1], ("rbs", n2)),
            *_stage(d[2], hd[2], ("conv", self.M))])
        self.g_s = TcmStages(self.N, self.window, [
            ("rbu", n2), *_stage(d[3], hd[3], ("rbu", n2)), *_stage(d[4], hd[4], ("rbu", n2)),
            *_stage(d[5], hd[5], ("subpel", 3))])
        self.h_a = TcmStages(self.N, self.hyper_window, [
            ("rbs", n2), *_stage(d[0], self.hyper_head_dim, ("conv", self.hyper_channels))])
        hyper_s = [("rbu", n2), *_stage(d[3], self.hyper_head_dim, ("subpel", self.M))]
        self.h_mean_s = TcmStages(self.N, self.hyper_window, hyper_s)
        self.h_scale_s = TcmStages(self.N, self.hyper_window, hyper_s)
        eb = self.param("entropy_bottleneck",
                        lambda key: factorized.init(key, self.hyper_channels, self.filters))
        attn = (self.attention_width, self.attention_head_dim, self.window)
        self.mean_attention = [SwAttention(self.M + s * self.support(k), *attn) for k in range(self.slices)]
        self.scale_attention = [SwAttention(self.M + s * self.support(k), *attn) for k in range(self.slices)]
        self.mean_cc = [ConvStack((*self.context_widths, s), 3, gelu) for _ in range(self.slices)]
        self.scale_cc = [ConvStack((*self.context_widths, s), 3, gelu) for _ in range(self.slices)]
        self.lrp = [ConvStack((*self.context_widths, s), 3, gelu) for _ in range(self.slices)]
        n = self.slices
        groups = ChannelGroups(
            groups=(s,) * n, codecs=(GaussianConditional(quantizer="ste"),) * n,
            channel_context=[lambda prev, side, k=k: self.slice_params(k, prev, side) for k in range(n)],
            lrp=[lambda prev, side, y_k, k=k: self.slice_lrp(k, prev, side, y_k) for k in range(n)],
            context_takes_side=True)
        self.latent_codec = Hyperprior(y=groups, z=EntropyBottleneck(eb, quantizer="ste"), h_a=self.h_a,
                                       h_s=self.side)

    # ----------------------------------------------------------------- the entropy model's networks

    def support(self, k: int) -> int:
        """How many previous slices slice k sees (the first ones)."""
        return k if self.max_support < 0 else min(k, self.max_support)

    def side(self, z_hat: Array) -> Array:
        """h_s: [latent means, latent scales] (M each)."""
        return jnp.concatenate([self.h_mean_s(z_hat), self.h_scale_s(z_hat)], -1)

    def _paths(self, k: int, prev: Array, side: Array) -> tuple[Array, Array]:
        support = prev[..., :self.slice_channels() * self.support(k)]
        return (jnp.concatenate([side[..., :self.M], support], -1),
                jnp.concatenate([side[..., self.M:], support], -1))

    def slice_params(self, k: int, prev: Array, side: Array) -> Array:
        """(scales, means) of slice k from the side tensor and the decoded previous slices."""
        mean_in, scale_in = self._paths(k, prev, side)
        means = self.mean_cc[k](self.mean_attention[k](mean_in))
        scales = self.scale_cc[k](self.scale_attention[k](scale_in))
        return jnp.concatenate([scales, means], -1)

    def slice_lrp(self, k: int, prev: Array, side: Array, y_k: Array) -> Array:
        """Latent residual prediction of slice k: 0.5 tanh(lrp([mean path input, y_hat_k]))."""
        mean_in, _ = self._paths(k, prev, side)
        return 0.5 * jnp.tanh(self.lrp[k](jnp.concatenate([mean_in, y_k], -1)))


def parameter_count(**kwargs) -> int:
    """Parameters of `Tcm(**kwargs)` (via `jax.eval_shape`, nothing allocated)."""
    module = Tcm(**kwargs)
    shapes = jax.eval_shape(lambda key: module.init({"params": key, "noise": key}, jnp.zeros((1, 64, 64, 3)),
                                                    True)["params"], jax.random.PRNGKey(0))
    return sum(math.prod(x.shape) for x in jax.tree.leaves(shapes))


# λ (MSE, loss λ·255²·MSE + bpp) of the six released TCM-S models (LIC_TCM README, commit 6c6d7a3).
LAMBDAS = {1: 0.0025, 2: 0.0035, 3: 0.0067, 4: 0.013, 5: 0.025, 6: 0.05}
WIDTHS = {"small": 64, "middle": 96, "large": 128}  # N of TCM-S / TCM-M / TCM-L (C = 2N in the paper)
register("tcm", Tcm, {q: {"N": 128, "M": 320} for q in LAMBDAS}, stride=64)  # CompressAI's zoo name and default

__all__: Sequence[str] = ["LAMBDAS", "WIDTHS", "Tcm", "parameter_count"]
