"""Zou, Song, Zhang 2022, "The devil is in the details: Window-based attention for image compression",
arXiv 2203.08450: `stf` (the symmetrical transformer) and `stf-wacnn` (the window-attention CNN).

Layer lists of CompressAI's development line (`compressai.models.stf`, 1.2.9.dev0, which follows the
official code), so their state_dicts import one to one:

`stf-wacnn` (N=192, M=320):
- g_a: conv5 s2 (3 -> N), GDN, conv5 s2, GDN, window-attention block (N, 8 heads, 8x8 windows shifted by
  4), conv5 s2, GDN, conv5 s2 (N -> M), window-attention block (M, 8 heads, 4x4 windows shifted by 2);
- g_s: the mirror (window-attention block, deconv5 s2 + IGDN x3 with a block after the second, deconv5 s2
  to 3); a window-attention block is ``x + a(x) * sigmoid(b(x))``, ``a`` three GELU residual units, ``b`` a
  residual shifted-window attention (qkv, relative-position bias, projection), three units, a 1x1 conv;
- h_a: 3x3 convs M -> M -> 288 -> 256 (s2) -> 224 -> N (s2), GELU; h_s (means and scales, two branches):
  3x3 conv N -> N, sub-pixel x2 -> 224, 3x3 -> 256, sub-pixel x2 -> 288, 3x3 -> M, GELU.

`stf` (embed 48, depths 2/2/6/2, heads 3/6/12/24, 4x4 windows; M = 384, N = 192):
- g_a: patch embedding (2x2 conv s2, 3 -> 48, LayerNorm), four Swin stages (blocks alternate unshifted and
  shifted-by-2 windows; pre-norm attention and MLP ratio 4, GELU), patch merging (2x2 -> LayerNorm ->
  linear 4C -> 2C) after the first three: y has 384 channels at 1/16;
- g_s: four Swin stages in reverse (depths 2/6/2/2, heads 24/12/6/3), patch split (LayerNorm -> linear
  C -> 2C -> pixel shuffle x2) after the first three, then 5x5 conv 48 -> 192, pixel shuffle x2, 3x3 conv
  48 -> 3;
- h_a: 3x3 convs M -> M -> M-48 -> M-96 (s2) -> M-144 -> N (s2); h_s branches: M-144, M-96 (sub-pixel),
  M-48, M (sub-pixel), M; GELU.

Both code y in equal channel slices (WACNN 10 of 32 with at most 5 previous slices as support; STF 12 of
32 with at most 6), each slice's mean and scale from 3x3-conv networks (widths 224, 176, 128, 64, GELU) of
the hyperprior's latent means / scales and the support slices, and a latent residual prediction
0.5 tanh(net(means, support, y_hat_slice)): the composition of Minnen & Singh 2020
(`jlic.models.channelwise`), with these networks. Training differs from the official code in one point:
jlic does not drop paths (the official STF trains with stochastic depth 0.2; evaluation is the same).
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jlic.layers import ConvStack
from jlic.layers.hyper import GeluHyperAnalysis, GeluHyperSynthesis, gelu
from jlic.layers.shifted_window import SwinBlock
from jlic.layers.swin import PatchMerging, PatchSplit, WindowAttentionBlock
from jlic.models.channelwise import ChannelwiseHyperprior
from jlic.models.registry import register
from jlic.ops.conv import Conv, ConvTranspose, pixel_shuffle
from jlic.ops.gdn import GDN
from jlic.ops.initializers import fan_in_uniform, uniform

Array = jax.Array

SLICE_WIDTHS = (224, 176, 128, 64)  # hidden widths of the mean, scale and LRP networks of both models


class WacnnAnalysis(nn.Module):
    """g_a of WACNN (children `layer_<i>`: CompressAI's `g_a.<i>`)."""

    N: int
    M: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        x = GDN(name="layer_1")(Conv(self.N, 5, 2, name="layer_0")(x))
        x = GDN(name="layer_3")(Conv(self.N, 5, 2, name="layer_2")(x))
        x = WindowAttentionBlock(8, 8, name="layer_4")(x)
        x = GDN(name="layer_6")(Conv(self.N, 5, 2, name="layer_5")(x))
        x = Conv(self.M, 5, 2, name="layer_7")(x)
        return WindowAttentionBlock(8, 4, name="layer_8")(x)


class WacnnSynthesis(nn.Module):
    """g_s of WACNN (children `layer_<i>`: CompressAI's `g_s.<i>`)."""

    N: int

    @nn.compact
    def __call__(self, y: Array) -> Array:
        y = WindowAttentionBlock(8, 4, name="layer_0")(y)
        y = GDN(inverse=True, name="layer_2")(ConvTranspose(self.N, 5, 2, name="layer_1")(y))
        y = GDN(inverse=True, name="layer_4")(ConvTranspose(self.N, 5, 2, name="layer_3")(y))
        y = WindowAttentionBlock(8, 8, name="layer_5")(y)
        y = GDN(inverse=True, name="layer_7")(ConvTranspose(self.N, 5, 2, name="layer_6")(y))
        return ConvTranspose(3, 5, 2, name="layer_8")(y)


class PatchConv(nn.Module):
    """A ``p x p`` stride-``p`` convolution without padding (PyTorch ``Conv2d(C, E, p, stride=p)``)."""

    features: int
    patch: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        b, h, w, c = x.shape
        p = self.patch
        kernel = self.param("kernel", fan_in_uniform((0, 1, 2)), (p, p, c, self.features), jnp.float32)
        bound = 1.0 / (p * p * c) ** 0.5
        bias = self.param("bias", lambda key, s: uniform(key, s, jnp.float32, -bound, bound), (self.features,))
        patches = x.reshape(b, h // p, p, w // p, p, c).transpose(0, 1, 3, 2, 4, 5)
        patches = patches.reshape(b, h // p, w // p, p * p * c)
        return patches @ kernel.reshape(-1, self.features) + bias


class PatchEmbed(nn.Module):
    """STF's patch embedding: `proj` (PatchConv) then `norm` (LayerNorm)."""

    features: int
    patch: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        return nn.LayerNorm(epsilon=1e-5, name="norm")(PatchConv(self.features, self.patch, name="proj")(x))


class SwinStage(nn.Module):
    """`depth` Swin blocks (children `layer_<j>`; odd ones shifted by window // 2), then `downsample`
    ("merge": PatchMerging, "split": PatchSplit, "": none)."""

    depth: int
    heads: int
    window: int
    downsample: str = ""

    @nn.compact
    def __call__(self, x: Array) -> Array:
        c = x.shape[-1]
        for j in range(self.depth):
            x = SwinBlock(c, c // self.heads, self.window, shifted=bool(j % 2), name=f"layer_{j}")(x)
        if self.downsample == "merge":
            return PatchMerging(name="downsample")(x)
        if self.downsample == "split":
            return PatchSplit(name="downsample")(x)
        return x


class StfAnalysis(nn.Module):
    """g_a of STF: `patch_embed`, `layers_<i>`."""

    embed_dim: int
    depths: Sequence[int]
    heads: Sequence[int]
    window: int
    patch: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        x = PatchEmbed(self.embed_dim, self.patch, name="patch_embed")(x)
        last = len(self.depths) - 1
        for i, (depth, heads) in enumerate(zip(self.depths, self.heads, strict=True)):
            x = SwinStage(depth, heads, self.window, "" if i == last else "merge", name=f"layers_{i}")(x)
        return x


class EndConv(nn.Module):
    """STF's last layers: 5x5 conv C -> C p^2, pixel shuffle x p, 3x3 conv -> 3 (`layer_0`, `layer_2`)."""

    patch: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        c = x.shape[-1]
        x = pixel_shuffle(Conv(c * self.patch ** 2, 5, 1, name="layer_0")(x), self.patch)
        return Conv(3, 3, 1, name="layer_2")(x)


class StfSynthesis(nn.Module):
    """g_s of STF: `syn_layers_<i>` (depths and heads reversed), `end_conv`."""

    depths: Sequence[int]
    heads: Sequence[int]
    window: int
    patch: int

    @nn.compact
    def __call__(self, y: Array) -> Array:
        last = len(self.depths) - 1
        for i, (depth, heads) in enumerate(zip(self.depths[::-1], self.heads[::-1], strict=True)):
            y = SwinStage(depth, heads, self.window, "" if i == last else "split", name=f"syn_layers_{i}")(y)
        return EndConv(self.patch, name="end_conv")(y)


class Wacnn(ChannelwiseHyperprior):
    """WACNN: window-attention CNN transforms, GELU 3x3 hyperprior, channel-wise slices with LRP."""

    N: int = 192
    M: int = 320
    num_slices: int = 10
    max_support_slices: int = 5
    hyper_widths: tuple[int, int, int] = (288, 256, 224)
    slice_widths: tuple[int, ...] = SLICE_WIDTHS

    def make_transforms(self) -> tuple[nn.Module, nn.Module]:
        return WacnnAnalysis(self.N, self.M), WacnnSynthesis(self.N)

    def make_hyper_transforms(self) -> tuple[nn.Module, nn.Module, nn.Module]:
        a, b, c = self.hyper_widths
        branch = (self.N, c, b, a, self.M)
        return (GeluHyperAnalysis((self.M, a, b, c, self.N)), GeluHyperSynthesis(branch),
                GeluHyperSynthesis(branch))

    def make_slice_transform(self, out: int) -> nn.Module:
        return ConvStack((*self.slice_widths, out), 3, gelu)


class Stf(Wacnn):
    """STF: Swin-transformer transforms; the hyperprior widths step by the embedding width (M - k*embed)."""

    N: int = 192
    M: int = 384
    num_slices: int = 12
    max_support_slices: int = 6
    embed_dim: int = 48
    depths: tuple[int, ...] = (2, 2, 6, 2)
    heads: tuple[int, ...] = (3, 6, 12, 24)
    window: int = 4
    patch: int = 2

    def make_transforms(self) -> tuple[nn.Module, nn.Module]:
        m = self.embed_dim * 2 ** (len(self.depths) - 1)
        if (self.M, self.N) != (m, m // 2):
            raise ValueError(f"STF with embed_dim={self.embed_dim} and {len(self.depths)} stages has M={m}, "
                             f"N={m // 2}, not M={self.M}, N={self.N}")
        return (StfAnalysis(self.embed_dim, self.depths, self.heads, self.window, self.patch),
                StfSynthesis(self.depths, self.heads, self.window, self.patch))

    def make_hyper_transforms(self) -> tuple[nn.Module, nn.Module, nn.Module]:
        m, e = self.M, self.embed_dim
        branch = (m - 3 * e, m - 2 * e, m - e, m, m)
        return (GeluHyperAnalysis((m, m - e, m - 2 * e, m - 3 * e, self.N)), GeluHyperSynthesis(branch),
                GeluHyperSynthesis(branch))


register("stf-wacnn", Wacnn, {q: {"N": 192, "M": 320} for q in range(1, 7)}, stride=64)
register("stf", Stf, {q: {"N": 192, "M": 384} for q in range(1, 7)}, stride=64)

__all__: Sequence[str] = ["Stf", "Wacnn"]
