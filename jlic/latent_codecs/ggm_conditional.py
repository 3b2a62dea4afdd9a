"""Generalized Gaussian conditional leaf, and a learned per-channel prior that needs no side information.

HPCM (Li et al. 2025, arXiv 2507.19125) codes y with a generalized Gaussian of shape 1.5
(:mod:`jlic.entropy.ggm`) whose ``concat(scales, means)`` come from its context model, and the hyper-latent z
with the same density at one learned (scale, mean) per channel: :class:`LearnedPrior` over a
:class:`GGMConditional` (``side`` = the model's parameter vector, broadcast over the positions).

Coding tables: one row per entry of :data:`jlic.entropy.ggm.SCALE_TABLE` (the official scale table), built
from constants only (the shape, the scale table, 16-bit precision) the first time a context codes with them and
kept in the context's coders (as :class:`jlic.latent_codecs.gained.StepEntropyBottleneck` keeps its tables),
so encoder and decoder build the same integer tables with the same code. Symbols are ``round(y - mean)``,
``y_hat = symbol + mean``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jlic.entropy import cdf as cdf_lib
from jlic.entropy import gaussian, ggm
from jlic.entropy.coder import Coder
from jlic.latent_codecs.base import ConditionalLeaf, LatentCodec, symbols_of

Array = jax.Array

PRECISION = 16


@dataclass(frozen=True, eq=False)
class GGMConditional(ConditionalLeaf):
    """Generalized Gaussian (shape ``beta``) with ``concat(scales, means)`` per element from the parent.

    Args:
      beta: the shape (1.5 in HPCM).
      quantizer: training-time decoder input, ``"noise"`` or ``"ste"`` (rounding around the means).
    """

    beta: float = ggm.BETA
    quantizer: str = "ste"

    def tables(self) -> set[str]:
        return {"ggm"}

    def split(self, params: Array) -> tuple[Array, Array]:
        scales, means = jnp.split(params, 2, axis=-1)
        return scales, means

    def offset(self, params: Array) -> Array:
        return self.split(params)[1]

    def likelihood(self, y: Array, params: Array) -> Array:
        scales, means = self.split(params)
        return ggm.likelihood(y, scales, means, self.beta)

    def coding_params(self, params: Array, scale_table: Array) -> tuple[Array, Array]:
        """(index into ``scale_table``, mean) per element (jittable; the table is the GGM's own)."""
        scales, means = self.split(params)
        return gaussian.scale_index(scales, scale_table), jnp.broadcast_to(means, scales.shape)

    def _coded(self, ctx: Any, side: np.ndarray) -> tuple[np.ndarray, ...]:
        table = jnp.asarray(ggm.SCALE_TABLE, jnp.float32)
        return tuple(np.asarray(a) for a in ctx.call("coding_params", side, table))

    def coder(self, ctx: Any) -> Coder:
        """The integer tables of this shape (built once per context family, kept in ``ctx.coders``)."""
        key = f"ggm@beta={float(self.beta).hex()}"
        if key not in ctx.coders:
            pmf, offset, length = ggm.pmf_table(ggm.SCALE_TABLE, self.beta)
            ctx.coders[key] = Coder(cdf_lib.from_pmf(pmf, offset, length, PRECISION))
        return ctx.coders[key]

    def encode_values(self, ctx, writer, y, coded):
        idx, means = coded
        sym = symbols_of(y, means)
        writer.encode(self.coder(ctx), sym, idx)
        return sym.astype(np.float32) + means.astype(np.float32), sym

    def decode_values(self, ctx, reader, coded):
        idx, means = coded
        sym = reader.decode(self.coder(ctx), idx)
        return sym.astype(np.float32) + means.astype(np.float32), sym


@dataclass(frozen=True, eq=False)
class LearnedPrior(LatentCodec):
    """A leaf with one learned parameter vector for every position (no side input), e.g. HPCM's z prior.

    Args:
      y: the leaf (e.g. :class:`GGMConditional`).
      params: ``(P,)`` parameters (e.g. ``concat(scales, means)`` of the latent's channels), or a callable
        returning them; broadcast over the batch and spatial axes.
    """

    y: ConditionalLeaf
    params: Any

    def children(self):
        return {"y": self.y}

    def side(self, shape: tuple[int, ...]) -> Array:
        p = self.params() if callable(self.params) else self.params
        return jnp.broadcast_to(jnp.asarray(p, jnp.float32), (*shape[:-1], p.shape[-1]))

    def forward(self, y, side, train, key):
        return self.y.forward(y, self.side(y.shape), train, key)

    def encode(self, ctx, writer, y, side):
        prior = np.asarray(ctx.call("side", static=(tuple(y.shape),)), np.float32)
        return self.y.encode(ctx.child("y"), writer, y, prior)

    def decode(self, ctx, reader, shape, side):
        prior = np.asarray(ctx.call("side", static=(tuple(shape),)), np.float32)
        return self.y.decode(ctx.child("y"), reader, shape, prior)

