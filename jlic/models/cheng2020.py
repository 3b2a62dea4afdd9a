"""Cheng, Sun, Takeuchi, Katto 2020, "Learned image compression with discretized Gaussian mixture likelihoods
and attention modules", arXiv 2001.01568: `cheng2020-anchor` and `cheng2020-attn`.

Layer lists of CompressAI's `Cheng2020Anchor` / `Cheng2020Attention` (residual blocks, sub-pixel upsampling,
simplified attention; M = N), with mbt2018's context model and entropy parameters. `likelihood="gaussian"`
(CompressAI's single Gaussian, coded by wavefronts like mbt2018) or `"mixture"` (the paper's K=3 discretized
Gaussian mixture, `jlic.entropy.mixture`; the entropy parameters then output 3*K*M channels). Composition:
hyperprior(y = raster scan(Gaussian or Gaussian-mixture conditional), z = entropy bottleneck).
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax

from jlic.entropy import mixture
from jlic.latent_codecs import (
    GaussianConditional,
    GaussianMixtureConditional,
    RasterScan,
)
from jlic.layers import AttentionBlock
from jlic.models.base import LatentCodecModel, factorized_hyperprior
from jlic.models.mbt2018 import EntropyParameters
from jlic.models.registry import register
from jlic.ops.conv import Conv, SubpelConv
from jlic.ops.gdn import GDN
from jlic.ops.masked import MaskedConv

Array = jax.Array


def _lrelu(x: Array) -> Array:
    return nn.leaky_relu(x, 0.01)


class ResidualBlockWithStride(nn.Module):
    """conv3x3 s2 - LeakyReLU - conv3x3 - GDN, plus a 1x1 s2 `skip`."""

    features: int
    stride: int = 2
    activation: Callable[[Array], Array] = _lrelu  # MLIC++: GELU

    @nn.compact
    def __call__(self, x: Array) -> Array:
        out = self.activation(Conv(self.features, 3, self.stride, name="conv1")(x))
        out = GDN(name="gdn")(Conv(self.features, 3, 1, name="conv2")(out))
        if self.stride != 1 or x.shape[-1] != self.features:
            x = Conv(self.features, 1, self.stride, name="skip")(x)
        return out + x


class ResidualBlock(nn.Module):
    """conv3x3 - LeakyReLU - conv3x3 - LeakyReLU, plus the identity (or a 1x1 `skip`)."""

    features: int
    activation: Callable[[Array], Array] = _lrelu

    @nn.compact
    def __call__(self, x: Array) -> Array:
        out = self.activation(Conv(self.features, 3, 1, name="conv1")(x))
        out = self.activation(Conv(self.features, 3, 1, name="conv2")(out))
        if x.shape[-1] != self.features:
            x = Conv(self.features, 1, 1, name="skip")(x)
        return out + x


class ResidualBlockUpsample(nn.Module):
    """subpel conv x2 - LeakyReLU - conv3x3 - IGDN, plus a sub-pixel `upsample` of the input."""

    features: int
    r: int = 2
    activation: Callable[[Array], Array] = _lrelu

    @nn.compact
    def __call__(self, x: Array) -> Array:
        out = self.activation(SubpelConv(self.features, self.r, name="subpel_conv")(x))
        out = GDN(inverse=True, name="igdn")(Conv(self.features, 3, 1, name="conv")(out))
        return out + SubpelConv(self.features, self.r, name="upsample")(x)


class AnalysisCheng(nn.Module):
    N: int
    attention: bool = False

    @nn.compact
    def __call__(self, x: Array) -> Array:
        n = self.N
        x = ResidualBlockWithStride(n, name="layer_0")(x)
        x = ResidualBlock(n, name="layer_1")(x)
        x = ResidualBlockWithStride(n, name="layer_2")(x)
        if self.attention:
            x = AttentionBlock(n, name="attn_0")(x)
        x = ResidualBlock(n, name="layer_3")(x)
        x = ResidualBlockWithStride(n, name="layer_4")(x)
        x = ResidualBlock(n, name="layer_5")(x)
        x = Conv(n, 3, 2, name="layer_6")(x)
        if self.attention:
            x = AttentionBlock(n, name="attn_1")(x)
        return x


class SynthesisCheng(nn.Module):
    N: int
    attention: bool = False

    @nn.compact
    def __call__(self, y: Array) -> Array:
        n = self.N
        if self.attention:
            y = AttentionBlock(n, name="attn_0")(y)
        y = ResidualBlock(n, name="layer_0")(y)
        y = ResidualBlockUpsample(n, name="layer_1")(y)
        y = ResidualBlock(n, name="layer_2")(y)
        y = ResidualBlockUpsample(n, name="layer_3")(y)
        if self.attention:
            y = AttentionBlock(n, name="attn_1")(y)
        y = ResidualBlock(n, name="layer_4")(y)
        y = ResidualBlockUpsample(n, name="layer_5")(y)
        y = ResidualBlock(n, name="layer_6")(y)
        return SubpelConv(3, 2, name="layer_7")(y)


class HyperAnalysisCheng(nn.Module):
    """Five 3x3 convs (the 3rd and 5th with stride 2), LeakyReLU between (CompressAI indexes 0..8)."""

    N: int

    @nn.compact
    def __call__(self, y: Array) -> Array:
        h = y
        for i, s in enumerate((1, 1, 2, 1)):
            h = _lrelu(Conv(self.N, 3, s, name=f"layer_{2 * i}")(h))
        return Conv(self.N, 3, 2, name="layer_8")(h)


class HyperSynthesisCheng(nn.Module):
    """conv3 - subpel x2 - conv3 (-> 3N/2) - subpel x2 - conv3 (-> 2N), LeakyReLU between: (scales, means)."""

    N: int

    @nn.compact
    def __call__(self, z: Array) -> Array:
        n = self.N
        h = _lrelu(Conv(n, 3, 1, name="layer_0")(z))
        h = _lrelu(SubpelConv(n, 2, name="layer_2")(h))
        h = _lrelu(Conv(n * 3 // 2, 3, 1, name="layer_4")(h))
        h = _lrelu(SubpelConv(n * 3 // 2, 2, name="layer_6")(h))
        return Conv(2 * n, 3, 1, name="layer_8")(h)


class Cheng2020(LatentCodecModel):
    """cheng2020-anchor (`attention=False`) / cheng2020-attn; `likelihood` "gaussian" or "mixture"."""

    N: int
    M: int
    quantization: str = "noise"
    filters: tuple[int, ...] = (3, 3, 3, 3)
    attention: bool = False
    likelihood: str = "gaussian"
    K: int = mixture.K_DEFAULT

    def setup(self):
        if self.likelihood not in ("gaussian", "mixture"):
            raise ValueError(f"unknown likelihood {self.likelihood!r}; expected 'gaussian' or 'mixture'")
        self.g_a = AnalysisCheng(self.N, self.attention)
        self.g_s = SynthesisCheng(self.N, self.attention)
        self.h_a = HyperAnalysisCheng(self.N)
        self.h_s = HyperSynthesisCheng(self.N)
        self.context_prediction = MaskedConv(self.M, 2 * self.M, 5, "A")
        gaussian = self.likelihood == "gaussian"
        self.entropy_parameters = EntropyParameters(self.M, 2 * self.M if gaussian else 3 * self.K * self.M)
        leaf = GaussianConditional() if gaussian else GaussianMixtureConditional(self.K)
        y = RasterScan(leaf, self.context_prediction, self.entropy_parameters, quantizer=self.quantization)
        self.latent_codec = factorized_hyperprior(self, y, self.h_a, self.h_s)


def _attn(**kw):
    return Cheng2020(attention=True, **kw)


_QUALITIES = {q: {"N": n, "M": n} for q, n in zip(range(1, 7), (128, 128, 128, 192, 192, 192), strict=True)}
register("cheng2020-anchor", Cheng2020, _QUALITIES, stride=64)
register("cheng2020-attn", _attn, _QUALITIES, stride=64)
