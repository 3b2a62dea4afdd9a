"""Minnen & Singh 2020, "Channel-wise autoregressive entropy models for learned image compression",
arXiv 2007.08739: `minnen2020-channelwise`.

y (M channels) is split into `num_slices` slices coded one after the other. Slice i gets its Gaussian mean
and scale from `cc_mean_transforms[i]` / `cc_scale_transforms[i]` applied to the hyperprior's latent means
(resp. scales) concatenated with the first `min(i, max_support_slices)` decoded slices; after quantization
`round(y_i - mu_i) + mu_i`, the latent residual prediction `0.5 tanh(lrp_transforms[i](...))` of the
quantization error is added. The hyperprior has separate mean and scale synthesis transforms. Transforms
`g_a`/`g_s` are the GDN ones of Ballé et al. (as in the paper's baseline). Training: the likelihood uses
noisy y, the decoder path straight-through rounding (`quantization="ste"`, as in the paper) or noisy y.
Coding: #slices passes (`jlic.entropy.context.passes.ChannelwiseLatents`).
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from jlic.entropy import factorized, gaussian
from jlic.entropy.context.passes import ChannelwiseLatents
from jlic.models.base import CompressionModel, Params
from jlic.models.bmshj2018 import AnalysisGDN, HyperTransformHooks, SynthesisGDN, quantize_pair
from jlic.models.mbt2018_mean import HyperAnalysisLeaky
from jlic.models.registry import register
from jlic.ops.conv import Conv, ConvTranspose

Array = jax.Array


class HyperSynthesisBranch(nn.Module):
    """One hyper-synthesis branch (means or scales): deconv5 s2 N, deconv5 s2 3N/2, conv3 -> M, LeakyReLU."""

    N: int
    M: int

    @nn.compact
    def __call__(self, z: Array) -> Array:
        h = nn.leaky_relu(ConvTranspose(self.N, 5, 2, name="layer_0")(z), 0.01)
        h = nn.leaky_relu(ConvTranspose(self.N * 3 // 2, 5, 2, name="layer_2")(h), 0.01)
        return Conv(self.M, 3, 1, name="layer_4")(h)


class SliceTransform(nn.Module):
    """conv3 -> hidden[0], conv3 -> hidden[1], conv3 -> out, LeakyReLU between (the paper's slice networks)."""

    hidden: tuple[int, int]
    out: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        h = nn.leaky_relu(Conv(self.hidden[0], 3, 1, name="layer_0")(x), 0.01)
        h = nn.leaky_relu(Conv(self.hidden[1], 3, 1, name="layer_2")(h), 0.01)
        return Conv(self.out, 3, 1, name="layer_4")(h)


class ChannelwiseHyperprior(HyperTransformHooks, nn.Module):
    """Channel-conditional mean-scale hyperprior with latent residual prediction."""

    N: int
    M: int
    num_slices: int = 10
    max_support_slices: int = 5
    hidden: tuple[int, int] = (224, 128)
    quantization: str = "ste"
    filters: tuple[int, ...] = (3, 3, 3, 3)

    def setup(self):
        if self.M % self.num_slices:
            raise ValueError(f"M={self.M} is not a multiple of num_slices={self.num_slices}")
        size = self.M // self.num_slices
        self.g_a = AnalysisGDN(self.N, self.M)
        self.g_s = SynthesisGDN(self.N)
        self.h_a = HyperAnalysisLeaky(self.N)
        self.h_mean_s = HyperSynthesisBranch(self.N, self.M)
        self.h_scale_s = HyperSynthesisBranch(self.N, self.M)
        self.cc_mean_transforms = [SliceTransform(self.hidden, size) for _ in range(self.num_slices)]
        self.cc_scale_transforms = [SliceTransform(self.hidden, size) for _ in range(self.num_slices)]
        self.lrp_transforms = [SliceTransform(self.hidden, size) for _ in range(self.num_slices)]
        self.entropy_bottleneck = self.param("entropy_bottleneck",
                                             lambda key: factorized.init(key, self.N, self.filters))

    def hyper_params(self, z_hat: Array) -> Array:
        """concat(latent means, latent scales) (..., 2M)."""
        return jnp.concatenate([self.h_mean_s(z_hat), self.h_scale_s(z_hat)], axis=-1)

    def _support(self, prev: Array, i: int) -> Array:
        size = self.M // self.num_slices
        return prev[..., : min(i, self.max_support_slices) * size]

    def slice_params(self, hyper: Array, prev: Array, i: int) -> tuple[Array, Array]:
        """(scales, means) of slice i from the hyperprior and the decoded slices `prev` (..., i*M/S)."""
        latent_means, latent_scales = jnp.split(hyper, 2, axis=-1)
        support = self._support(prev, i)
        mu = self.cc_mean_transforms[i](jnp.concatenate([latent_means, support], -1))
        sigma = self.cc_scale_transforms[i](jnp.concatenate([latent_scales, support], -1))
        return sigma, mu

    def slice_lrp(self, hyper: Array, upto: Array, i: int) -> Array:
        """Latent residual prediction of slice i from the decoded slices up to and including slice i."""
        size = self.M // self.num_slices
        latent_means = jnp.split(hyper, 2, axis=-1)[0]
        support = self._support(upto[..., : i * size], i)
        lrp = self.lrp_transforms[i](jnp.concatenate([latent_means, support, upto[..., i * size:]], -1))
        return 0.5 * jnp.tanh(lrp)

    def __call__(self, x: Array, train: bool) -> tuple[Array, dict[str, Array]]:
        y = self.g_a(x)
        z = self.h_a(y)
        kz, ky = jax.random.split(self.make_rng("noise")) if train else (None, None)
        z_lik, z_dec = quantize_pair(z, train, "noise", factorized.medians(self.entropy_bottleneck), kz)
        hyper = self.hyper_params(z_dec)
        size = self.M // self.num_slices
        keys = jax.random.split(ky, self.num_slices) if train else [None] * self.num_slices
        y_hats, y_liks = [], []
        for i in range(self.num_slices):
            y_i = y[..., i * size:(i + 1) * size]
            prev = jnp.concatenate(y_hats, -1) if y_hats else y[..., :0]
            sigma, mu = self.slice_params(hyper, prev, i)
            y_lik, y_dec = quantize_pair(y_i, train, self.quantization, mu, keys[i])
            y_liks.append(gaussian.likelihood(y_lik, sigma, mu))
            y_dec = y_dec + self.slice_lrp(hyper, jnp.concatenate([prev, y_dec], -1), i)
            y_hats.append(y_dec)
        likelihoods = {
            "y": jnp.concatenate(y_liks, -1),
            "z": factorized.likelihood(self.entropy_bottleneck, z_lik),
        }
        return self.g_s(jnp.concatenate(y_hats, -1)), likelihoods

    def hyper_synthesis(self, z_hat: Array) -> tuple[Array, Array | None]:
        """(latent scales, latent means): the hyperprior alone, before channel conditioning."""
        return self.h_scale_s(z_hat), self.h_mean_s(z_hat)


class ChannelwiseModel(CompressionModel):
    """Registered channel-wise model: y coded in `num_slices` passes."""

    def hyper_params(self, params: Params, z_hat: Array) -> Array:
        return self._method("hyper_params", params, z_hat)

    def slice_params(self, params: Params, hyper: Array, prev: Array, i: int) -> tuple[Array, Array]:
        return self._method("slice_params", params, hyper, prev, i)

    def slice_lrp(self, params: Params, hyper: Array, upto: Array, i: int) -> Array:
        return self._method("slice_lrp", params, hyper, upto, i)

    @functools.cached_property
    def latent_codec(self) -> ChannelwiseLatents:
        return ChannelwiseLatents(self)


register("minnen2020-channelwise", ChannelwiseHyperprior, {q: {"N": 192, "M": 320} for q in range(1, 9)},
         stride=64, wrapper=ChannelwiseModel)
