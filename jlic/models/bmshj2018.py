"""Ballé et al. 2018, "Variational image compression with a scale hyperprior", arXiv 1802.01436.

`bmshj2018-factorized` (factorized prior on y) and `bmshj2018-hyperprior` (zero-mean Gaussian on y with
scales from a hyperprior on z), with the layer lists of the paper and of CompressAI's zoo; submodules are
named `layer_<i>` after CompressAI's `nn.Sequential` index so state_dicts map one to one.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jlic.entropy import factorized
from jlic.latent_codecs import EntropyBottleneck, GaussianConditional
from jlic.models.base import LatentCodecModel, factorized_hyperprior
from jlic.ops.conv import Conv, ConvTranspose
from jlic.ops.gdn import GDN

Array = jax.Array


class AnalysisGDN(nn.Module):
    """`g_a`: four 5x5 stride-2 convs with GDN between them (16x downsampling)."""

    N: int
    M: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        x = GDN(name="layer_1")(Conv(self.N, 5, 2, name="layer_0")(x))
        x = GDN(name="layer_3")(Conv(self.N, 5, 2, name="layer_2")(x))
        x = GDN(name="layer_5")(Conv(self.N, 5, 2, name="layer_4")(x))
        return Conv(self.M, 5, 2, name="layer_6")(x)


class SynthesisGDN(nn.Module):
    """`g_s`: four 5x5 stride-2 transposed convs with IGDN between them."""

    N: int
    out_channels: int = 3

    @nn.compact
    def __call__(self, y: Array) -> Array:
        y = GDN(inverse=True, name="layer_1")(ConvTranspose(self.N, 5, 2, name="layer_0")(y))
        y = GDN(inverse=True, name="layer_3")(ConvTranspose(self.N, 5, 2, name="layer_2")(y))
        y = GDN(inverse=True, name="layer_5")(ConvTranspose(self.N, 5, 2, name="layer_4")(y))
        return ConvTranspose(self.out_channels, 5, 2, name="layer_6")(y)


class HyperAnalysisReLU(nn.Module):
    """`h_a` of the scale hyperprior: on |y|, conv3x3 s1, then two 5x5 s2 convs, ReLU between."""

    N: int

    @nn.compact
    def __call__(self, y: Array) -> Array:
        z = nn.relu(Conv(self.N, 3, 1, name="layer_0")(jnp.abs(y)))
        z = nn.relu(Conv(self.N, 5, 2, name="layer_2")(z))
        return Conv(self.N, 5, 2, name="layer_4")(z)


class HyperSynthesisReLU(nn.Module):
    """`h_s` of the scale hyperprior: two 5x5 s2 transposed convs, conv3x3 s1, ReLU after each (scales)."""

    N: int
    M: int

    @nn.compact
    def __call__(self, z: Array) -> Array:
        s = nn.relu(ConvTranspose(self.N, 5, 2, name="layer_0")(z))
        s = nn.relu(ConvTranspose(self.N, 5, 2, name="layer_2")(s))
        return nn.relu(Conv(self.M, 3, 1, name="layer_4")(s))


class FactorizedPrior(LatentCodecModel):
    """bmshj2018-factorized: y = g_a(x) coded with a per-channel factorized density."""

    N: int
    M: int
    quantization: str = "noise"
    filters: tuple[int, ...] = (3, 3, 3, 3)

    def setup(self):
        self.g_a = AnalysisGDN(self.N, self.M)
        self.g_s = SynthesisGDN(self.N)
        eb = self.param("entropy_bottleneck", lambda key: factorized.init(key, self.M, self.filters))
        self.latent_codec = EntropyBottleneck(eb, quantizer=self.quantization)


class ScaleHyperprior(LatentCodecModel):
    """bmshj2018-hyperprior: zero-mean Gaussian on y with scales `h_s(z_hat)`, factorized prior on z."""

    N: int
    M: int
    quantization: str = "noise"
    filters: tuple[int, ...] = (3, 3, 3, 3)

    def setup(self):
        self.g_a = AnalysisGDN(self.N, self.M)
        self.g_s = SynthesisGDN(self.N)
        self.h_a = HyperAnalysisReLU(self.N)
        self.h_s = HyperSynthesisReLU(self.N, self.M)
        y = GaussianConditional(means=False, quantizer=self.quantization)
        self.latent_codec = factorized_hyperprior(self, y, self.h_a, self.h_s)
