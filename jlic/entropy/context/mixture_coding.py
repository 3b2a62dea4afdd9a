"""Entropy coding of symbols under discretized Gaussian mixtures with per-symbol integer tables.

Cheng et al. 2020, arXiv 2001.01568. Each symbol `round(y)` gets its own table, built with integer arithmetic
from its integer mixture parameters (:func:`jlic.entropy.mixture.quantize_params` and
:func:`jlic.entropy.mixture.integer_pmf`) over a window `[lo, lo + B)` that covers every component's tails,
plus an escape symbol (any value outside the window is then sent with the Elias-gamma-style bypass of
:mod:`jlic.coding.coder`). Windows are rounded up to powers of two `B`, and all symbols of a step with the same
`B` are one vectorized `constriction` call with a per-symbol categorical family; the probabilities handed to
it are `2**(24-16) * count - 1` for integer counts summing to `2**16` (:func:`jlic.coding.cdf.from_pmf` on
exact dyadic inputs), which makes constriction's quantized model exactly the integer counts, as in
:class:`jlic.coding.coder.Coder`.
"""

from __future__ import annotations

from typing import Any

import constriction
import numpy as np

from jlic.coding import cdf as cdf_lib
from jlic.coding import coder as coder_lib
from jlic.entropy import gaussian, mixture

PRECISION = 16
_FAMILY = constriction.stream.model.Categorical(perfect=False)
_NBITS = constriction.stream.model.Uniform(coder_lib._MAX_RAW_BITS + 1)
_CHUNKS = constriction.stream.model.Uniform()


class MixtureStep:
    """The tables of one step's symbols (n elements with integer mixture parameters (n, K))."""

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
        sym = np.asarray(symbols, np.int64).reshape(-1)
        segs: list[tuple] = []
        esc_v, esc_len = [], []
        for rows, b, weights in self.groups:
            v = sym[rows] - self.lo[rows]
            escape = (v < 0) | (v >= b)
            segs.append((np.where(escape, b, v).astype(np.int32), _FAMILY, (weights,)))
            esc_v.append(v[escape])
            esc_len.append(np.full(int(escape.sum()), b, np.int64))
        nbits, chunks, sizes = coder_lib._escape_payload(np.concatenate(esc_v), np.concatenate(esc_len))
        if nbits.size:
            segs.append((nbits, _NBITS, ()))
        if chunks.size:
            segs.append((chunks, _CHUNKS, (sizes,)))
        return segs

    def decode(self, ans: Any) -> np.ndarray:
        out = np.empty(self.n, np.int64)
        esc_rows, esc_len = [], []
        for rows, b, weights in self.groups:
            k = np.asarray(ans.decode(_FAMILY, weights), np.int64)
            out[rows] = k
            escape = k == b
            esc_rows.append(rows[escape])
            esc_len.append(np.full(int(escape.sum()), b, np.int64))
        rows = np.concatenate(esc_rows)
        if rows.size:
            nbits = np.asarray(ans.decode(_NBITS, rows.size), np.int64)
            sizes, owner, shift = coder_lib._chunk_layout(nbits)
            chunks = np.asarray(ans.decode(_CHUNKS, sizes), np.int64) if sizes.size else sizes
            out[rows] = coder_lib._escape_values(nbits, chunks, owner, shift, np.concatenate(esc_len))
        values = out + self.lo
        if values.size and (values.min() < np.iinfo(np.int32).min or values.max() > np.iinfo(np.int32).max):
            raise ValueError("decoded escape value outside int32 (corrupt stream)")
        return values.astype(np.int32)
