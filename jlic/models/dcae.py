"""Lu, Zhang, Zhou, Li, Li, Gu 2025, "Learned image compression with dictionary-based entropy model", arXiv
2504.00496: `dcae`.

Layer list of the official code (LabShuHangGU/DCAE, `models/dcae.py`) and of CompressAI's development line
(`compressai.models.dcae`, 1.2.9.dev0), whose state_dicts map onto this one (`jlic.interop.compressai_dev`):

- residual-bottleneck down block: 5x5 stride-2 conv, three residual bottleneck blocks (1x1, 3x3, 1x1, ReLU);
  up block: three residual bottleneck blocks, 5x5 stride-2 transposed conv;
- Swin stage: the map zero-padded to a multiple of the window, `blocks` layers alternating plain and shifted
  windows, each ``s1 * x + attn(LN(x))`` then ``s2 * x + ConvGLU(LN(x))`` (per-channel scales s; ConvGLU: linear
  to 4C split into value and gate, GELU(depthwise 3x3 conv(value)) * gate, linear back), then a 3x3 conv plus
  the (padded) input, cropped;
- g_a: down(3 -> 96), Swin(96, 1 layer, head 8), down(-> 144), Swin(2 layers, head 16), down(-> 256), Swin(12
  layers, head 32), 5x5 stride-2 conv (-> M = 320); window 8. g_s mirrors it (heads 32, 16, 8; up blocks; the
  last up block outputs 3 channels);
- h_a: down(M -> N = 192), Swin(1 layer, head 32, window 4), 3x3 stride-2 conv; h_mean_s / h_scale_s: 3x3
  stride-2 transposed conv, Swin(1 layer), up(-> M); the side tensor is [means, scales];
- entropy model: 5 channel slices of M/5; slice k's support is [means, scales, y_hat of the first min(k, 5)
  slices]; a dictionary cross-attention (the support, per position: linear to 640, + multi-scale aggregation
  (1x1 conv, a dense block of three 1x1 / depthwise 3x3 / 1x1 GELU units whose outputs and input are
  concatenated and projected back, CBAM spatial attention), queries after LayerNorm and a linear map, 20 heads
  attend over a learned dictionary of 128 entries x 640 (keys: linear map of the LayerNormed dictionary,
  values: the LayerNormed dictionary itself; scores scaled by a learned per-head factor, no 1/sqrt(d)), linear,
  residual, ConvGLU, linear to M) gives M more channels; [support, dictionary feature] feeds the mean and scale
  stacks (3x3 convs -> 224 -> 128 -> M/5, GELU) and the LRP (same widths on [that, y_hat_k], 0.5 tanh).
  Straight-through rounding of y around the means in training; z with additive noise (as the official code).

Sizes below the official ones (CPU-sized variants): a head width larger than its layer's width is clamped
to it (one head).

Composition: hyperprior(y = channel groups(5 Gaussian conditionals, context and LRP networks of the previous
slices and the side tensor), z = entropy bottleneck): the codecs of `jlic.latent_codecs`; no coding code here.
Parameters: 119,400,351 (the official module and CompressAI's count the same; the paper rounds to 119.2 M).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jlic.entropy import factorized
from jlic.latent_codecs import ChannelGroups, EntropyBottleneck, GaussianConditional, Hyperprior
from jlic.layers import ConvStack, ResidualBottleneckBlock
from jlic.layers.linear_attention import DepthwiseConv
from jlic.layers.shifted_window import WindowAttention, gelu
from jlic.models.base import LatentCodecModel
from jlic.models.registry import register
from jlic.ops.conv import Conv, ConvTranspose

Array = jax.Array

CONTEXT_WIDTHS = (224, 128)


class Scale(nn.Module):
    """Per-channel learned scale (initialised to 1)."""

    @nn.compact
    def __call__(self, x: Array) -> Array:
        return x * self.param("scale", nn.initializers.ones, (x.shape[-1],))


class ConvGlu(nn.Module):
    """Convolutional GLU: `fc1` to 2 * hidden, split (value, gate), GELU(depthwise 3x3(value)) * gate, `fc2`."""

    hidden: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        h = nn.Dense(2 * self.hidden, name="fc1")(x)
        value, gate = h[..., :self.hidden], h[..., self.hidden:]
        return nn.Dense(x.shape[-1], name="fc2")(gelu(DepthwiseConv(3, name="dwconv")(value)) * gate)


class GatedSwinLayer(nn.Module):
    """``s1 x + attn(ln1 x)`` then ``s2 x + mlp(ln2 x)`` (window attention, ConvGLU of hidden 2C)."""

    head_dim: int
    window: int
    shifted: bool

    @nn.compact
    def __call__(self, x: Array) -> Array:
        c = x.shape[-1]
        h = WindowAttention(c, min(self.head_dim, c), self.window, self.shifted, name="attn")(
            nn.LayerNorm(epsilon=1e-5, name="ln1")(x))
        x = Scale(name="res_scale_1")(x) + h
        h = ConvGlu(2 * c, name="mlp")(nn.LayerNorm(epsilon=1e-5, name="ln2")(x))
        return Scale(name="res_scale_2")(x) + h


class SwinConvStage(nn.Module):
    """Zero-pad to the window; `blocks` gated Swin layers (plain / shifted); 3x3 conv + the padded input; crop.
    """

    blocks: int
    head_dim: int
    window: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        h, w = x.shape[1:3]
        xp = jnp.pad(x, ((0, 0), (0, -h % self.window), (0, -w % self.window), (0, 0)))
        y = xp
        for i in range(self.blocks):
            y = GatedSwinLayer(self.head_dim, self.window, i % 2 == 1, name=f"layers_{i}")(y)
        return (Conv(x.shape[-1], 3, 1, name="conv")(y) + xp)[:, :h, :w]


class DownBlock(nn.Module):
    """5x5 stride-2 conv, three residual bottleneck blocks."""

    features: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        x = Conv(self.features, 5, 2, name="conv")(x)
        for i in range(1, 4):
            x = ResidualBottleneckBlock(self.features, name=f"res{i}")(x)
        return x


class UpBlock(nn.Module):
    """Three residual bottleneck blocks, 5x5 stride-2 transposed conv."""

    features: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        for i in range(1, 4):
            x = ResidualBottleneckBlock(x.shape[-1], name=f"res{i}")(x)
        return ConvTranspose(self.features, 5, 2, name="conv")(x)


class AnalysisDcae(nn.Module):
    """g_a: down, Swin, down, Swin, down, Swin, 5x5 stride-2 conv to M."""

    M: int
    dims: Sequence[int]
    blocks: Sequence[int]
    heads: Sequence[int]
    window: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        for i in range(3):
            x = DownBlock(self.dims[i], name=f"layer_{2 * i}")(x)
            x = SwinConvStage(self.blocks[i], self.heads[i], self.window, name=f"layer_{2 * i + 1}")(x)
        return Conv(self.M, 5, 2, name="layer_6")(x)


class SynthesisDcae(nn.Module):
    """g_s: 5x5 stride-2 transposed conv, then Swin and up blocks back to 3 channels."""

    dims: Sequence[int]
    blocks: Sequence[int]
    heads: Sequence[int]
    window: int

    @nn.compact
    def __call__(self, y: Array) -> Array:
        y = ConvTranspose(self.dims[2], 5, 2, name="layer_0")(y)
        outs = (self.dims[1], self.dims[0], 3)
        for i in range(3):
            y = SwinConvStage(self.blocks[2 - i], self.heads[3 + i], self.window, name=f"layer_{2 * i + 1}")(y)
            y = UpBlock(outs[i], name=f"layer_{2 * i + 2}")(y)
        return y


class HyperAnalysisDcae(nn.Module):
    N: int
    channels: int
    head_dim: int
    window: int

    @nn.compact
    def __call__(self, y: Array) -> Array:
        y = DownBlock(self.N, name="layer_0")(y)
        y = SwinConvStage(1, self.head_dim, self.window, name="layer_1")(y)
        return Conv(self.channels, 3, 2, name="layer_2")(y)


class HyperSynthesisDcae(nn.Module):
    N: int
    M: int
    head_dim: int
    window: int

    @nn.compact
    def __call__(self, z: Array) -> Array:
        z = ConvTranspose(self.N, 3, 2, name="layer_0")(z)
        z = SwinConvStage(1, self.head_dim, self.window, name="layer_1")(z)
        return UpBlock(self.M, name="layer_2")(z)


class SpatialAttention(nn.Module):
    """CBAM's spatial gate: sigmoid(7x7 conv of [channel mean, channel max])."""

    @nn.compact
    def __call__(self, x: Array) -> Array:
        stats = jnp.concatenate([x.mean(-1, keepdims=True), x.max(-1, keepdims=True)], -1)
        return jax.nn.sigmoid(Conv(1, 7, 1, use_bias=False, name="conv1")(stats))


