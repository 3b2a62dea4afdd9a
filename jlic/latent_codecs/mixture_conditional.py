"""Discretized Gaussian mixture conditional (Cheng et al. 2020, arXiv 2001.01568).

The parent's parameter tensor ``(..., 3*K*C)`` holds component means, scales and weight logits
(:func:`jlic.entropy.mixture.split_params`). Symbols are ``round(y)``. Coding gives every symbol its own
integer table, built with integer arithmetic from its integer mixture parameters
(:func:`jlic.entropy.mixture.quantize_params`, :func:`jlic.entropy.mixture.integer_pmf`) over a window
``[lo, lo + B)`` covering every component's tails, plus an escape symbol (values outside the window use
the coder's Elias-gamma-style bypass, :func:`jlic.entropy.stream.escape_segments`). Windows are rounded up
to powers of two ``B``; all symbols of a step with the same ``B`` are one vectorized ``constriction`` call
with a per-symbol categorical family whose probabilities ``2**(24-16) * count - 1`` make constriction's
quantized model exactly the integer counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import constriction
import jax
import numpy as np

from jlic.entropy import cdf as cdf_lib
from jlic.entropy import gaussian, mixture
from jlic.entropy.bitstream import BitstreamError
from jlic.entropy.stream import escape_segments
from jlic.latent_codecs.base import ConditionalLeaf

Array = jax.Array

PRECISION = 16
_FAMILY = constriction.stream.model.Categorical(perfect=False)


class MixtureTables:
    """The integer tables of ``n`` symbols with integer mixture parameters ``(n, K)`` each."""

    def __init__(self, mq: np.ndarray, sidx: np.ndarray, counts: np.ndarray,
                 scale_table: np.ndarray = gaussian.SCALE_TABLE) -> None:
        self.n = mq.shape[0]
        lo, width = mixture.support(mq, sidx, scale_table)
        bucket = np.maximum(4, 2 ** np.ceil(np.log2(np.maximum(width, 1))).astype(np.int64))
        self.lo = lo
        self.groups: list[tuple[np.ndarray, int, np.ndarray]] = []  # (rows, B, weights (n_b, B + 1))
        for b in np.unique(bucket):
            rows = np.flatnonzero(bucket == b)
            b = int(b)
            q = mixture.integer_pmf(mq[rows], sidx[rows], counts[rows], lo[rows], b, scale_table)
            total = 2.0 ** (mixture.WEIGHT_BITS + mixture.COMPONENT_BITS)
            tables = cdf_lib.from_pmf(q / total, lo[rows], np.full(rows.size, b), PRECISION)
            weights = tables.counts()[:, : b + 1].astype(np.float64) * 2.0 ** (24 - PRECISION) - 1.0
            self.groups.append((rows, b, weights))

    def log2_prob(self, symbols: np.ndarray) -> np.ndarray:
        """Exact log2 P(symbol) under the integer tables (escapes charged the escape symbol only)."""
        out = np.empty(self.n)
        sym = np.asarray(symbols, np.int64).reshape(-1)
        for rows, b, weights in self.groups:
            k = sym[rows] - self.lo[rows]
            k = np.where((k < 0) | (k >= b), b, k)
            counts = (weights[np.arange(rows.size), k] + 1.0) / 2.0 ** (24 - PRECISION)
            out[rows] = np.log2(counts) - PRECISION
        return out

    def segments(self, symbols: np.ndarray) -> list[tuple]:
        """Stream segments (decode order) of ``symbols``: one per window size, then the escapes."""
        sym = np.asarray(symbols, np.int64).reshape(-1)
        segs: list[tuple] = []
        esc_v, esc_len = [], []
        for rows, b, weights in self.groups:
            v = sym[rows] - self.lo[rows]
            escape = (v < 0) | (v >= b)
            segs.append((np.where(escape, b, v).astype(np.int32), _FAMILY, (weights,)))
            esc_v.append(v[escape])
            esc_len.append(np.full(int(escape.sum()), b, np.int64))
        if self.groups:
            segs += escape_segments(np.concatenate(esc_v), np.concatenate(esc_len))
        return segs

    def decode(self, reader: Any) -> np.ndarray:
        """The ``n`` int32 symbols, read from a :class:`jlic.entropy.stream.StreamReader`."""
        out = np.empty(self.n, np.int64)
        esc_rows, esc_len = [], []
        for rows, b, weights in self.groups:
            k = reader.decode_model(_FAMILY, weights).astype(np.int64)
            out[rows] = k
            escape = k == b
            esc_rows.append(rows[escape])
            esc_len.append(np.full(int(escape.sum()), b, np.int64))
        if self.groups:
            rows = np.concatenate(esc_rows)
            if rows.size:
                out[rows] = reader.decode_escapes(np.concatenate(esc_len))
        values = out + self.lo
        if values.size and (values.min() < np.iinfo(np.int32).min or values.max() > np.iinfo(np.int32).max):
            raise BitstreamError("decoded escape value outside int32 (corrupt stream)")
        return values.astype(np.int32)


@dataclass(frozen=True, eq=False)
class GaussianMixtureConditional(ConditionalLeaf):
    """K-component discretized Gaussian mixture per element; ``quantizer`` as the Gaussian's (offset 0)."""

    K: int = mixture.K_DEFAULT
    quantizer: str = "noise"

    def offset(self, params: Array) -> float:
        return 0.0

    def likelihood(self, y: Array, params: Array) -> Array:
        return mixture.likelihood(y, *mixture.split_params(params, self.K))

    def coding_params(self, params: Array, scale_table: Array) -> tuple[Array, Array, Array]:
        """Integer (means, scale indexes, weight counts), each ``(..., C, K)``."""
        return mixture.quantize_params(*mixture.split_params(params, self.K), scale_table)

    def _tables(self, ctx: Any, coded: tuple[np.ndarray, ...]) -> MixtureTables:
        mq, sidx, counts = (np.asarray(a).reshape(-1, self.K) for a in coded)
        return MixtureTables(mq, sidx, counts, np.asarray(ctx.tables.scale_table, np.float32))

    def encode_values(self, ctx, writer, y, coded):
        sym = np.rint(np.asarray(y, np.float32)).astype(np.int32)
        writer.encode_segments(self._tables(ctx, coded).segments(sym))
        return sym.astype(np.float32), sym

    def decode_values(self, ctx, reader, coded):
        sym = self._tables(ctx, coded).decode(reader).reshape(np.shape(coded[0])[:-1])
        return sym.astype(np.float32), sym
