"""Vectorized entropy coding of integer symbols with per-symbol table indexes, on top of ``constriction``.

Each symbol ``s`` is coded with table ``indexes[i]`` of a :class:`~jlic.coding.cdf.CdfTables`: the index
``k = s - offset`` if ``0 <= k < length``, otherwise the escape index ``length`` followed by a bypass code
of the value (so that any int32 round-trips). Symbols are grouped by table index (stable order), and each
group is coded with one ``constriction`` call, so there is no Python loop per symbol; the decoder derives
the same groups from the same indexes.

Exactness: ``constriction``'s categorical models work at 24-bit precision and quantize float
probabilities with ``left_cumulative[i] = trunc(F[i] * (2**24 - n) / sum(w)) + i`` where ``F`` is the
prefix sum of the weights ``w``. Feeding the weights ``w[i] = 2**(24 - precision) * count[i] - 1`` (small
integers, exact in float32 and float64) makes that scale exactly 1 and yields ``left_cumulative[i] =
2**(24 - precision) * cdf[i]``: the coder's probabilities are *exactly* the integer tables, and
encoder and decoder cannot disagree. ``tests/coding/test_coder.py`` checks the resulting bit counts.

Escape bypass (Elias-gamma style): ``raw = -2v - 1`` for ``v = s - offset < 0`` and ``raw = 2(v - length)``
above the support; its bit length ``n`` (0..34) is coded uniformly, then the ``n - 1`` bits below the
leading one in uniform chunks of at most 16 bits.

Backend: ANS (``constriction.stream.stack.AnsCoder``) by default. ``benchmarks/coding.py`` measures both
backends on Kodak-sized latents; ANS was faster on both encode and decode there and its exactly
reversible state gives a free integrity check (the decoder must end with an empty stack), so it is the
default. The range coder (``constriction.stream.queue``) is kept selectable for comparison.

References:
  Duda, "Asymmetric numeral systems", arXiv:1311.2540.
  Bamler, "Understanding entropy coding with asymmetric numeral systems (ANS)", arXiv:2201.01741.
"""

from __future__ import annotations

from typing import Any, Literal

import constriction
import numpy as np

from jlic.coding.bitstream import BitstreamError
from jlic.coding.cdf import CdfTables, validate

Backend = Literal["ans", "range"]
BACKENDS: tuple[Backend, ...] = ("ans", "range")
_CODER_PRECISION = 24  # constriction's fixed-point precision for its default models
_MAX_RAW_BITS = 34  # raw escape values are < 2**34 (int32 value minus int32 offset, doubled)
_CHUNK_BITS = 16
_models = constriction.stream.model
_NBITS_MODEL = _models.Uniform(_MAX_RAW_BITS + 1)
_CHUNK_FAMILY = _models.Uniform()


