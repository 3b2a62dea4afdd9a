"""Gaussian conditional (Ballé et al. 2018, arXiv 1802.01436; means: Minnen et al. 2018, arXiv 1809.02736).

The parameter tensor given by the parent is ``concat(scales, means)`` on the channel axis (CompressAI's
order), or the scales alone with ``means=False``. Coding: scales map to an index of the fixed scale table
(``jlic.entropy.gaussian.scale_index``), symbols are ``round(y - mean)`` and ``y_hat = symbol + mean``.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from jlic.entropy import gaussian
from jlic.latent_codecs.base import ConditionalLeaf, symbols_of

Array = jax.Array


@dataclass(frozen=True, eq=False)
class GaussianConditional(ConditionalLeaf):
    """Gaussian with (scale, mean) per element from the parent's parameter tensor.

    Args:
      means: parameters are ``concat(scales, means)`` (else scales only, zero mean).
      quantizer: training-time decoder input, ``"noise"`` or ``"ste"`` (rounding around the means).
    """

    means: bool = True
    quantizer: str = "noise"

    def split(self, params: Array) -> tuple[Array, Array | float]:
        """(scales, means) of the parameter tensor (means 0.0 without ``means``)."""
        if not self.means:
            return params, 0.0
        scales, means = jnp.split(params, 2, axis=-1)
        return scales, means

    def offset(self, params: Array) -> Array | float:
        return self.split(params)[1]

    def likelihood(self, y: Array, params: Array) -> Array:
        scales, means = self.split(params)
        return gaussian.likelihood(y, scales, means)

    def coding_params(self, params: Array, scale_table: Array) -> tuple[Array, Array]:
        """(scale index int32, mean float32) per element: what both coder ends compute."""
        scales, means = self.split(params)
        return gaussian.scale_index(scales, scale_table), jnp.broadcast_to(means, scales.shape)

    def encode_values(self, ctx, writer, y, coded):
        idx, means = coded
        sym = symbols_of(y, means)
        writer.encode(ctx.coders["gaussian"], sym, idx)
        return sym.astype(np.float32) + means.astype(np.float32), sym

    def decode_values(self, ctx, reader, coded):
        idx, means = coded
        sym = reader.decode(ctx.coders["gaussian"], idx)
        return sym.astype(np.float32) + means.astype(np.float32), sym
