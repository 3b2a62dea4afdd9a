"""Ballé et al. 2018, "Variational image compression with a scale hyperprior", arXiv 1802.01436.

`bmshj2018-factorized` (factorized prior on y) and `bmshj2018-hyperprior` (zero-mean Gaussian on y with
scales from a hyperprior on z), with the layer lists of the paper and of CompressAI's zoo; submodules are
named `layer_<i>` after CompressAI's `nn.Sequential` index so state_dicts map one to one.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jlic import quantize
from jlic.entropy import factorized, gaussian
from jlic.ops.conv import Conv, ConvTranspose
from jlic.ops.gdn import GDN

Array = jax.Array

QUANTIZATION_MODES = ("noise", "ste")


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


def quantize_pair(y: Array, train: bool, mode: str, offset: Array | float, key: Array | None
                  ) -> tuple[Array, Array]:
    """Latents for the likelihood and for the decoder.

    Training: `noise` uses y + U(-1/2, 1/2) for both; `ste` uses noise for the likelihood and straight-through
    rounding around `offset` for the decoder (Minnen & Singh 2020, arXiv 2007.08739). Evaluation: hard
    rounding around `offset` for both, as the coder does.
    """
    if not train:
        y_hat = quantize.round_offset(y, offset)
        return y_hat, y_hat
    if mode not in QUANTIZATION_MODES:
        raise ValueError(f"unknown quantization {mode!r}; expected one of {QUANTIZATION_MODES}")
    y_noisy = quantize.noise(y, key)
    return y_noisy, (y_noisy if mode == "noise" else quantize.round_ste(y, offset))


class TransformHooks:
    """Coding hooks of models with `g_a` and `g_s` submodules (`CompressionModel.analysis`, `.synthesis`)."""

    def analysis(self, x: Array) -> Array:
        return self.g_a(x)

    def synthesis(self, y_hat: Array) -> Array:
        return self.g_s(y_hat)


class HyperTransformHooks(TransformHooks):
    """`TransformHooks` plus `hyper_analysis` for models with an `h_a` submodule."""

    def hyper_analysis(self, y: Array) -> Array:
        return self.h_a(y)


class FactorizedPrior(TransformHooks, nn.Module):
    """bmshj2018-factorized: y = g_a(x) coded with a per-channel factorized density."""

    N: int
    M: int
    quantization: str = "noise"
    filters: tuple[int, ...] = (3, 3, 3, 3)

    def setup(self):
        self.g_a = AnalysisGDN(self.N, self.M)
        self.g_s = SynthesisGDN(self.N)
        self.entropy_bottleneck = self.param("entropy_bottleneck",
                                             lambda key: factorized.init(key, self.M, self.filters))

    def __call__(self, x: Array, train: bool) -> tuple[Array, dict[str, Array]]:
        y = self.g_a(x)
        key = self.make_rng("noise") if train else None
        medians = factorized.medians(self.entropy_bottleneck)
        y_lik, y_dec = quantize_pair(y, train, self.quantization, medians, key)
        return self.g_s(y_dec), {"y": factorized.likelihood(self.entropy_bottleneck, y_lik)}


class ScaleHyperprior(HyperTransformHooks, nn.Module):
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
        self.entropy_bottleneck = self.param("entropy_bottleneck",
                                             lambda key: factorized.init(key, self.N, self.filters))

    def hyper_synthesis(self, z_hat: Array) -> tuple[Array, Array | None]:
        return self.h_s(z_hat), None

    def __call__(self, x: Array, train: bool) -> tuple[Array, dict[str, Array]]:
        y = self.g_a(x)
        z = self.h_a(y)
        kz, ky = jax.random.split(self.make_rng("noise")) if train else (None, None)
        z_lik, z_dec = quantize_pair(z, train, "noise", factorized.medians(self.entropy_bottleneck), kz)
        scales, means = self.hyper_synthesis(z_dec)
        offset = 0.0 if means is None else means
        y_lik, y_dec = quantize_pair(y, train, self.quantization, offset, ky)
        likelihoods = {
            "y": gaussian.likelihood(y_lik, scales, offset),
            "z": factorized.likelihood(self.entropy_bottleneck, z_lik),
        }
        return self.g_s(y_dec), likelihoods