class DenseBlock(nn.Module):
    """Three (GELU, 1x1, GELU, depthwise 3x3, GELU, 1x1) units in a chain; [input, outputs] projected by 1x1."""

    layers: int = 3

    @nn.compact
    def __call__(self, x: Array) -> Array:
        outs = [x]
        for i in range(self.layers):
            outs.append(DepthwiseUnit(name=f"conv_layers_{i}")(gelu(outs[-1])))
        return Conv(x.shape[-1], 1, 1, name="proj")(jnp.concatenate(outs, -1))


class DepthwiseUnit(nn.Module):
    """1x1 conv, GELU, depthwise 3x3, GELU, 1x1 conv."""

    @nn.compact
    def __call__(self, x: Array) -> Array:
        c = x.shape[-1]
        x = gelu(Conv(c, 1, 1, name="in_trans")(x))
        x = gelu(DepthwiseConv(3, name="dw_conv")(x))
        return Conv(c, 1, 1, name="out_trans")(x)


class MultiScaleAggregation(nn.Module):
    """1x1 conv `s`, dense block, times the spatial attention of the result."""

    @nn.compact
    def __call__(self, x: Array) -> Array:
        x = DenseBlock(name="dense")(Conv(x.shape[-1], 1, 1, name="s")(x))
        return x * SpatialAttention(name="spatial_atte")(x)


