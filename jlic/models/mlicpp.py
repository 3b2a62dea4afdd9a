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
conv hyperprior with GELU. The coding lives in the latent codecs: one ChannelGroups of Checkerboards with
context functions (`jlic.latent_codecs.checkerboard`); this file only composes networks.

Training and evaluation can run the 10 slices as one ``lax.scan`` (``scan_slices``): each
slice's parameters are zero-padded to the widest slice's inputs (slice 0's missing contexts are zero
networks) and stacked, so the step holds one slice's program instead of ten (156k optimised HLO
instructions against 226k; the compile time on XLA:CPU stayed 115 s against 113 s). The parameters keep the
official layout; the padded slices compute what the unrolled ones do (tested to float rounding). The
padding costs compute: the contexts of slice k read all 9 previous-slice widths, not k.

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

from jlic.entropy import factorized
from jlic.latent_codecs import (
    ChannelGroups,
    Checkerboard,
    EntropyBottleneck,
    GaussianConditional,
    GroupScan,
    Hyperprior,
)
from jlic.latent_codecs.checkerboard import anchor_mask
from jlic.layers import ConvStack
from jlic.layers.linear_attention import DepthwiseConv, linear_attention
from jlic.layers.window_attention import OverlappingWindowAttention, pair_mask
from jlic.models.base import LatentCodecModel
from jlic.models.cheng2020 import ResidualBlock, ResidualBlockUpsample, ResidualBlockWithStride
from jlic.models.registry import register
from jlic.ops.conv import Conv, SubpelConv
from jlic.ops.initializers import fan_in_uniform, uniform

Array = jax.Array

PARITY = "odd"  # MLIC++'s anchors: (i + j) odd


def gelu(x: Array) -> Array:
    """PyTorch's default (exact, erf) GELU."""
    return nn.gelu(x, approximate=False)


def insert_zeros(x: Array, axis: int, at: int, size: int) -> Array:
    """``x`` with ``size`` zeros inserted before index ``at`` of ``axis`` (a weight for extra zero inputs)."""
    if size == 0:
        return x
    shape = list(x.shape)
    shape[axis] = size
    return jnp.concatenate([jax.lax.slice_in_dim(x, 0, at, axis=axis), jnp.zeros(shape, x.dtype),
                            jax.lax.slice_in_dim(x, at, x.shape[axis], axis=axis)], axis)


def residual_prediction(net: Callable[[Array], Array], hyper: Array, prev: Array, y_k: Array, m: int) -> Array:
    """0.5 tanh(net([hyper means, y_hat[<k], slice k])) (MLIC++'s latent residual prediction)."""
    return 0.5 * jnp.tanh(net(jnp.concatenate([hyper[..., m:], prev, y_k], -1)))


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


class HyperAnalysisMlic(nn.Module):
    """h_a: conv3x3 (M->N) GELU conv3x3 GELU conv3x3 s2 GELU conv3x3 GELU conv3x3 s2."""

    N: int

    @nn.compact
    def __call__(self, y: Array) -> Array:
        for i, s in enumerate((1, 1, 2, 1, 2)):
            y = Conv(self.N, 3, s, name=f"layer_{2 * i}")(gelu(y) if i else y)
        return y


