"""Minnen, Ballé, Toderici 2018, "Joint autoregressive and hierarchical priors", arXiv 1809.02736:
the mean-scale hyperprior (`mbt2018-mean`) without the autoregressive context model.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jlic.entropy import factorized
from jlic.models.bmshj2018 import AnalysisGDN, ScaleHyperprior, SynthesisGDN
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
    """`h_s` of the mean-scale hyperprior: N -> M -> 3M/2 -> 2M channels; output is (scales, means)."""

    N: int
    M: int

    @nn.compact
    def __call__(self, z: Array) -> tuple[Array, Array]:
        h = nn.leaky_relu(ConvTranspose(self.M, 5, 2, name="layer_0")(z), 0.01)
        h = nn.leaky_relu(ConvTranspose(self.M * 3 // 2, 5, 2, name="layer_2")(h), 0.01)
        h = Conv(self.M * 2, 3, 1, name="layer_4")(h)
        scales, means = jnp.split(h, 2, axis=-1)
        return scales, means


class MeanScaleHyperprior(ScaleHyperprior):
    """mbt2018-mean: Gaussian on y with mean and scale from `h_s(z_hat)`."""

    def setup(self):
        self.g_a = AnalysisGDN(self.N, self.M)
        self.g_s = SynthesisGDN(self.N)
        self.h_a = HyperAnalysisLeaky(self.N)
        self.h_s = HyperSynthesisLeaky(self.N, self.M)
        self.entropy_bottleneck = self.param("entropy_bottleneck",
                                             lambda key: factorized.init(key, self.N, self.filters))

    def hyper_synthesis(self, z_hat: Array) -> tuple[Array, Array | None]:
        return self.h_s(z_hat)
