"""Minnen, Ballé, Toderici 2018, "Joint autoregressive and hierarchical priors", arXiv 1809.02736:
the mean-scale hyperprior (`mbt2018-mean`) without the autoregressive context model.
"""

from __future__ import annotations

import flax.linen as nn
import jax

from jlic.latent_codecs import GaussianConditional
from jlic.models.base import LatentCodecModel, factorized_hyperprior
from jlic.models.bmshj2018 import AnalysisGDN, SynthesisGDN
from jlic.ops.conv import Conv, ConvTranspose

Array = jax.Array


class HyperAnalysisLeaky(nn.Module):
    """`h_a` of the mean-scale hyperprior: on y (no abs), conv3x3 s1 and two 5x5 s2 convs, LeakyReLU between."""

    N: int

    @nn.compact
    def __call__(self, y: Array) -> Array:
        z = nn.leaky_relu(Conv(self.N, 3, 1, name="layer_0")(y), 0.01)
        z = nn.leaky_relu(Conv(self.N, 5, 2, name="layer_2")(z), 0.01)
        return Conv(self.N, 5, 2, name="layer_4")(z)


class HyperSynthesisLeaky(nn.Module):
    """`h_s` of the mean-scale hyperprior: N -> M -> 3M/2 -> 2M channels, `concat(scales, means)`."""

    N: int
    M: int

    @nn.compact
    def __call__(self, z: Array) -> Array:
        h = nn.leaky_relu(ConvTranspose(self.M, 5, 2, name="layer_0")(z), 0.01)
        h = nn.leaky_relu(ConvTranspose(self.M * 3 // 2, 5, 2, name="layer_2")(h), 0.01)
        return Conv(self.M * 2, 3, 1, name="layer_4")(h)


class MeanScaleHyperprior(LatentCodecModel):
    """mbt2018-mean: Gaussian on y with mean and scale from `h_s(z_hat)`."""

    N: int
    M: int
    quantization: str = "noise"
    filters: tuple[int, ...] = (3, 3, 3, 3)

    def setup(self):
        self.g_a = AnalysisGDN(self.N, self.M)
        self.g_s = SynthesisGDN(self.N)
        self.h_a = HyperAnalysisLeaky(self.N)
        self.h_s = HyperSynthesisLeaky(self.N, self.M)
        self.latent_codec = factorized_hyperprior(self, GaussianConditional(quantizer=self.quantization),
                                                  self.h_a, self.h_s)
