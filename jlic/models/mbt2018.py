"""Minnen, Ballé, Toderici 2018, "Joint autoregressive and hierarchical priors for learned image compression",
arXiv 1809.02736: `mbt2018`, the mean-scale hyperprior plus a 5x5 masked (type A) autoregressive context model.

Layers follow CompressAI's `JointAutoregressiveHierarchicalPriors` (so its state_dicts map one to one):
`g_a`, `g_s`, `h_a`, `h_s` as `mbt2018-mean`; `context_prediction` a masked 5x5 conv M -> 2M;
`entropy_parameters` 1x1 convs 4M -> 10M/3 -> 8M/3 -> 2M with LeakyReLU on `concat(h_s(z_hat), context)`.
Composition: hyperprior(y = raster scan(Gaussian conditional), z = entropy bottleneck); coding by
wavefronts (`jlic.latent_codecs.rasterscan`).
"""

from __future__ import annotations

import flax.linen as nn
import jax

from jlic.latent_codecs import GaussianConditional, RasterScan
from jlic.models.base import LatentCodecModel, factorized_hyperprior
from jlic.models.bmshj2018 import AnalysisGDN, SynthesisGDN
from jlic.models.mbt2018_mean import HyperAnalysisLeaky, HyperSynthesisLeaky
from jlic.models.registry import register
from jlic.ops.conv import Conv
from jlic.ops.masked import MaskedConv

Array = jax.Array


class EntropyParameters(nn.Module):
    """Three 1x1 convs `in -> 10M/3 -> 8M/3 -> out` with LeakyReLU between (CompressAI indexes 0, 2, 4)."""

    M: int
    out_features: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        h = nn.leaky_relu(Conv(self.M * 10 // 3, 1, 1, name="layer_0")(x), 0.01)
        h = nn.leaky_relu(Conv(self.M * 8 // 3, 1, 1, name="layer_2")(h), 0.01)
        return Conv(self.out_features, 1, 1, name="layer_4")(h)


class JointAutoregressiveHierarchicalPriors(LatentCodecModel):
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
        y = RasterScan(GaussianConditional(), self.context_prediction, self.entropy_parameters,
                       quantizer=self.quantization)
        self.latent_codec = factorized_hyperprior(self, y, self.h_a, self.h_s)


def _nm(small: tuple[int, int], large: tuple[int, int], first_large: int) -> dict[int, dict[str, int]]:
    return {q: dict(zip(("N", "M"), small if q < first_large else large, strict=True)) for q in range(1, 9)}


register("mbt2018", JointAutoregressiveHierarchicalPriors, _nm((192, 192), (192, 320), 5), stride=64)
