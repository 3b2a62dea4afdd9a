"""CompressAI's variable-rate hyperprior models (Kamisli, Racapé, Choi 2024, arXiv 2402.18930).

One registry entry, ``"kamisli2024-vbr"``, with ``variant`` the fixed-rate model it extends:

- ``"bmshj2018-hyperprior"`` (CompressAI ``bmshj2018-hyperprior-vbr``): scale hyperprior, zero mean;
- ``"mbt2018-mean"`` (``mbt2018-mean-vbr``): mean-scale hyperprior;
- ``"mbt2018"`` (``mbt2018-vbr``): mean-scale hyperprior plus the 5x5 raster-scan context, whose output is
  shifted by ``scale_to_context(g)`` (a linear map ``1 -> 2M``).

Transforms are the fixed-rate ones (:mod:`jlic.models.bmshj2018`, :mod:`jlic.models.mbt2018_mean`,
:mod:`jlic.models.mbt2018`). Per rate level ``l`` (``lambdas``, default CompressAI's eight MSE λ) a learned
scalar gain ``Gain[l]`` scales y inside the Gaussian leaf (:mod:`jlic.latent_codecs.scaled_gaussian`: y coded
as ``(y - mu) g`` against ``sigma g``, reconstruction offsets from the ``QuantABCD`` MLP 2 -> 12 -> 12 -> 1);
with ``z_step`` (CompressAI's ``vr_entbttlnck``, on in its zoo models except ``mbt2018-vbr``) the MLP
``gayn2zqstep`` (1 -> 10 -> 10 -> 1, softplus) gives z a per-level step ``max(net(1/g), 0.5)``
(:mod:`jlic.latent_codecs.gained`). Parameter names are CompressAI's, so its state_dicts map one to one
(:mod:`jlic.interop.compressai_vbr`).

``model.at(level)`` binds the coding level (fractional: the gain interpolated exponentially between levels,
CompressAI's ``inputscale``); the ``.jlic`` file records it and the decoder follows it. Training
(``apply(train=True, level=...)``, one level per example as :mod:`jlic.train.variable_rate` draws) follows
CompressAI's stage 2 (noise for the likelihoods, straight-through rounding with offsets for the decoder;
gains held fixed), with a parallel context for ``mbt2018`` (CompressAI's is a sequential loop).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jlic.entropy import factorized
from jlic.latent_codecs import EntropyBottleneck
from jlic.latent_codecs.gained import GainedHyperprior, GainedRasterScan, StepEntropyBottleneck
from jlic.latent_codecs.scaled_gaussian import ScaledGaussian
from jlic.models import registry
from jlic.models.base import CompressionModel, LatentCodecModel, ModelOutput, crop_image, pad_image
from jlic.models.bmshj2018 import AnalysisGDN, HyperAnalysisReLU, HyperSynthesisReLU, SynthesisGDN
from jlic.models.mbt2018 import EntropyParameters
from jlic.models.mbt2018_mean import HyperAnalysisLeaky, HyperSynthesisLeaky
from jlic.models.variable_rate import RateLevels
from jlic.ops.masked import MaskedConv

Array = jax.Array
Params = Any
NAME = "kamisli2024-vbr"
VARIANTS = ("bmshj2018-hyperprior", "mbt2018-mean", "mbt2018")
LAMBDAS = (0.0018, 0.0035, 0.0067, 0.0130, 0.025, 0.0483, 0.0932, 0.18)  # CompressAI's vbr `lmbda`


class MLP(nn.Module):
    """Dense layers ``widths`` with ReLU between (CompressAI ``nn.Sequential`` indexes 0, 2, 4), optional
    softplus at the end."""

    widths: tuple[int, ...]
    softplus: bool = False

    @nn.compact
    def __call__(self, x: Array) -> Array:
        for i, w in enumerate(self.widths):
            x = nn.Dense(w, name=f"layer_{2 * i}")(x)
            if i < len(self.widths) - 1:
                x = nn.relu(x)
        return jax.nn.softplus(x) if self.softplus else x


class Kamisli2024(LatentCodecModel):
    """A variable-rate hyperprior model (module docstring); ``__call__(x, train, level)``."""

    N: int
    M: int
    variant: str = "mbt2018-mean"
    z_step: bool = True
    lambdas: tuple[float, ...] = LAMBDAS
    filters: tuple[int, ...] = (3, 3, 3, 3)

    def setup(self):
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, not {self.variant!r}")
        if self.variant == "mbt2018" and self.z_step:
            raise ValueError("mbt2018-vbr codes z with step 1 at every level (z_step=False)")
        self.g_a = AnalysisGDN(self.N, self.M)
        self.g_s = SynthesisGDN(self.N)
        means = self.variant != "bmshj2018-hyperprior"
        self.h_a = HyperAnalysisLeaky(self.N) if means else HyperAnalysisReLU(self.N)
        self.h_s = HyperSynthesisLeaky(self.N, self.M) if means else HyperSynthesisReLU(self.N, self.M)
        lam = np.asarray(self.lambdas, np.float64)
        self.Gain = self.param("Gain", lambda key: jnp.asarray(np.sqrt(lam / lam.max()), jnp.float32))
        self.QuantABCD = MLP((12, 12, 1))
        eb = self.param("entropy_bottleneck", lambda key: factorized.init(key, self.N, self.filters))
        leaf = ScaledGaussian(self.QuantABCD, means=means, centred=self.variant != "mbt2018-mean")
        if self.variant == "mbt2018":
            self.context_prediction = MaskedConv(self.M, 2 * self.M, 5, "A")
            self.entropy_parameters = EntropyParameters(self.M, 2 * self.M)
            self.scale_to_context = nn.Dense(2 * self.M)
            y = GainedRasterScan(leaf, self.context_prediction, self.entropy_parameters,
                                 scale_to_context=self.scale_to_context)
        else:
            y = leaf
        if self.z_step:
            self.gayn2zqstep = MLP((10, 10, 1), softplus=True)
            z, step = StepEntropyBottleneck(eb), self.gayn2zqstep
        else:
            z, step = EntropyBottleneck(eb, quantizer="ste"), None
        self.latent_codec = GainedHyperprior(y=y, z=z, h_a=self.h_a, h_s=self.h_s, gains=self.Gain, z_step=step)

    def __call__(self, x: Array, train: bool, level: Array | float | None = None) -> tuple[Array, dict]:
        key = self.make_rng("noise") if train else None
        level = len(self.lambdas) - 1 if level is None else level
        out = self.latent_codec.forward(self.g_a(x), level, train, key)
        return self.g_s(out.y_hat), out.likelihoods


@dataclasses.dataclass(frozen=True, eq=False)
class GainedModel(RateLevels, CompressionModel):
    """:class:`CompressionModel` of :class:`Kamisli2024`: ``at(level)``, ``at_lambda``; the level acts in the
    latent codec (coding context ``rate_level``), so ``analysis`` / ``synthesis`` ignore it."""

    lambdas: tuple[float, ...] = ()
    level: float | None = None
    cache: dict = dataclasses.field(default_factory=dict, repr=False)  # shared by `at()` copies

    @property
    def _coding_fns(self) -> dict:
        return self.cache  # the level is an argument of the compiled steps: one cache for all levels

    def apply(self, params: Params, x: Array, train: bool = False, rng: Array | None = None,
              padding: str = "edge", level: Array | float | None = None) -> ModelOutput:
        """Forward pass at ``level`` (a scalar or one per example; default the coding level)."""
        if train and rng is None:
            raise ValueError("apply(train=True) needs an rng key for quantization noise")
        xp, pads = pad_image(x, self.stride, padding)
        rngs = {"noise": rng} if rng is not None else {}
        level = self.coding_level if level is None else level
        x_hat, likelihoods = self.module.apply({"params": params}, xp, train, level, rngs=rngs)
        return ModelOutput(crop_image(x_hat, pads), likelihoods)

    def synthesis(self, params: Params, y_hat: Array, level: Any = None) -> Array:
        """``g_s(y_hat)``: ``y_hat`` is already the level's reconstruction (offsets, 1/g)."""
        return super().synthesis(params, y_hat)

    def coding_context(self, params, tables, coders, jit=True, batch=None):
        ctx = super().coding_context(params, tables, coders, jit=jit, batch=batch)
        ctx.rate_level = self.coding_level
        return ctx


def _build(name: str, kwargs: dict[str, Any], module: Kamisli2024, stride: int) -> GainedModel:
    return GainedModel(name=name, kwargs=kwargs, module=module, stride=stride,
                       lambdas=tuple(float(x) for x in module.lambdas))


def _module(**kwargs: Any) -> Kamisli2024:
    if "lambdas" in kwargs:
        kwargs["lambdas"] = tuple(float(x) for x in kwargs["lambdas"])
    return Kamisli2024(**kwargs)


registry.register(NAME, _module, {q: {"N": 192, "M": 320} for q in range(1, 9)}, stride=64, wrapper=_build)
