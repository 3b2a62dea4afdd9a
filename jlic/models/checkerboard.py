"""He, Zheng, Sun, Wang, Qin 2021, "Checkerboard context model for efficient learned image compression",
arXiv 2103.15306, on top of the mean-scale hyperprior: `he2021-checkerboard`.

Layers as `mbt2018` (so the same N/M per quality and CompressAI-style names), but `context_prediction` is a
5x5 conv with a checkerboard mask that only sees the anchors (even `h + w`). Composition: hyperprior(y =
checkerboard(Gaussian conditional), z = entropy bottleneck), merging `concat(h_s(z_hat), context)` as
mbt2018; trained in one parallel pass on the noisy y (`forward_method="onepass"`), coded in two passes.
"""

from __future__ import annotations

import jax

from jlic.latent_codecs import Checkerboard, GaussianConditional
from jlic.models.base import LatentCodecModel, factorized_hyperprior
from jlic.models.bmshj2018 import AnalysisGDN, SynthesisGDN
from jlic.models.mbt2018 import EntropyParameters, _nm
from jlic.models.mbt2018_mean import HyperAnalysisLeaky, HyperSynthesisLeaky
from jlic.models.registry import register
from jlic.ops.masked import MaskedConv

Array = jax.Array


class CheckerboardHyperprior(LatentCodecModel):
    """Mean-scale hyperprior + checkerboard context (two-pass decoding)."""

    N: int
    M: int
    quantization: str = "noise"
    filters: tuple[int, ...] = (3, 3, 3, 3)

    def setup(self):
        self.g_a = AnalysisGDN(self.N, self.M)
        self.g_s = SynthesisGDN(self.N)
        self.h_a = HyperAnalysisLeaky(self.N)
        self.h_s = HyperSynthesisLeaky(self.N, self.M)
        self.context_prediction = MaskedConv(self.M, 2 * self.M, 5, "checkerboard")
        self.entropy_parameters = EntropyParameters(self.M, 2 * self.M)
        y = Checkerboard(GaussianConditional(), self.context_prediction, self.entropy_parameters,
                         context_first=False, forward_method="onepass", quantizer=self.quantization)
        self.latent_codec = factorized_hyperprior(self, y, self.h_a, self.h_s)


register("he2021-checkerboard", CheckerboardHyperprior, _nm((192, 192), (192, 320), 5), stride=64)
