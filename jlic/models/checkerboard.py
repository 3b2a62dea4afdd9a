"""He, Zheng, Sun, Wang, Qin 2021, "Checkerboard context model for efficient learned image compression",
arXiv 2103.15306, on top of the mean-scale hyperprior: `he2021-checkerboard`.

Layers as `mbt2018` (so the same N/M per quality and CompressAI-style names), but `context_prediction` is a
5x5 conv with a checkerboard mask and only sees the *anchors* (positions with even `h + w`). Anchors get
entropy parameters from the hyperprior alone (their context input is zero), non-anchors from the hyperprior
and the anchors around them. Training is one parallel pass (noisy y); coding is two passes
(`jlic.entropy.context.passes.CheckerboardLatents`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jlic import quantize
from jlic.entropy import factorized, gaussian
from jlic.entropy.context.passes import CheckerboardLatents
from jlic.models.base import CompressionModel, Params
from jlic.models.bmshj2018 import AnalysisGDN, SynthesisGDN, quantize_pair
from jlic.models.mbt2018 import EntropyParameters, JointAutoregressiveHierarchicalPriors, _nm
from jlic.models.mbt2018_mean import HyperAnalysisLeaky, HyperSynthesisLeaky
from jlic.models.registry import register
from jlic.ops.masked import MaskedConv

Array = jax.Array


def anchor_mask(height: int, width: int) -> np.ndarray:
    """(H, W, 1) float32: 1 at the anchors (even `h + w`), 0 at the non-anchors."""
    h, w = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    return ((h + w) % 2 == 0).astype(np.float32)[..., None]


class CheckerboardHyperprior(JointAutoregressiveHierarchicalPriors):
    """Mean-scale hyperprior + checkerboard context (two-pass decoding)."""

    def setup(self):
        self.g_a = AnalysisGDN(self.N, self.M)
        self.g_s = SynthesisGDN(self.N)
        self.h_a = HyperAnalysisLeaky(self.N)
        self.h_s = HyperSynthesisLeaky(self.N, self.M)
        self.context_prediction = MaskedConv(self.M, 2 * self.M, 5, "checkerboard")
        self.entropy_parameters = EntropyParameters(self.M, 2 * self.M)
        self.entropy_bottleneck = self.param("entropy_bottleneck",
                                             lambda key: factorized.init(key, self.N, self.filters))

    def checkerboard_params(self, y_hat: Array, hyper: Array) -> tuple[Array, Array]:
        """(scales, means) everywhere: anchors from `hyper` only, non-anchors also from `y_hat`'s anchors."""
        anchor = jnp.asarray(anchor_mask(y_hat.shape[1], y_hat.shape[2]))
        ctx = self.context_prediction(y_hat * anchor) * (1.0 - anchor)
        return self.gaussian_params(hyper, ctx)

    def __call__(self, x: Array, train: bool) -> tuple[Array, dict[str, Array]]:
        y = self.g_a(x)
        z = self.h_a(y)
        kz, ky = jax.random.split(self.make_rng("noise")) if train else (None, None)
        z_lik, z_dec = quantize_pair(z, train, "noise", factorized.medians(self.entropy_bottleneck), kz)
        hyper = self.hyper_params(z_dec)
        if train:
            y_lik = quantize.noise(y, ky)
            y_dec = y_lik if self.quantization == "noise" else quantize.round_ste(y)
        else:
            y_lik = y_dec = quantize.round_offset(y)
        scales, means = self.checkerboard_params(y_lik, hyper)
        likelihoods = {
            "y": gaussian.likelihood(y_lik, scales, means),
            "z": factorized.likelihood(self.entropy_bottleneck, z_lik),
        }
        return self.g_s(y_dec), likelihoods


class CheckerboardModel(CompressionModel):
    """Registered checkerboard model: y coded in two passes."""

    def hyper_params(self, params: Params, z_hat: Array) -> Array:
        return self._method("hyper_params", params, z_hat)

    def checkerboard_params(self, params: Params, y_hat: Array, hyper: Array) -> tuple[Array, Array]:
        return self._method("checkerboard_params", params, y_hat, hyper)

    def anchor_mask(self, height: int, width: int) -> np.ndarray:
        return anchor_mask(height, width)

    @functools.cached_property
    def latent_codec(self) -> CheckerboardLatents:
        return CheckerboardLatents(self)


register("he2021-checkerboard", CheckerboardHyperprior, _nm((192, 192), (192, 320), 5), stride=64,
         wrapper=CheckerboardModel)
