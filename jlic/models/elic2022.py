"""He, Yang, Peng, Ma, Qin, Wang 2022, "ELIC: Efficient learned image compression with unevenly grouped
space-channel contextual adaptive coding", arXiv 2203.10886: `elic2022`.

Layer list of CompressAI's `Elic2022Official` (so its state_dicts map one to one): transforms of 5x5 stride-2
convs with residual bottleneck blocks and simplified attention (no GDN); the hyperprior `h_s` outputs 2N
"side params" (not split); y (M channels) is coded in uneven channel groups (16, 16, 32, 64, M - 128), each
with a 5x5 checkerboard spatial context, a channel context from all previous groups (5x5 convs -> 224 -> 128
-> 2g) and a 1x1 parameter aggregation (widths ramping linearly to 2g, at least 2N) whose output is
(scales, means).
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax

from jlic.latent_codecs import ChannelGroups, Checkerboard, GaussianConditional
from jlic.layers import AttentionBlock, ConvStack, ResidualBottleneckBlock, channel_ramp
from jlic.models.base import LatentCodecModel, factorized_hyperprior
from jlic.models.registry import register
from jlic.ops.conv import Conv, ConvTranspose
from jlic.ops.masked import MaskedConv

Array = jax.Array

PAPER_GROUPS = (16, 16, 32, 64)  # the first four groups; the fifth takes the rest, M - 128
CONTEXT_WIDTHS = (224, 128)  # hidden widths of the channel context g_ch


def default_groups(M: int) -> tuple[int, ...]:
    """ELIC's groups for M latent channels: (16, 16, 32, 64, M - 128), or for M <= 128 the paper's
    proportions 1:1:2:4:12 scaled to M (which must then be a multiple of 20)."""
    if M > sum(PAPER_GROUPS):
        return (*PAPER_GROUPS, M - sum(PAPER_GROUPS))
    if M % 20:
        raise ValueError(f"no default ELIC channel groups for M={M}: pass groups=(...) summing to M, "
                         "or use M > 128 or a multiple of 20")
    unit = M // 20
    return tuple(unit * r for r in (1, 1, 2, 4, 12))


def check_groups(groups: Sequence[int], M: int) -> tuple[int, ...]:
    groups = tuple(int(g) for g in groups)
    if sum(groups) != M or min(groups) < 1:
        raise ValueError(f"ELIC channel groups {groups} must be positive and sum to M={M}")
    return groups


class AnalysisElic(nn.Module):
    """g_a: conv(3->N) 3xRBB conv 3xRBB Attn(N) conv 3xRBB conv(N->M) Attn(M); 5x5 stride-2 convs."""

    N: int
    M: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        n = self.N
        plan = ["conv", "rbb", "rbb", "rbb", "conv", "rbb", "rbb", "rbb", "attn", "conv", "rbb", "rbb", "rbb",
                "conv_m", "attn_m"]
        for i, kind in enumerate(plan):
            name = f"layer_{i}"
            if kind == "conv":
                x = Conv(n, 5, 2, name=name)(x)
            elif kind == "conv_m":
                x = Conv(self.M, 5, 2, name=name)(x)
            elif kind == "rbb":
                x = ResidualBottleneckBlock(n, name=name)(x)
            else:
                x = AttentionBlock(self.M if kind == "attn_m" else n, name=name)(x)
        return x


class SynthesisElic(nn.Module):
    """g_s: Attn(M) deconv(M->N) 3xRBB deconv Attn(N) 3xRBB deconv 3xRBB deconv(N->3); 5x5 stride 2."""

    N: int
    M: int

    @nn.compact
    def __call__(self, y: Array) -> Array:
        n = self.N
        plan = ["attn_m", "deconv", "rbb", "rbb", "rbb", "deconv", "attn", "rbb", "rbb", "rbb", "deconv", "rbb",
                "rbb", "rbb", "deconv_3"]
        for i, kind in enumerate(plan):
            name = f"layer_{i}"
            if kind == "deconv":
                y = ConvTranspose(n, 5, 2, name=name)(y)
            elif kind == "deconv_3":
                y = ConvTranspose(3, 5, 2, name=name)(y)
            elif kind == "rbb":
                y = ResidualBottleneckBlock(n, name=name)(y)
            else:
                y = AttentionBlock(self.M if kind == "attn_m" else n, name=name)(y)
        return y


class HyperAnalysisElic(nn.Module):
    """h_a: conv3x3 s1 (M->N) ReLU conv5x5 s2 ReLU conv5x5 s2; z has N channels at 1/4 of y's size."""

    N: int

    @nn.compact
    def __call__(self, y: Array) -> Array:
        h = nn.relu(Conv(self.N, 3, 1, name="layer_0")(y))
        h = nn.relu(Conv(self.N, 5, 2, name="layer_2")(h))
        return Conv(self.N, 5, 2, name="layer_4")(h)


