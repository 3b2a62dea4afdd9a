"""Jiang, Yang, Zhai, Ning, Gao, Wang 2023, "MLIC: Multi-reference entropy model for learned image
compression", arXiv 2211.07273: `mlic` and `mlic-plus` (MLIC+).

Both are MLIC++ (`jlic.models.mlicpp`, arXiv 2307.15421) with other context networks, as CompressAI's
development line (`compressai.models.mlic`, 1.2.9.dev0) builds them: the same transforms (Cheng2020-style
residual blocks with GELU and GDN/IGDN, 3x3 conv hyperprior with GELU, h_s output 2M: scales then means),
y in slices of 32 channels, each coded in two checkerboard passes (anchors at (i + j) odd) with a
Gaussian conditional, the same channel context (3x3 convs 32k -> 192 -> 128 -> 4*32, GELU), entropy
parameters (1x1 convs -> 320 -> 256 -> 128 -> 64, GELU) and latent residual prediction (3x3 convs -> 224 ->
128 -> 32, 0.5 tanh) after each pass. Per slice k, the contexts:

`mlic` (N=192, M=192, 6 slices):
- local (non-anchors): 3 stacked 5x5 convs over the decoded anchors (32 -> 32 -> 32 -> 64, GELU between);
- global intra-slice (k >= 1): full softmax attention (2 heads) with queries from slice k-1's non-anchors,
  keys from its anchors and values from slice k's decoded anchors, keys within Chebyshev distance 2 of the
  query excluded (score -100), 5x5 reprojection to 64 and a residual MLP (1x1, depthwise 3x3, 1x1);
- no global inter-slice context: anchors get [channel, hyper], non-anchors [local, intra, channel, hyper].

`mlic-plus` (N=192, M=320, 10 slices):
- local: MLIC++'s 5x5 overlapping-window attention (2 heads, relative-position bias, non-anchor keys
  masked), 5x5 fusion to 64, projection and MLP;
- global intra-slice: as MLIC;
- global inter-slice (k >= 1): full softmax attention over y_hat[<k] (32k channels, k heads of 32), 5x5
  reprojection to 96, 1x1 skip + MLP to 64: anchors get [inter, channel, hyper], non-anchors [local,
  intra, inter, channel, hyper].

The coding is the latent-codec composition of MLIC++ (hyperprior of channel groups of checkerboards with
context functions); this file only chooses networks.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import flax.linen as nn

from jlic.layers import ConvStack
from jlic.layers.grid_attention import grid_attention
from jlic.models.mlicpp import GlobalInterContext, GlobalIntraContext, Mlicpp, gelu
from jlic.models.registry import register

INTRA_EXCLUDE_RADIUS = 2  # MLIC's intra-slice context leaves the 5x5 neighbourhood to the local context


class MlicPlus(Mlicpp):
    """MLIC+: MLIC++ with full (quadratic) attention in both global contexts; CompressAI's head rule (one
    head per 32 channels) for the inter-slice context."""

    inter_head_width: int = 32
    intra_exclude_radius: int = INTRA_EXCLUDE_RADIUS

    def make_inter_contexts(self) -> list[nn.Module]:
        return [GlobalInterContext(self.inter_heads(k), 2 * self.slice_channels(), grid_attention)
                for k in range(1, self.slices)]

    def make_intra_context(self) -> nn.Module:
        attention = functools.partial(grid_attention, exclude_radius=self.intra_exclude_radius)
        return GlobalIntraContext(self.intra_heads, attention)


class Mlic(MlicPlus):
    """MLIC: MLIC+ without the inter-slice context and with stacked convolutions as the local context."""

    M: int = 192
    slices: int = 6
    local_kernel: int = 5
    local_layers: int = 3

    def make_local_context(self) -> nn.Module:
        if self.local_layers < 1 or self.local_kernel % 2 == 0:
            raise ValueError(f"MLIC's local context needs >= 1 layers of odd kernels, got {self.local_layers} "
                             f"of {self.local_kernel}")
        s = self.slice_channels()
        return ConvStack((s,) * (self.local_layers - 1) + (2 * s,), self.local_kernel, gelu)

    def make_inter_contexts(self) -> list[nn.Module]:
        return []


register("mlic", Mlic, {q: {"N": 192, "M": 192} for q in range(1, 7)}, stride=64)
register("mlic-plus", MlicPlus, {q: {"N": 192, "M": 320} for q in range(1, 7)}, stride=64)

__all__: Sequence[str] = ["Mlic", "MlicPlus"]