class DictionaryCrossAttention(nn.Module):
    """Dictionary cross-attention of one slice: support (B, H, W, C), dictionary (n, D) -> (B, H, W, out)."""

    out: int
    heads: int

    @nn.compact
    def __call__(self, x: Array, dictionary: Array) -> Array:
        b, h, w, _ = x.shape
        n, d = dictionary.shape
        scale = self.param("scale", nn.initializers.ones, (self.heads, 1, 1))
        x = nn.Dense(d, name="x_trans")(x)
        x = MultiScaleAggregation(name="msa")(nn.LayerNorm(epsilon=1e-5, name="ln_scale")(x)) + \
            Scale(name="res_scale_1")(x)
        q = nn.Dense(d, name="q_trans")(nn.LayerNorm(epsilon=1e-5, name="lnx")(x))
        q = q.reshape(b, h * w, self.heads, d // self.heads)
        dic = nn.LayerNorm(epsilon=1e-5, name="dict_ln")(dictionary)
        k = nn.Dense(d, name="k")(dic).reshape(n, self.heads, d // self.heads)
        v = dic.reshape(n, self.heads, d // self.heads)
        scores = jnp.einsum("bqec,nec->beqn", q, k) * scale[None]
        att = jnp.einsum("beqn,nec->bqec", jax.nn.softmax(scores, axis=-1), v).reshape(b, h, w, d)
        x = nn.Dense(d, name="linear")(att) + Scale(name="res_scale_2")(x)
        x = ConvGlu(2 * d, name="mlp")(nn.LayerNorm(epsilon=1e-5, name="ln_mlp")(x)) + \
            Scale(name="res_scale_3")(x)
        return nn.Dense(self.out, name="output_trans")(x)


class Dcae(LatentCodecModel):
    """DCAE: the transforms above and one latent-codec composition (module docstring)."""

    N: int = 192
    M: int = 320
    feature_dims: tuple[int, ...] = (96, 144, 256)
    blocks: tuple[int, ...] = (1, 2, 12)
    head_dims: tuple[int, ...] = (8, 16, 32, 32, 16, 8)
    window: int = 8
    hyper_channels: int = 192
    hyper_window: int = 4
    hyper_head_dim: int = 32
    slices: int = 5
    max_support: int = 5
    dict_num: int = 128
    dict_dim: int = 640
    dict_heads: int = 20
    context_widths: tuple[int, ...] = CONTEXT_WIDTHS
    filters: tuple[int, ...] = (3, 3, 3, 3)

    def slice_channels(self) -> int:
        if self.M % self.slices or self.dict_dim % self.dict_heads:
            raise ValueError(f"DCAE needs M={self.M} divisible by slices={self.slices} and dict_dim divisible "
                             "by dict_heads")
        return self.M // self.slices

    def setup(self):
        s, n = self.slice_channels(), self.slices
        self.g_a = AnalysisDcae(self.M, self.feature_dims, self.blocks, self.head_dims, self.window)
        self.g_s = SynthesisDcae(self.feature_dims, self.blocks, self.head_dims, self.window)
        self.h_a = HyperAnalysisDcae(self.N, self.hyper_channels, self.hyper_head_dim, self.hyper_window)
        self.h_mean_s = HyperSynthesisDcae(self.N, self.M, self.hyper_head_dim, self.hyper_window)
        self.h_scale_s = HyperSynthesisDcae(self.N, self.M, self.hyper_head_dim, self.hyper_window)
        eb = self.param("entropy_bottleneck",
                        lambda key: factorized.init(key, self.hyper_channels, self.filters))
        self.dictionary = self.param("dictionary", nn.initializers.normal(1.0), (self.dict_num, self.dict_dim))
        self.cross_attention = [DictionaryCrossAttention(self.M, self.dict_heads) for _ in range(n)]
        self.mean_cc = [ConvStack((*self.context_widths, s), 3, gelu) for _ in range(n)]
        self.scale_cc = [ConvStack((*self.context_widths, s), 3, gelu) for _ in range(n)]
        self.lrp = [ConvStack((*self.context_widths, s), 3, gelu) for _ in range(n)]
        groups = ChannelGroups(
            groups=(s,) * n, codecs=(GaussianConditional(quantizer="ste"),) * n,
            channel_context=[lambda prev, side, k=k: self.slice_params(k, prev, side) for k in range(n)],
            lrp=[lambda prev, side, y_k, k=k: self.slice_lrp(k, prev, side, y_k) for k in range(n)],
            context_takes_side=True)
        self.latent_codec = Hyperprior(y=groups, z=EntropyBottleneck(eb, quantizer="noise"), h_a=self.h_a,
                                       h_s=self.side)

    def side(self, z_hat: Array) -> Array:
        """h_s: [latent means, latent scales] (M each)."""
        return jnp.concatenate([self.h_mean_s(z_hat), self.h_scale_s(z_hat)], -1)

    def support(self, k: int, prev: Array, side: Array) -> Array:
        """[means, scales, y_hat of the first min(k, max_support) slices, dictionary feature] of slice k."""
        used = k if self.max_support < 0 else min(k, self.max_support)
        x = jnp.concatenate([side, prev[..., :self.slice_channels() * used]], -1)
        return jnp.concatenate([x, self.cross_attention[k](x, self.dictionary)], -1)

    def slice_params(self, k: int, prev: Array, side: Array) -> Array:
        """(scales, means) of slice k."""
        x = self.support(k, prev, side)
        return jnp.concatenate([self.scale_cc[k](x), self.mean_cc[k](x)], -1)

    def slice_lrp(self, k: int, prev: Array, side: Array, y_k: Array) -> Array:
        """0.5 tanh(lrp([support, y_hat_k]))."""
        return 0.5 * jnp.tanh(self.lrp[k](jnp.concatenate([self.support(k, prev, side), y_k], -1)))


def parameter_count(**kwargs) -> int:
    """Parameters of `Dcae(**kwargs)` (via `jax.eval_shape`, nothing allocated)."""
    module = Dcae(**kwargs)
    shapes = jax.eval_shape(lambda key: module.init({"params": key, "noise": key}, jnp.zeros((1, 64, 64, 3)),
                                                    True)["params"], jax.random.PRNGKey(0))
    return sum(math.prod(x.shape) for x in jax.tree.leaves(shapes))


# λ (MSE, loss λ·255²·MSE + bpp) of the six released DCAE models (DCAE README, commit bd00306).
LAMBDAS = {1: 0.0018, 2: 0.0035, 3: 0.0067, 4: 0.013, 5: 0.025, 6: 0.05}
register("dcae", Dcae, {q: {"N": 192, "M": 320} for q in LAMBDAS}, stride=64)

__all__: Sequence[str] = ["LAMBDAS", "Dcae", "parameter_count"]