class HyperSynthesisElic(nn.Module):
    """h_s: deconv5x5 s2 (N->N) ReLU deconv5x5 s2 (->3N/2) ReLU deconv3x3 s1 (->2N): the side params."""

    N: int

    @nn.compact
    def __call__(self, z_hat: Array) -> Array:
        n = self.N
        h = nn.relu(ConvTranspose(n, 5, 2, name="layer_0")(z_hat))
        h = nn.relu(ConvTranspose(n * 3 // 2, 5, 2, name="layer_2")(h))
        return ConvTranspose(2 * n, 3, 1, name="layer_4")(h)


def channel_context(groups: Sequence[int], k: int, widths: Sequence[int] = CONTEXT_WIDTHS) -> ConvStack:
    """g_ch^(k), k >= 1: 5x5 convs from all previous groups (sum(groups[:k]) channels) to 2 * groups[k]
    (the channel context's own (scales, means)-sized output, an input of the parameter aggregation)."""
    if k < 1:
        raise ValueError("group 0 has no channel context")
    return ConvStack((*widths, 2 * groups[k]), 5)


def spatial_context(groups: Sequence[int], k: int) -> MaskedConv:
    """g_sp^(k): 5x5 checkerboard-masked conv (centre masked) from group k to 2 * groups[k] channels."""
    return MaskedConv(groups[k], 2 * groups[k], 5, "checkerboard")


def aggregation_widths(groups: Sequence[int], k: int, N: int) -> tuple[int, ...]:
    """Widths of the parameter aggregation of group k: input [spatial ctx, channel ctx (k > 0), side params]
    = 2g + 2g (k > 0) + 2N, three 1x1 layers ramping linearly to 2g, hidden widths at least 2N."""
    g = groups[k]
    return channel_ramp(2 * g + (k > 0) * 2 * g + 2 * N, 2 * g, 3, 2 * N)


def param_aggregation(groups: Sequence[int], k: int, N: int) -> ConvStack:
    """Param aggregation of group k: 1x1 convs with ReLU between (a pointwise network) -> (scales, means)."""
    return ConvStack(aggregation_widths(groups, k, N), 1)


# ----------------------------------------------------------------------------------------------- the model


class Elic2022(LatentCodecModel):
    """ELIC: g_a / g_s above, and one latent-codec composition (no coding code of its own):

    hyperprior(y = channel groups(groups, per group checkerboard(Gaussian conditional, g_sp, aggregation),
    channel context g_ch from all previous groups), z = entropy bottleneck), with straight-through
    rounding of y (around the means) and z (around the medians) for the decoder path in training, and
    CompressAI's merge orders: group input ``concat(g_ch, h_s)``, aggregation input ``concat(g_sp, side)``.
    """

    N: int
    M: int
    groups: tuple[int, ...] | None = None
    context_widths: tuple[int, ...] = CONTEXT_WIDTHS
    filters: tuple[int, ...] = (3, 3, 3, 3)

    def group_sizes(self) -> tuple[int, ...]:
        return default_groups(self.M) if self.groups is None else check_groups(self.groups, self.M)

    def setup(self):
        g = self.group_sizes()
        self.g_a = AnalysisElic(self.N, self.M)
        self.g_s = SynthesisElic(self.N, self.M)
        self.h_a = HyperAnalysisElic(self.N)
        self.h_s = HyperSynthesisElic(self.N)
        self.channel_context = {f"y{k}": channel_context(g, k, self.context_widths) for k in range(1, len(g))}
        self.spatial_context = {f"y{k}": spatial_context(g, k) for k in range(len(g))}
        self.param_aggregation = {f"y{k}": param_aggregation(g, k, self.N) for k in range(len(g))}
        groups = ChannelGroups(
            groups=g,
            codecs=tuple(Checkerboard(GaussianConditional(quantizer="ste"), self.spatial_context[f"y{k}"],
                                      self.param_aggregation[f"y{k}"]) for k in range(len(g))),
            channel_context=(None, *(self.channel_context[f"y{k}"] for k in range(1, len(g)))))
        self.latent_codec = factorized_hyperprior(self, groups, self.h_a, z_quantizer="ste", h_s=self.h_s)


register("elic2022", Elic2022, {q: {"N": 192, "M": 320} for q in range(1, 9)}, stride=64)