class HyperSynthesisMlic(nn.Module):
    """h_s: conv3x3 (N->M) GELU subpel x2 GELU conv3x3 (->3M/2) GELU subpel x2 GELU conv3x3 (->2M)."""

    M: int

    @nn.compact
    def __call__(self, z: Array) -> Array:
        m, m3 = self.M, self.M * 3 // 2
        z = gelu(Conv(m, 3, 1, name="layer_0")(z))
        z = gelu(SubpelConv(m, 2, name="layer_2")(z))
        z = gelu(Conv(m3, 3, 1, name="layer_4")(z))
        z = gelu(SubpelConv(m3, 2, name="layer_6")(z))
        return Conv(2 * m, 3, 1, name="layer_8")(z)


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
    """Linear attention over all decoded slices (``heads`` heads), 5x5 reprojection to 3/2 out, skip + MLP."""

    heads: int
    out: int

    @nn.compact
    def __call__(self, prev: Array) -> Array:
        q, k, v = (Projection(name=n)(prev) for n in ("queries", "keys", "values"))
        att = Conv(self.out * 3 // 2, 5, 1, name="reprojection")(linear_attention(q, k, v, self.heads))
        return Conv(self.out, 1, 1, name="skip")(att) + PointwiseMlp(2 * self.out, self.out, name="mlp")(att)


class GlobalIntraContext(nn.Module):
    """Linear attention with queries from the previous slice's non-anchors, keys from its anchors and values
    from the current slice's decoded anchors (the previous slice's anchor-to-non-anchor map applied to this
    one); 5x5 reprojection to 2C and a residual MLP."""

    heads: int = 2

    @nn.compact
    def __call__(self, last: Array, anchors: Array) -> Array:
        c = last.shape[-1]
        a = anchor_mask(last.shape[1], last.shape[2], PARITY)
        am = jnp.asarray(a, last.dtype)[..., None]
        q = Projection(name="queries")(last * (1 - am))
        k = Projection(name="keys")(last * am)
        v = Projection(name="values")(anchors)
        att = Conv(2 * c, 5, 1, name="reprojection")(linear_attention(q, k, v, self.heads, a, ~a))
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
    scan_slices: bool = True

    def slice_channels(self) -> int:
        if self.M % self.slices:
            raise ValueError(f"MLIC++ needs M={self.M} divisible by slices={self.slices}")
        return self.M // self.slices

    def setup(self):
        s, n = self.slice_channels(), self.slices
        self.g_a = AnalysisMlic(self.N, self.M)
        self.g_s = SynthesisMlic(self.N, self.M)
        self.h_a = HyperAnalysisMlic(self.N)
        self.h_s = HyperSynthesisMlic(self.M)
        eb = self.param("entropy_bottleneck", lambda key: factorized.init(key, self.N, self.filters))
        self.channel_context = [ConvStack((*self.channel_widths, 4 * s), 3, gelu) for _ in range(1, n)]
        self.global_inter_context = [GlobalInterContext(k, 2 * s) for k in range(1, n)]
        self.global_intra_context = [GlobalIntraContext(self.intra_heads) for _ in range(1, n)]
        self.local_context = [LocalContext(self.local_heads, self.window) for _ in range(n)]
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
            context_takes_side=True,
            scan=GroupScan(self.stacked_slice_params, self.scanned_codec, self.scanned_side, self.scanned_lrp,
                           enabled=lambda: self.scan_slices and n > 1 and not self.is_initializing()))
        self.latent_codec = Hyperprior(y=groups, z=EntropyBottleneck(eb, quantizer="ste"), h_a=self.h_a,
                                       h_s=self.h_s)

    # ----------------------------------------------------------------- the context functions of slice k

    def slice_side(self, k: int, prev: Array, hyper: Array) -> dict[str, Array]:
        """What both passes of slice k see: the hyperprior output, y_hat[<k] and its two contexts."""
        side = {"hyper": hyper, "prev": prev}
        if k:
            side["inter"] = self.global_inter_context[k - 1](prev)
            side["channel"] = self.channel_context[k - 1](prev)
        return side

    def anchor_params(self, k: int, side: dict[str, Array]) -> Array:
        parts = [side["inter"], side["channel"], side["hyper"]] if k else [side["hyper"]]
        return self.entropy_parameters_anchor[k](jnp.concatenate(parts, -1))

    def nonanchor_params(self, k: int, y_a: Array, side: dict[str, Array]) -> Array:
        parts = [self.local_context[k](y_a)]
        if k:
            last = side["prev"][..., -self.slice_channels():]
            parts += [self.global_intra_context[k - 1](last, y_a), side["inter"], side["channel"]]
        return self.entropy_parameters_nonanchor[k](jnp.concatenate([*parts, side["hyper"]], -1))

    def lrp(self, net: nn.Module, hyper: Array, prev: Array, y_k: Array) -> Array:
        return residual_prediction(net, hyper, prev, y_k, self.M)

    def nonanchor_lrp(self, k: int, prev: Array, hyper: Array, y_k: Array) -> Array:
        nonanchor = ~anchor_mask(y_k.shape[1], y_k.shape[2], PARITY)
        return self.lrp(self.lrp_nonanchor[k], hyper, prev, y_k) * jnp.asarray(nonanchor, y_k.dtype)[..., None]

    # ------------------------------------------------------- the same slices as one scan (training, eval)

    def slice_templates(self) -> dict[str, nn.Module]:
        """Unbound networks of a scanned slice; its contexts read all ``(slices - 1) * s`` previous channels."""
        s, n = self.slice_channels(), self.slices
        ep = (*self.parameter_widths, 2 * s)
        return {"channel": ConvStack((*self.channel_widths, 4 * s), 3, gelu, parent=None),
                "inter": GlobalInterContext(n - 1, 2 * s, parent=None),
                "intra": GlobalIntraContext(self.intra_heads, parent=None),
                "local": LocalContext(self.local_heads, self.window, parent=None),
                "ep_a": ConvStack(ep, 1, gelu, parent=None), "ep_n": ConvStack(ep, 1, gelu, parent=None),
                "lrp_a": ConvStack((*self.lrp_widths, s), 3, gelu, parent=None),
                "lrp_n": ConvStack((*self.lrp_widths, s), 3, gelu, parent=None)}

    def stacked_slice_params(self) -> dict:
        """Every slice's parameters padded to the scanned slice's shapes, stacked on a leading axis."""
        p, s, n, m = self.variables["params"], self.slice_channels(), self.slices, self.M
        width = (n - 1) * s

        def first(tree: dict, at: int, size: int) -> dict:  # zero input rows for the first conv
            conv = tree["layer_0"]
            return {**tree, "layer_0": {**conv, "kernel": insert_zeros(conv["kernel"], 2, at, size)}}

        def attention_inputs(tree: dict, have: int) -> dict:  # q/k/v projections and reprojection to `width`
            pad, out = width - have, dict(tree)
            for name in ("queries", "keys", "values"):
                conv, dw = tree[name]["layer_0"], tree[name]["layer_1"]
                kernel = insert_zeros(insert_zeros(conv["kernel"], 2, have, pad), 3, have, pad)
                out[name] = {"layer_0": {"kernel": kernel,
                                         "bias": insert_zeros(conv["bias"], 0, have, pad)},
                             "layer_1": {"kernel": insert_zeros(dw["kernel"], 3, have, pad),
                                         "bias": insert_zeros(dw["bias"], 0, have, pad)}}
            out["reprojection"] = first({"layer_0": tree["reprojection"]}, have, pad)["layer_0"]
            return out

        slots = []
        for k in range(n):
            have = k * s  # previous channels slice k reads
            slot = {"local": p[f"local_context_{k}"],
                    "lrp_a": first(p[f"lrp_anchor_{k}"], m + have, width - have),
                    "lrp_n": first(p[f"lrp_nonanchor_{k}"], m + have, width - have)}
            if k:
                slot |= {"channel": first(p[f"channel_context_{k - 1}"], have, width - have),
                         "inter": attention_inputs(p[f"global_inter_context_{k - 1}"], have),
                         "intra": p[f"global_intra_context_{k - 1}"],
                         "ep_a": p[f"entropy_parameters_anchor_{k}"],
                         "ep_n": p[f"entropy_parameters_nonanchor_{k}"]}
            else:  # no contexts: zero networks, and zero weights for their inputs
                slot |= {"ep_a": first(p["entropy_parameters_anchor_0"], 0, 6 * s),
                         "ep_n": first(p["entropy_parameters_nonanchor_0"], 2 * s, 8 * s)}
            slots.append(slot)
        for name in ("channel", "inter", "intra"):
            slots[0][name] = jax.tree.map(jnp.zeros_like, slots[1][name])
        return jax.tree.map(lambda *xs: jnp.stack(xs), *slots)

    def scanned_side(self, params: dict, k: Array, prev: Array, hyper: Array) -> dict[str, Array]:
        """`slice_side` of a scanned slice (``prev``: all of y, zero from slice k on)."""
        s, t = self.slice_channels(), self.slice_templates()
        prev = prev[..., :(self.slices - 1) * s]
        return {"hyper": hyper, "prev": prev,
                "last": jax.lax.dynamic_slice_in_dim(prev, jnp.maximum(k - 1, 0) * s, s, axis=-1),
                "inter": t["inter"].apply({"params": params["inter"]}, prev),
                "channel": t["channel"].apply({"params": params["channel"]}, prev)}

    def scanned_codec(self, params: dict) -> Checkerboard:
        """Slice k's checkerboard with the scanned networks of its parameters."""
        t, m = self.slice_templates(), self.M

        def net(name: str) -> Callable[..., Array]:
            return lambda *x: t[name].apply({"params": params[name]}, *x)

        def nonanchor(y_a: Array, side: dict[str, Array]) -> Array:
            parts = [net("local")(y_a), net("intra")(side["last"], y_a), side["inter"], side["channel"]]
            return net("ep_n")(jnp.concatenate([*parts, side["hyper"]], -1))

        return Checkerboard(
            GaussianConditional(quantizer="ste"), anchor_parity=PARITY,
            anchor_parameters=lambda side: net("ep_a")(jnp.concatenate([side["inter"], side["channel"],
                                                                         side["hyper"]], -1)),
            nonanchor_parameters=nonanchor,
            anchor_lrp=lambda y_a, side: residual_prediction(net("lrp_a"), side["hyper"], side["prev"], y_a, m))

    def scanned_lrp(self, params: dict, prev: Array, hyper: Array, y_k: Array) -> Array:
        t, width = self.slice_templates(), (self.slices - 1) * self.slice_channels()
        nonanchor = ~anchor_mask(y_k.shape[1], y_k.shape[2], PARITY)
        r = residual_prediction(lambda x: t["lrp_n"].apply({"params": params["lrp_n"]}, x), hyper,
                                prev[..., :width], y_k, self.M)
        return r * jnp.asarray(nonanchor, y_k.dtype)[..., None]


def parameter_count(**kwargs) -> int:
    """Parameters of `Mlicpp(**kwargs)` (via `jax.eval_shape`, nothing allocated)."""
    module = Mlicpp(**kwargs)
    shapes = jax.eval_shape(lambda key: module.init({"params": key, "noise": key}, jnp.zeros((1, 64, 64, 3)),
                                                    True)["params"], jax.random.PRNGKey(0))
    return sum(math.prod(x.shape) for x in jax.tree.leaves(shapes))


register("mlicpp", Mlicpp, {q: {"N": 192, "M": 320} for q in range(1, 7)}, stride=64)

__all__: Sequence[str] = ["Mlicpp", "parameter_count"]
