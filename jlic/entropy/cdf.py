"""Quantized CDF tables for entropy coding, built with deterministic integer math.

A table row describes one discrete distribution over ``length[t]`` consecutive integers starting at
``offset[t]`` plus one *escape* symbol (index ``length[t]``) that stands for every value outside that
support (the coder then appends the value with a bypass code, see :mod:`jlic.entropy.coder`). This is the
layout of CompressAI's ``_quantized_cdf`` / ``_cdf_length`` / ``_offset`` buffers, so the same tables can
be fed to both coders:

* ``cdf[t, :cdf_length[t]]`` is ``0 = c_0 < c_1 < ... < c_{L+1} = 2**precision`` (strictly increasing, so
  every symbol, escape included, has a count of at least 1), entries past ``cdf_length[t]`` repeat
  ``2**precision``;
* ``cdf_length[t] = length[t] + 2`` (support, escape, end point).

Floats are touched exactly once: each probability is turned into an integer ``floor(p * 2**40)``. Every
later step (escape mass, rescaling, rounding, redistribution of the remainder) is integer arithmetic, so
tables are bit-identical on every platform and numpy build. Tables are meant to be built once per set of
parameters (e.g. when a model is exported) and stored next to them; :func:`save` / :func:`load` do that.
"""

from __future__ import annotations

import io
from typing import NamedTuple

import numpy as np

MAX_PRECISION = 16
_PROB_BITS = 40  # fixed-point resolution of the input probabilities


class CdfTables(NamedTuple):
    """Quantized CDFs of ``T`` distributions (one per table index).

    Attributes:
      cdf: int32 ``(T, Lmax + 2)``, cumulative counts; see the module docstring.
      cdf_length: int32 ``(T,)``, ``length + 2`` (support + escape + end point).
      offset: int32 ``(T,)``, the integer value of symbol index 0 of each row.
      precision: counts sum to ``2**precision`` in every row (``precision <= 16``).
    """

    cdf: np.ndarray
    cdf_length: np.ndarray
    offset: np.ndarray
    precision: int

    @property
    def num_tables(self) -> int:
        return int(self.cdf.shape[0])

    @property
    def length(self) -> np.ndarray:
        """Support size of each row (escape excluded)."""
        return self.cdf_length - 2

    def counts(self) -> np.ndarray:
        """int64 ``(T, Lmax + 1)``: per-symbol counts (support then escape; zero past a row's end)."""
        return np.diff(self.cdf.astype(np.int64), axis=1)

    def log2_prob(self, symbols: np.ndarray, indexes: np.ndarray) -> np.ndarray:
        """Exact ``log2 P(symbol)`` under the quantized tables, escape cost excluded (it is the bypass's).

        Symbols outside a row's support are charged the escape symbol's probability.
        """
        symbols = np.asarray(symbols, np.int64).ravel()
        indexes = np.asarray(indexes, np.int64).ravel()
        k = symbols - self.offset[indexes]
        length = self.length[indexes].astype(np.int64)
        k = np.where((k < 0) | (k >= length), length, k)
        c = self.cdf.astype(np.int64)
        counts = c[indexes, k + 1] - c[indexes, k]
        return np.log2(counts) - self.precision


