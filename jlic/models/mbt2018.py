"""Minnen, Ballé, Toderici 2018, "Joint autoregressive and hierarchical priors for learned image compression",
arXiv 1809.02736: `mbt2018`, the mean-scale hyperprior plus a 5x5 masked (type A) autoregressive context model.

Layers follow CompressAI's `JointAutoregressiveHierarchicalPriors` (so its state_dicts map one to one):
`g_a`, `g_s`, `h_a`, `h_s` as `mbt2018-mean`; `context_prediction` a masked 5x5 conv M -> 2M;
`entropy_parameters` 1x1 convs 4M -> 10M/3 -> 8M/3 -> 2M with LeakyReLU, whose output is (scales, means) on
the input `concat(h_s(z_hat), context)`. Training feeds the noisy y to the context model (as CompressAI);
evaluation feeds `round(y)` and takes the likelihood at `round(y - mu) + mu`. Coding is by wavefronts
(`jlic.entropy.context.autoregressive`).
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from jlic import quantize
from jlic.entropy import factorized, gaussian
from jlic.entropy.context.autoregressive import AutoregressiveLatents
from jlic.models.base import CompressionModel, Params
from jlic.models.bmshj2018 import AnalysisGDN, HyperTransformHooks, SynthesisGDN, quantize_pair
from jlic.models.mbt2018_mean import HyperAnalysisLeaky, HyperSynthesisLeaky
from jlic.models.registry import register
from jlic.ops.conv import Conv
from jlic.ops.masked import MaskedConv

Array = jax.Array


class EntropyParameters(nn.Module):
    """Three 1x1 convs `in -> 10M/3 -> 8M/3 -> out` with LeakyReLU between (CompressAI indexes 0, 2, 4).

    Works on NHWC maps and on (P, C) rows of gathered positions alike.
    """

    M: int
    out_features: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        rows = x.ndim == 2
        h = x[None, None] if rows else x
        h = nn.leaky_relu(Conv(self.M * 10 // 3, 1, 1, name="layer_0")(h), 0.01)
        h = nn.leaky_relu(Conv(self.M * 8 // 3, 1, 1, name="layer_2")(h), 0.01)
        h = Conv(self.out_features, 1, 1, name="layer_4")(h)
        return h[0, 0] if rows else h


class JointAutoregressiveHierarchicalPriors(HyperTransformHooks, nn.Module):
    """mbt2018: Gaussian on y with (scale, mean) from the hyperprior and a causal context of decoded y."""

    N: int
    M: int
    quantization: str = "noise"
    filters: tuple[int, ...] = (3, 3, 3, 3)

    def setup(self):
        self.g_a = AnalysisGDN(self.N, self.M)
        self.g_s = SynthesisGDN(self.N)
        self.h_a = HyperAnalysisLeaky(self.N)
        self.h_s = HyperSynthesisLeaky(self.N, self.M)
        self.context_prediction = MaskedConv(self.M, 2 * self.M, 5, "A")
        self.entropy_parameters = EntropyParameters(self.M, 2 * self.M)
        self.entropy_bottleneck = self.param("entropy_bottleneck",
                                             lambda key: factorized.init(key, self.N, self.filters))

    def hyper_params(self, z_hat: Array) -> Array:
        """`h_s(z_hat)` as one (..., 2M) map (scales then means), input of `entropy_parameters`."""
        return jnp.concatenate(self.h_s(z_hat), axis=-1)

    def gaussian_params(self, hyper: Array, ctx: Array) -> tuple[Array, Array]:
        scales, means = jnp.split(self.entropy_parameters(jnp.concatenate([hyper, ctx], -1)), 2, axis=-1)
        return scales, means

    def context_full(self, y_hat: Array, hyper: Array) -> tuple[Array, Array]:
        """(scales, means) at every position of `y_hat` (NHWC), from its causal context."""
        return self.gaussian_params(hyper, self.context_prediction(y_hat))

    def context_params(self, taps: Array, hyper: Array) -> tuple[Array, Array]:
        """(scales, means) (P, M) at P positions from their 12 causal taps (P, 12, M) and hyper rows (P, 2M)."""
        return self.gaussian_params(hyper, self.context_prediction.taps(taps))

    def __call__(self, x: Array, train: bool) -> tuple[Array, dict[str, Array]]:
        y = self.g_a(x)
        z = self.h_a(y)
        kz, ky = jax.random.split(self.make_rng("noise")) if train else (None, None)
        z_lik, z_dec = quantize_pair(z, train, "noise", factorized.medians(self.entropy_bottleneck), kz)
        hyper = self.hyper_params(z_dec)
        if train:
            y_lik = quantize.noise(y, ky)
            y_dec = y_lik if self.quantization == "noise" else quantize.round_ste(y)
            scales, means = self.context_full(y_lik, hyper)
        else:
            # As CompressAI's forward: the context sees round(y); the likelihood is taken at round(y - mu) + mu,
            # the value the coder codes.
            y_dec = quantize.round_offset(y)
            scales, means = self.context_full(y_dec, hyper)
            y_lik = quantize.round_offset(y, means)
        likelihoods = {
            "y": gaussian.likelihood(y_lik, scales, means),
            "z": factorized.likelihood(self.entropy_bottleneck, z_lik),
        }
        return self.g_s(y_dec), likelihoods

    def hyper_synthesis(self, z_hat: Array) -> tuple[Array, Array | None]:
        return self.h_s(z_hat)


class ContextModel(CompressionModel):
    """A registered model whose y is coded with its context model (hooks for the latent codec)."""

    def hyper_params(self, params: Params, z_hat: Array) -> Array:
        return self._method("hyper_params", params, z_hat)

    def context_params(self, params: Params, taps: Array, hyper: Array) -> tuple[Array, Array]:
        return self._method("context_params", params, taps, hyper)

    def context_full(self, params: Params, y_hat: Array, hyper: Array) -> tuple[Array, Array]:
        return self._method("context_full", params, y_hat, hyper)

    def mixture_taps(self, params: Params, taps: Array, hyper: Array) -> tuple[Array, Array, Array]:
        return self._method("mixture_taps", params, taps, hyper)

    @functools.cached_property
    def latent_codec(self) -> AutoregressiveLatents:
        """Wavefront coding of y (one compiled step function per model object)."""
        return AutoregressiveLatents(self, mixture=self.kwargs.get("likelihood") == "mixture")


def _nm(small: tuple[int, int], large: tuple[int, int], first_large: int) -> dict[int, dict[str, int]]:
    return {q: dict(zip(("N", "M"), small if q < first_large else large, strict=True)) for q in range(1, 9)}


register("mbt2018", JointAutoregressiveHierarchicalPriors, _nm((192, 192), (192, 320), 5), stride=64,
         wrapper=ContextModel)
