"""Minnen & Singh 2020, "Channel-wise autoregressive entropy models for learned image compression",
arXiv 2007.08739: `minnen2020-channelwise`.

y (M channels) is split into `num_slices` slices coded one after the other. Slice i gets its Gaussian mean
and scale from `cc_mean_transforms[i]` / `cc_scale_transforms[i]` applied to the hyperprior's latent means
(resp. scales) concatenated with the first `min(i, max_support_slices)` decoded slices; after quantization
`round(y_i - mu_i) + mu_i`, the latent residual prediction `0.5 tanh(lrp_transforms[i](...))` of the
quantization error is added. The hyperprior has separate mean and scale synthesis transforms. Transforms
`g_a`/`g_s` are the GDN ones of Ballé et al. (as in the paper's baseline). Training: the likelihood uses
noisy y, the decoder path straight-through rounding (`quantization="ste"`, as in the paper) or noisy y.
Composition: hyperprior(y = channel groups of `num_slices` equal slices (Gaussian conditional each, channel
context and latent residual prediction from the model's slice networks), z = entropy bottleneck).
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from jlic.latent_codecs import ChannelGroups, GaussianConditional
from jlic.models.base import LatentCodecModel, factorized_hyperprior
from jlic.models.bmshj2018 import AnalysisGDN, SynthesisGDN
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


class ChannelwiseHyperprior(LatentCodecModel):
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
        self.g_a, self.g_s = self.make_transforms()
        self.h_a, self.h_mean_s, self.h_scale_s = self.make_hyper_transforms()
        self.cc_mean_transforms = [self.make_slice_transform(size) for _ in range(self.num_slices)]
        self.cc_scale_transforms = [self.make_slice_transform(size) for _ in range(self.num_slices)]
        self.lrp_transforms = [self.make_slice_transform(size) for _ in range(self.num_slices)]
        n = self.num_slices
        y = ChannelGroups(groups=(size,) * n, codecs=(GaussianConditional(quantizer=self.quantization),) * n,
                          channel_context=[functools.partial(self.slice_params, i) for i in range(n)],
                          lrp=[functools.partial(self.slice_lrp, i) for i in range(n)], context_takes_side=True)
        self.latent_codec = factorized_hyperprior(self, y, self.h_a, self.hyper_side)

    # The networks; STF and WACNN (jlic.models.stf) override these three.

    def make_transforms(self) -> tuple[nn.Module, nn.Module]:
        """g_a and g_s."""
        return AnalysisGDN(self.N, self.M), SynthesisGDN(self.N)

    def make_hyper_transforms(self) -> tuple[nn.Module, nn.Module, nn.Module]:
        """h_a and the two hyper-synthesis branches (means, scales)."""
        branch = functools.partial(HyperSynthesisBranch, self.N, self.M)
        return HyperAnalysisLeaky(self.N), branch(), branch()

    def make_slice_transform(self, out: int) -> nn.Module:
        """A slice network (mean, scale or LRP) with `out` output channels."""
        return SliceTransform(self.hidden, out)

    def hyper_side(self, z_hat: Array) -> Array:
        """concat(latent means, latent scales) (..., 2M)."""
        return jnp.concatenate([self.h_mean_s(z_hat), self.h_scale_s(z_hat)], axis=-1)

    def _support(self, prev: Array, i: int) -> Array:
        return prev[..., : min(i, self.max_support_slices) * (self.M // self.num_slices)]

    def slice_params(self, i: int, prev: Array, hyper: Array) -> Array:
        """concat(scales, means) of slice i from the hyperprior and the decoded slices `prev` (..., i*M/S)."""
        latent_means, latent_scales = jnp.split(hyper, 2, axis=-1)
        support = self._support(prev, i)
        mu = self.cc_mean_transforms[i](jnp.concatenate([latent_means, support], -1))
        sigma = self.cc_scale_transforms[i](jnp.concatenate([latent_scales, support], -1))
        return jnp.concatenate([sigma, mu], -1)

    def slice_lrp(self, i: int, prev: Array, hyper: Array, y_hat_i: Array) -> Array:
        """Latent residual prediction of slice i from the decoded slices before it and slice i itself."""
        latent_means = jnp.split(hyper, 2, axis=-1)[0]
        lrp = self.lrp_transforms[i](jnp.concatenate([latent_means, self._support(prev, i), y_hat_i], -1))
        return 0.5 * jnp.tanh(lrp)


register("minnen2020-channelwise", ChannelwiseHyperprior, {q: {"N": 192, "M": 320} for q in range(1, 9)},
         stride=64)