def from_pmf(
    pmf: np.ndarray, offset: np.ndarray, length: np.ndarray, precision: int = MAX_PRECISION
) -> CdfTables:
    """Quantize probability tables to integer CDFs with an escape symbol.

    Args:
      pmf: ``(T, Lmax)`` non-negative probabilities; row ``t`` holds ``P(offset[t] + k)`` for
        ``k < length[t]`` (entries past ``length[t]`` are ignored; entries above 1 are clipped to 1). The
        escape symbol gets the mass missing to 1, i.e. ``max(0, 1 - sum(pmf[t, :length[t]]))``.
      offset: ``(T,)`` integer value of index 0 of each row.
      length: ``(T,)`` support size of each row, ``>= 1``.
      precision: bits of the counts, ``1 <= precision <= 16``; each row sums to ``2**precision``.

    Returns:
      The tables. Counts are ``1 + floor(q * (2**precision - n) / sum(q))`` for ``n = length + 1`` symbols
      and integer probabilities ``q``, plus one extra count for the symbols with the largest remainders
      (ties by index) so that the row sums exactly to ``2**precision``.
    """
    pmf = np.asarray(pmf, dtype=np.float64)
    if pmf.ndim == 1:
        pmf = pmf[None]
    offset = np.asarray(offset).astype(np.int64).reshape(-1)
    length = np.asarray(length).astype(np.int64).reshape(-1)
    num_tables = pmf.shape[0]
    if offset.shape != (num_tables,) or length.shape != (num_tables,):
        raise ValueError(f"offset/length must have shape ({num_tables},), got {offset.shape}, {length.shape}")
    if not 1 <= precision <= MAX_PRECISION:
        raise ValueError(f"precision must be in [1, {MAX_PRECISION}], got {precision}")
    if np.any(length < 1) or np.any(length > pmf.shape[1]):
        raise ValueError(f"length must be in [1, {pmf.shape[1]}], got {length.min()}..{length.max()}")
    if np.any(offset < np.iinfo(np.int32).min) or np.any(offset + length > np.iinfo(np.int32).max):
        raise ValueError("offset + length must fit int32")
    total = 1 << precision
    if np.any(length + 1 > total):
        raise ValueError(f"a row has {length.max() + 1} symbols, more than 2**precision = {total}")
    lmax = int(length.max())
    body = pmf[:, :lmax]
    if not np.all(np.isfinite(body)) or np.any(body < 0):
        raise ValueError("pmf must be finite and non-negative")

    cols = np.arange(lmax + 1)
    in_support = cols[None, :] < length[:, None]  # (T, lmax + 1); the last column is never support
    one = 1 << _PROB_BITS
    q = np.zeros((num_tables, lmax + 1), np.int64)
    q[:, :lmax] = np.floor(np.minimum(body, 1.0) * one).astype(np.int64)
    q[~in_support] = 0
    escape_q = np.maximum(one - q.sum(axis=1), 0)
    rows = np.arange(num_tables)
    q[rows, length] = escape_q
    n = length + 1  # symbols per row, escape included
    valid = cols[None, :] < n[:, None]
    qsum = q.sum(axis=1)
    # Degenerate rows (all zero): uniform.
    q[qsum == 0] = valid[qsum == 0].astype(np.int64)
    qsum = q.sum(axis=1)

    free = (total - n)[:, None]  # counts left after giving each symbol 1
    scaled = q * free  # < 2**40 * 2**16: fits int64
    counts = np.where(valid, 1 + scaled // qsum[:, None], 0)
    remainder = np.where(valid, scaled % qsum[:, None], -1)
    missing = total - counts.sum(axis=1)  # in [0, n)
    order = np.argsort(-remainder, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(cols, order.shape), axis=1)
    counts += (rank < missing[:, None]) & valid

    cdf = np.full((num_tables, lmax + 2), total, np.int64)
    cdf[:, 0] = 0
    cdf[:, 1:] = np.cumsum(counts, axis=1)
    cdf = np.where(np.arange(lmax + 2)[None, :] < (n + 1)[:, None], cdf, total)
    tables = CdfTables(
        cdf=cdf.astype(np.int32),
        cdf_length=(length + 2).astype(np.int32),
        offset=offset.astype(np.int32),
        precision=int(precision),
    )
    validate(tables)
    return tables


def validate(tables: CdfTables) -> None:
    """Raise ``ValueError`` unless ``tables`` satisfy the invariants of the module docstring."""
    cdf, cdf_length, offset, precision = tables
    if cdf.ndim != 2 or cdf.dtype != np.int32 or cdf.shape[1] < 3:
        raise ValueError(f"cdf must be int32 (T, >=3), got {cdf.dtype} {cdf.shape}")
    num_tables = cdf.shape[0]
    if cdf_length.shape != (num_tables,) or offset.shape != (num_tables,):
        raise ValueError("cdf_length and offset must have one entry per table")
    if not 1 <= precision <= MAX_PRECISION:
        raise ValueError(f"precision must be in [1, {MAX_PRECISION}], got {precision}")
    if np.any(cdf_length < 3) or np.any(cdf_length > cdf.shape[1]):
        raise ValueError("cdf_length out of range")
    if np.any(offset.astype(np.int64) + cdf_length - 2 > np.iinfo(np.int32).max):
        raise ValueError("offset + length must fit int32")
    cols = np.arange(cdf.shape[1])[None, :]
    active = cols < cdf_length[:, None]
    steps = np.diff(cdf.astype(np.int64), axis=1)
    if np.any(cdf[:, 0] != 0) or np.any(cdf[np.arange(num_tables), cdf_length - 1] != 1 << precision):
        raise ValueError("every cdf row must start at 0 and end at 2**precision")
    if np.any(steps[active[:, 1:]] < 1):
        raise ValueError("every symbol needs a count >= 1")


def concat(*tables: CdfTables) -> tuple[CdfTables, list[int]]:
    """Stack several table sets into one (rows padded with ``2**precision``); returns the row offsets.

    Handy to code several latents with one coder call: add ``starts[i]`` to the indexes of set ``i``.
    """
    if len({t.precision for t in tables}) != 1:
        raise ValueError("all table sets must have the same precision")
    width = max(t.cdf.shape[1] for t in tables)
    total = 1 << tables[0].precision
    cdf = np.concatenate(
        [np.pad(t.cdf, ((0, 0), (0, width - t.cdf.shape[1])), constant_values=total) for t in tables]
    )
    starts = np.cumsum([0] + [t.num_tables for t in tables])[:-1].tolist()
    merged = CdfTables(
        cdf=cdf,
        cdf_length=np.concatenate([t.cdf_length for t in tables]),
        offset=np.concatenate([t.offset for t in tables]),
        precision=tables[0].precision,
    )
    return merged, starts


def to_bytes(tables: CdfTables) -> bytes:
    """Serialize tables (npz) so that encoder and decoder can share the exact integers."""
    buf = io.BytesIO()
    np.savez(buf, cdf=tables.cdf, cdf_length=tables.cdf_length, offset=tables.offset,
             precision=np.int32(tables.precision))
    return buf.getvalue()


def from_bytes(data: bytes) -> CdfTables:
    """Inverse of :func:`to_bytes`; validates the result."""
    with np.load(io.BytesIO(data), allow_pickle=False) as f:
        tables = CdfTables(
            cdf=f["cdf"].astype(np.int32),
            cdf_length=f["cdf_length"].astype(np.int32),
            offset=f["offset"].astype(np.int32),
            precision=int(f["precision"]),
        )
    validate(tables)
    return tables
