"""Jiang, Yang, Zhai, Gao, Wang 2023, "MLIC++: Linear complexity multi-reference entropy modeling for learned
image compression", arXiv 2307.15421: `mlicpp`.

Sizes of the official code (JiangWeibeta/MLIC, `MLIC++/`, the fixed 2024 version): N=192, M=320, y in 10
slices of 32 channels, each coded in two checkerboard passes (anchors at (i+j) odd), 20 sequential steps in
one stream. Per slice k, from the decoded slices y_hat[<k] and the hyperprior output ``h_s(z_hat)`` (2M:
scales then means):

- channel context: 3x3 convs (32k -> 192 -> 128 -> 4*32), GELU;
- global inter-slice context: softmax-factorised linear attention over y_hat[<k] (k heads of 32), 5x5
  reprojection to 96, 1x1 skip + MLP (1x1, depthwise 3x3, 1x1) to 64;
- anchors: entropy parameters (1x1 MLP -> 320 -> 256 -> 128 -> 64, GELU) of [inter, channel, hyper];
  then a latent residual prediction (3x3 convs -> 224 -> 128 -> 32, 0.5 tanh) of [hyper means, y_hat[<k],
  anchors] added at the anchors;
- local context: 5x5 overlapping-window attention (2 heads, relative-position bias, keys that are not
  anchors masked) over the decoded anchors, a 5x5 fusion to 64, projection and MLP;
- global intra-slice context (k >= 1): linear attention with queries from slice k-1's non-anchors, keys
  from its anchors and values from slice k's anchors, 5x5 reprojection, residual MLP, 64 channels;
- non-anchors: entropy parameters of [local, intra, inter, channel, hyper], then the LRP at the non-anchors.

Transforms: Cheng2020's residual blocks with GELU and GDN/IGDN (g_a: 3 strided residual blocks, 3 residual
blocks, a 3x3 stride-2 conv; g_s: residual blocks, 3 sub-pixel upsampling blocks, a sub-pixel conv), a 3x3
conv hyperprior with GELU (`jlic.layers.hyper`). The coding lives in the latent codecs: one ChannelGroups of
Checkerboards with context functions (`jlic.latent_codecs.checkerboard`); this file only composes networks.

MLIC and MLIC+ (`jlic.models.mlic`) are this model with other context networks: they override
`make_local_context`, `make_inter_contexts` and `make_intra_context`.

Generalised sizes (for CPU-sized variants): `slices` slices of M/slices channels, the inter-slice context
with one head per previous slice (head width M/slices; the official `slice_ch * k // 32` heads is the same
at 32 channels per slice) and the fixed widths of the official code as arguments.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jlic.latent_codecs import ChannelGroups, Checkerboard, GaussianConditional
from jlic.latent_codecs.checkerboard import anchor_mask
from jlic.layers import ConvStack
from jlic.layers.hyper import GeluHyperAnalysis, GeluHyperSynthesis, gelu
from jlic.layers.linear_attention import DepthwiseConv, linear_attention
from jlic.layers.window_attention import OverlappingWindowAttention, pair_mask
from jlic.models.base import LatentCodecModel, factorized_hyperprior
from jlic.models.cheng2020 import ResidualBlock, ResidualBlockUpsample, ResidualBlockWithStride
from jlic.models.registry import register
from jlic.ops.conv import Conv, SubpelConv
from jlic.ops.initializers import fan_in_uniform, uniform

Array = jax.Array

PARITY = "odd"  # MLIC++'s anchors: (i + j) odd


class AnalysisMlic(nn.Module):
    """g_a: RBWS(3->N) RB RBWS RB RBWS RB conv3x3 s2 (N->M); GELU + GDN residual blocks."""

    N: int
    M: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        for i in range(3):
            x = ResidualBlockWithStride(self.N, activation=gelu, name=f"layer_{2 * i}")(x)
            x = ResidualBlock(self.N, activation=gelu, name=f"layer_{2 * i + 1}")(x)
        return Conv(self.M, 3, 2, name="layer_6")(x)


class SynthesisMlic(nn.Module):
    """g_s (fixed 2024 version): RB(M) RBU(M->N) RB RBU RB RBU RB subpel3x3(N->3, x2)."""

    N: int
    M: int

    @nn.compact
    def __call__(self, y: Array) -> Array:
        y = ResidualBlock(self.M, activation=gelu, name="layer_0")(y)
        for i in range(3):
            y = ResidualBlockUpsample(self.N, activation=gelu, name=f"layer_{2 * i + 1}")(y)
            y = ResidualBlock(self.N, activation=gelu, name=f"layer_{2 * i + 2}")(y)
        return SubpelConv(3, 2, name="layer_7")(y)


class PointwiseMlp(nn.Module):
    """1x1 conv (-> hidden) GELU depthwise 3x3 GELU 1x1 conv (-> out): the MLP of the global contexts."""

    hidden: int
    out: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        x = gelu(Conv(self.hidden, 1, 1, name="layer_0")(x))
        x = gelu(DepthwiseConv(3, name="layer_2")(x))
        return Conv(self.out, 1, 1, name="layer_4")(x)


class Projection(nn.Module):
    """1x1 conv then depthwise 3x3: the query / key / value projection of the linear attention."""

    @nn.compact
    def __call__(self, x: Array) -> Array:
        return DepthwiseConv(3, name="layer_1")(Conv(x.shape[-1], 1, 1, name="layer_0")(x))


class GlobalInterContext(nn.Module):
    """Linear attention over all decoded slices (``heads`` heads), 5x5 reprojection to 3/2 out, skip + MLP.
    ``attention``: MLIC++'s linear attention, or MLIC+'s full one (`jlic.layers.grid_attention`)."""

    heads: int
    out: int
    attention: Callable[..., Array] = linear_attention

    @nn.compact
    def __call__(self, prev: Array) -> Array:
        q, k, v = (Projection(name=n)(prev) for n in ("queries", "keys", "values"))
        att = Conv(self.out * 3 // 2, 5, 1, name="reprojection")(self.attention(q, k, v, self.heads))
        return Conv(self.out, 1, 1, name="skip")(att) + PointwiseMlp(2 * self.out, self.out, name="mlp")(att)


class GlobalIntraContext(nn.Module):
    """Linear attention with queries from the previous slice's non-anchors, keys from its anchors and values
    from the current slice's decoded anchors (the previous slice's anchor-to-non-anchor map applied to this
    one); 5x5 reprojection to 2C and a residual MLP. ``attention``: as `GlobalInterContext`, called with the
    key (anchor) and query (non-anchor) masks."""

    heads: int = 2
    attention: Callable[..., Array] = linear_attention

    @nn.compact
    def __call__(self, last: Array, anchors: Array) -> Array:
        c = last.shape[-1]
        a = anchor_mask(last.shape[1], last.shape[2], PARITY)
        am = jnp.asarray(a, last.dtype)[..., None]
        q = Projection(name="queries")(last * (1 - am))
        k = Projection(name="keys")(last * am)
        v = Projection(name="values")(anchors)
        att = Conv(2 * c, 5, 1, name="reprojection")(self.attention(q, k, v, self.heads, a, ~a))
        return att + PointwiseMlp(4 * c, 2 * c, name="mlp")(att)


class LocalContext(nn.Module):
    """5x5 overlapping-window attention over the decoded anchors (non-anchor keys masked), a window x window
    fusion to 2C, a projection and a pre-norm MLP (ratio 2)."""

    heads: int = 2
    window: int = 5
    mlp_ratio: int = 2

    @nn.compact
    def __call__(self, anchors: Array) -> Array:
        b, h, w, c = anchors.shape
        mask = jnp.asarray(pair_mask(anchor_mask(h, w, PARITY), self.window))
        x = nn.LayerNorm(epsilon=1e-5, name="norm1")(anchors)
        x = OverlappingWindowAttention(c, self.heads, self.window, name="attn")(x, mask)  # (B, H, W, n, C)
        n = self.window * self.window
        fusion = self.param("fusion_kernel", fan_in_uniform((0,)), (n * c, 2 * c), jnp.float32)
        bound = 1.0 / math.sqrt(n * c)
        x = (x.reshape(-1, n * c) @ fusion).reshape(b, h, w, 2 * c)
        x = x + self.param("fusion_bias", lambda key, s: uniform(key, s, jnp.float32, -bound, bound), (2 * c,))
        x = nn.Dense(2 * c, name="proj")(x)
        y = nn.LayerNorm(epsilon=1e-5, name="norm2")(x)
        y = nn.Dense(2 * c, name="mlp_fc2")(gelu(nn.Dense(2 * c * self.mlp_ratio, name="mlp_fc1")(y)))
        return x + y


class Mlicpp(LatentCodecModel):
    """MLIC++: g_a / g_s above and one latent-codec composition (no coding code of its own):

    hyperprior(y = channel groups(slices, per slice checkerboard(Gaussian conditional, anchor and non-anchor
    context functions, anchor LRP), side of slice k = {hyper, previous slices, their inter and channel
    contexts}, non-anchor LRP), z = entropy bottleneck), straight-through rounding of y around the means and
    of z around the medians for the decoder path in training.
    """

    N: int = 192
    M: int = 320
    slices: int = 10
    window: int = 5
    channel_widths: tuple[int, ...] = (192, 128)
    parameter_widths: tuple[int, ...] = (320, 256, 128)
    lrp_widths: tuple[int, ...] = (224, 128)
    local_heads: int = 2
    intra_heads: int = 2
    filters: tuple[int, ...] = (3, 3, 3, 3)
    inter_head_width: int = 0

    def slice_channels(self) -> int:
        if self.M % self.slices:
            raise ValueError(f"MLIC++ needs M={self.M} divisible by slices={self.slices}")
        return self.M // self.slices

    def inter_heads(self, k: int) -> int:
        """Heads of the inter-slice context over k slices: one per slice (``inter_head_width=0``, the official
        code), or CompressAI's ``C // inter_head_width`` (at least 1) lowered to a divisor of C = k * slice
        channels (the same at 32 channels per slice and width 32)."""
        if not self.inter_head_width:
            return k
        c = k * self.slice_channels()
        heads = max(1, c // self.inter_head_width)
        while c % heads:
            heads -= 1
        return heads

    # The context networks; MLIC and MLIC+ (jlic.models.mlic) override these three.

    def make_local_context(self) -> nn.Module:
        """The non-anchors' context of a slice's decoded anchors (output 2 x slice channels)."""
        return LocalContext(self.local_heads, self.window)

    def make_inter_contexts(self) -> list[nn.Module]:
        """The global inter-slice contexts of slices 1..n-1 (none: no such context)."""
        s = self.slice_channels()
        return [GlobalInterContext(self.inter_heads(k), 2 * s) for k in range(1, self.slices)]

    def make_intra_context(self) -> nn.Module:
        """The global intra-slice context of one slice k >= 1."""
        return GlobalIntraContext(self.intra_heads)

    def setup(self):
        s, n = self.slice_channels(), self.slices
        self.g_a = AnalysisMlic(self.N, self.M)
        self.g_s = SynthesisMlic(self.N, self.M)
        self.h_a = GeluHyperAnalysis((self.N,) * 5)
        self.h_s = GeluHyperSynthesis((self.M, self.M, self.M * 3 // 2, self.M * 3 // 2, 2 * self.M))
        self.channel_context = [ConvStack((*self.channel_widths, 4 * s), 3, gelu) for _ in range(1, n)]
        self.global_inter_context = self.make_inter_contexts()
        self.global_intra_context = [self.make_intra_context() for _ in range(1, n)]
        self.local_context = [self.make_local_context() for _ in range(n)]
        ep = (*self.parameter_widths, 2 * s)
        self.entropy_parameters_anchor = [ConvStack(ep, 1, gelu) for _ in range(n)]
        self.entropy_parameters_nonanchor = [ConvStack(ep, 1, gelu) for _ in range(n)]
        self.lrp_anchor = [ConvStack((*self.lrp_widths, s), 3, gelu) for _ in range(n)]
        self.lrp_nonanchor = [ConvStack((*self.lrp_widths, s), 3, gelu) for _ in range(n)]
        codecs = tuple(Checkerboard(
            GaussianConditional(quantizer="ste"), anchor_parity=PARITY,
            anchor_parameters=lambda side, k=k: self.anchor_params(k, side),
            nonanchor_parameters=lambda y_a, side, k=k: self.nonanchor_params(k, y_a, side),
            anchor_lrp=lambda y_a, side, k=k: self.lrp(self.lrp_anchor[k], side["hyper"], side["prev"], y_a))
            for k in range(n))
        groups = ChannelGroups(
            groups=(s,) * n, codecs=codecs,
            channel_context=[lambda prev, hyper, k=k: self.slice_side(k, prev, hyper) for k in range(n)],
            lrp=[lambda prev, hyper, y_k, k=k: self.nonanchor_lrp(k, prev, hyper, y_k) for k in range(n)],
            context_takes_side=True)
        self.latent_codec = factorized_hyperprior(self, groups, self.h_a, z_quantizer="ste", h_s=self.h_s)

    # ----------------------------------------------------------------- the context functions of slice k

    def slice_side(self, k: int, prev: Array, hyper: Array) -> dict[str, Array]:
        """What both passes of slice k see: the hyperprior output, y_hat[<k] and its two contexts."""
        side = {"hyper": hyper, "prev": prev}
        if k:
            if self.global_inter_context:
                side["inter"] = self.global_inter_context[k - 1](prev)
            side["channel"] = self.channel_context[k - 1](prev)
        return side

    @staticmethod
    def slice_contexts(side: dict[str, Array]) -> list[Array]:
        """The inter-slice and channel contexts of a slice's side input, in the official order."""
        return [side[n] for n in ("inter", "channel") if n in side]

    def anchor_params(self, k: int, side: dict[str, Array]) -> Array:
        parts = [*self.slice_contexts(side), side["hyper"]]
        return self.entropy_parameters_anchor[k](jnp.concatenate(parts, -1))

    def nonanchor_params(self, k: int, y_a: Array, side: dict[str, Array]) -> Array:
        parts = [self.local_context[k](y_a)]
        if k:
            last = side["prev"][..., -self.slice_channels():]
            parts += [self.global_intra_context[k - 1](last, y_a), *self.slice_contexts(side)]
        return self.entropy_parameters_nonanchor[k](jnp.concatenate([*parts, side["hyper"]], -1))

    def lrp(self, net: nn.Module, hyper: Array, prev: Array, y_k: Array) -> Array:
        """0.5 tanh(net([hyper means, y_hat[<k], slice k])) (MLIC++'s latent residual prediction)."""
        means = hyper[..., self.M:]
        return 0.5 * jnp.tanh(net(jnp.concatenate([means, prev, y_k], -1)))

    def nonanchor_lrp(self, k: int, prev: Array, hyper: Array, y_k: Array) -> Array:
        nonanchor = ~anchor_mask(y_k.shape[1], y_k.shape[2], PARITY)
        return self.lrp(self.lrp_nonanchor[k], hyper, prev, y_k) * jnp.asarray(nonanchor, y_k.dtype)[..., None]


def parameter_count(cls: type[Mlicpp] = Mlicpp, **kwargs) -> int:
    """Parameters of `cls(**kwargs)` (MLIC++ or a variant; via `jax.eval_shape`, nothing allocated)."""
    module = cls(**kwargs)
    shapes = jax.eval_shape(lambda key: module.init({"params": key, "noise": key}, jnp.zeros((1, 64, 64, 3)),
                                                    True)["params"], jax.random.PRNGKey(0))
    return sum(math.prod(x.shape) for x in jax.tree.leaves(shapes))


register("mlicpp", Mlicpp, {q: {"N": 192, "M": 320} for q in range(1, 7)}, stride=64)

__all__: Sequence[str] = ["Mlicpp", "parameter_count"]
