"""The factorized entropy bottleneck as a latent codec (Ballé et al. 2018, arXiv 1802.01436).

Each channel has its own learned non-parametric density (:mod:`jlic.entropy.factorized`); symbols are
``round(y - median)`` coded with the per-channel integer tables ``ctx.tables.factorized``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

from jlic.entropy import factorized
from jlic.latent_codecs.base import LatentCodec, LatentOut, quantize_pair, symbols_of

Array = jax.Array


@dataclass(frozen=True, eq=False)
class EntropyBottleneck(LatentCodec):
    """Per-channel factorized density, no side information.

    Args:
      params: the density's parameters (the model's ``entropy_bottleneck`` param, see
        :func:`jlic.entropy.factorized.init`); its coding tables are ``ctx.tables.factorized``.
      quantizer: training-time decoder input, ``"noise"`` or ``"ste"`` (rounding around the medians).
    """

    params: Any
    quantizer: str = "noise"

    def tables(self) -> set[str]:
        return {"factorized"}

    def forward(self, y: Array, side: Array | None, train: bool, key: Array | None) -> LatentOut:
        y_lik, y_dec = quantize_pair(y, train, self.quantizer, factorized.medians(self.params), key)
        return LatentOut(y_dec, {"y": factorized.likelihood(self.params, y_lik)})

    def _check(self, ctx: Any, channels: int) -> tuple[Any, np.ndarray]:
        if channels != ctx.tables.factorized.num_tables:
            raise ValueError(f"factorized tables have {ctx.tables.factorized.num_tables} channels, "
                             f"the latent {channels}")
        return ctx.coders["factorized"], np.asarray(ctx.tables.medians, np.float32)

    def encode(self, ctx, writer, y, side):
        coder, medians = self._check(ctx, y.shape[-1])
        sym = symbols_of(y, medians)
        writer.encode(coder, sym, np.broadcast_to(np.arange(y.shape[-1], dtype=np.int32), y.shape))
        return sym.astype(np.float32) + medians, {"y": sym}

    def decode(self, ctx, reader, shape, side):
        coder, medians = self._check(ctx, shape[-1])
        sym = reader.decode(coder, np.broadcast_to(np.arange(shape[-1], dtype=np.int32), shape))
        return sym.astype(np.float32) + medians, {"y": sym}