class Coder:
    """Encoder/decoder bound to one set of CDF tables (``constriction`` models are built once, lazily)."""

    def __init__(self, tables: CdfTables, backend: Backend = "ans") -> None:
        validate(tables)
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
        self.tables = tables
        self.backend = backend
        self._length = tables.length.astype(np.int64)
        self._offset = tables.offset.astype(np.int64)
        self._length32 = tables.length.astype(np.int32)
        self._offset32 = tables.offset.astype(np.int32)
        self._counts = tables.counts()
        self._cache: dict[int, object] = {}
        self._nbits_model = _NBITS_MODEL
        self._chunk_family = _CHUNK_FAMILY

    def _model(self, t: int) -> object:
        model = self._cache.get(t)
        if model is None:
            n = int(self._length[t]) + 1
            scale = float(1 << (_CODER_PRECISION - self.tables.precision))
            weights = self._counts[t, :n].astype(np.float64) * scale
            model = _models.Categorical(weights - 1.0, perfect=False)
            self._cache[t] = model
        return model

    def _group(self, indexes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Flat indexes, the stable order that sorts them by table, and group bounds (``T + 1``)."""
        flat = np.asarray(indexes).reshape(-1)
        if flat.size and (flat.min() < 0 or flat.max() >= self.tables.num_tables):
            raise ValueError(
                f"table indexes must be in [0, {self.tables.num_tables}), got {flat.min()}..{flat.max()}"
            )
        # numpy's stable sort is a radix sort for <= 16-bit integers: O(n), ~10x faster than int64.
        key = flat.astype(np.uint16) if self.tables.num_tables <= 1 << 16 else flat.astype(np.int64)
        order = np.argsort(key, kind="stable")
        counts = np.bincount(key, minlength=self.tables.num_tables)
        bounds = np.zeros(self.tables.num_tables + 1, np.int64)
        np.cumsum(counts, out=bounds[1:])
        return flat, order, bounds

    def segments(self, symbols: np.ndarray, indexes: np.ndarray) -> list[tuple[np.ndarray, object, tuple]]:
        """``(symbols, constriction model, model params)`` to code, in *decode* order.

        For callers that put several groups of symbols into one coder (e.g. autoregressive steps): with an
        ANS coder call ``encode_reverse`` on the segments of the last-decoded group first, each list
        reversed; decode each group with :meth:`decode_from` in order.
        """
        symbols = np.asarray(symbols)
        if symbols.shape != np.shape(indexes):
            raise ValueError(f"symbols {symbols.shape} and indexes {np.shape(indexes)} differ in shape")
        if symbols.dtype != np.int32 and symbols.size and (
            symbols.min() < np.iinfo(np.int32).min or symbols.max() > np.iinfo(np.int32).max
        ):
            raise ValueError("symbols must fit int32")
        _, order, bounds = self._group(indexes)
        counts = np.diff(bounds)
        length = np.repeat(self._length, counts)
        v = symbols.reshape(-1)[order].astype(np.int64) - np.repeat(self._offset, counts)
        escape = (v < 0) | (v >= length)
        k = np.where(escape, length, v).astype(np.int32)
        segments: list[tuple[np.ndarray, object, tuple]] = []
        for t in np.flatnonzero(counts):
            segments.append((k[bounds[t]:bounds[t + 1]], self._model(int(t)), ()))
        if escape.any():
            segments.extend(_escape_segments(v[escape], length[escape]))
        return segments

    def encode(self, symbols: np.ndarray, indexes: np.ndarray) -> bytes:
        """Encode int symbols (any int32 value) with per-symbol table ``indexes`` (same shape)."""
        segments = self.segments(symbols, indexes)
        if self.backend == "ans":
            coder = constriction.stream.stack.AnsCoder()
            for syms, model, params in reversed(segments):
                coder.encode_reverse(syms, model, *params)
        else:
            coder = constriction.stream.queue.RangeEncoder()
            for syms, model, params in segments:
                coder.encode(syms, model, *params)
        return coder.get_compressed().astype("<u4", copy=False).tobytes()

    def decode_from(self, coder: Any, indexes: np.ndarray) -> np.ndarray:
        """Decode the symbols of one :meth:`segments` group from a ``constriction`` decoder.

        Raises:
          BitstreamError: the data cannot be decoded, or an escape value falls outside int32.
        """
        shape = np.shape(indexes)
        _, order, bounds = self._group(indexes)
        counts = np.diff(bounds)
        try:
            k = np.empty(order.size, np.int32)
            for t in np.flatnonzero(counts):
                k[bounds[t]:bounds[t + 1]] = coder.decode(self._model(int(t)), int(counts[t]))
            length = np.repeat(self._length32, counts)
            escape = k == length
            offset = np.repeat(self._offset32, counts)
            values = k + offset  # in-support values fit int32 (offset + length <= int32 max, see validate)
            num_escapes = int(np.count_nonzero(escape))
            if num_escapes:
                wide = _decode_escapes(coder, length[escape].astype(np.int64)) + offset[escape]
                if wide.min() < np.iinfo(np.int32).min or wide.max() > np.iinfo(np.int32).max:
                    raise BitstreamError("decoded escape value outside int32 (corrupt stream)")
                values[escape] = wide
        except (ValueError, RuntimeError, OverflowError) as e:
            raise BitstreamError(f"entropy-coded stream cannot be decoded: {e}") from None
        out = np.empty(order.size, np.int32)
        out[order] = values
        return out.reshape(shape)

    def decode(self, data: bytes, indexes: np.ndarray) -> np.ndarray:
        """Decode symbols coded by :meth:`encode` with the same ``indexes``; int32 array of their shape.

        Raises:
          BitstreamError: ``data`` is not a valid stream for these indexes (wrong length, trailing data,
            escape values outside int32). A corrupted stream that still decodes yields wrong symbols; the
            container's CRC is what detects that.
        """
        if len(data) % 4:
            raise BitstreamError(f"entropy-coded stream has {len(data)} bytes, not a multiple of 4")
        words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
        try:
            if self.backend == "ans":
                coder = constriction.stream.stack.AnsCoder(words)
            else:
                coder = constriction.stream.queue.RangeDecoder(words)
        except (ValueError, RuntimeError) as e:
            raise BitstreamError(f"entropy-coded stream cannot be decoded: {e}") from None
        out = self.decode_from(coder, indexes)
        if self.backend == "ans" and not coder.is_empty():
            raise BitstreamError("entropy-coded stream has trailing data (corrupt or wrong indexes)")
        return out


def _escape_segments(v: np.ndarray, length: np.ndarray) -> list[tuple[np.ndarray, object, tuple]]:
    """Segments (decode order) of the bypass codes of escaped table-relative values ``v`` (int64)."""
    if not v.size:
        return []
    nbits, chunks, chunk_sizes = _escape_payload(v, length)
    segments: list[tuple[np.ndarray, object, tuple]] = [(nbits, _NBITS_MODEL, ())]
    if chunks.size:
        segments.append((chunks, _CHUNK_FAMILY, (chunk_sizes,)))
    return segments


def _decode_escapes(coder: Any, length: np.ndarray) -> np.ndarray:
    """Invert :func:`_escape_segments` from a constriction decoder: int64 table-relative values."""
    nbits = np.asarray(coder.decode(_NBITS_MODEL, length.size), np.int64)
    sizes, owner, shift = _chunk_layout(nbits)
    chunks = np.asarray(coder.decode(_CHUNK_FAMILY, sizes), np.int64) if sizes.size else sizes
    return _escape_values(nbits, chunks, owner, shift, length)


def _escape_payload(v: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bit lengths, chunk values and chunk alphabet sizes of escaped values (in order)."""
    raw = np.where(v < 0, -2 * v - 1, 2 * (v - length))
    nbits = np.zeros(raw.shape, np.int64)
    for b in range(_MAX_RAW_BITS):
        nbits += raw >= (np.int64(1) << b)
    sizes, owner, shift = _chunk_layout(nbits)
    mantissa = raw - np.where(nbits > 0, np.int64(1) << np.maximum(nbits - 1, 0), 0)
    chunks = (mantissa[owner] >> shift) & (sizes - 1)
    return nbits.astype(np.int32), chunks.astype(np.int32), sizes.astype(np.int32)


def _chunk_layout(nbits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For mantissas of ``nbits - 1`` bits: per chunk its alphabet size, owning escape, and bit shift."""
    mbits = np.maximum(nbits.astype(np.int64) - 1, 0)
    nchunks = -(-mbits // _CHUNK_BITS)
    owner = np.repeat(np.arange(nbits.size), nchunks)
    first = np.cumsum(nchunks) - nchunks
    j = np.arange(owner.size) - first[owner]
    shift = j * _CHUNK_BITS
    bits = np.minimum(_CHUNK_BITS, mbits[owner] - shift)
    return (np.int64(1) << bits).astype(np.int32), owner, shift


def _escape_values(
    nbits: np.ndarray, chunks: np.ndarray, owner: np.ndarray, shift: np.ndarray, length: np.ndarray
) -> np.ndarray:
    """Invert :func:`_escape_payload`: the table-relative values ``v`` of the escaped symbols."""
    mantissa = np.zeros(nbits.size, np.int64)
    np.add.at(mantissa, owner, chunks.astype(np.int64) << shift)
    raw = np.where(nbits > 0, (np.int64(1) << np.maximum(nbits - 1, 0)) + mantissa, 0)
    return np.where(raw % 2 == 1, -(raw + 1) // 2, raw // 2 + length)


def encode(symbols: np.ndarray, indexes: np.ndarray, tables: CdfTables, backend: Backend = "ans") -> bytes:
    """One-shot :meth:`Coder.encode` (build a :class:`Coder` once to reuse its models)."""
    return Coder(tables, backend).encode(symbols, indexes)


def decode(data: bytes, indexes: np.ndarray, tables: CdfTables, backend: Backend = "ans") -> np.ndarray:
    """One-shot :meth:`Coder.decode`."""
    return Coder(tables, backend).decode(data, indexes)

