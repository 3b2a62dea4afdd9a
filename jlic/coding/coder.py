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

from typing import Literal

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
        self._counts = tables.counts()
        self._cache: dict[int, object] = {}
        self._nbits_model = _models.Uniform(_MAX_RAW_BITS + 1)
        self._chunk_family = _models.Uniform()

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
        flat = np.asarray(indexes).reshape(-1).astype(np.int64)
        if flat.size and (flat.min() < 0 or flat.max() >= self.tables.num_tables):
            raise ValueError(
                f"table indexes must be in [0, {self.tables.num_tables}), got {flat.min()}..{flat.max()}"
            )
        order = np.argsort(flat, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(flat, minlength=self.tables.num_tables))])
        return flat, order, bounds

    def encode(self, symbols: np.ndarray, indexes: np.ndarray) -> bytes:
        """Encode int symbols (any int32 value) with per-symbol table ``indexes`` (same shape)."""
        symbols = np.asarray(symbols)
        if symbols.shape != np.shape(indexes):
            raise ValueError(f"symbols {symbols.shape} and indexes {np.shape(indexes)} differ in shape")
        if symbols.size and (symbols.min() < np.iinfo(np.int32).min or symbols.max() > np.iinfo(np.int32).max):
            raise ValueError("symbols must fit int32")
        flat_idx, order, bounds = self._group(indexes)
        values = symbols.reshape(-1).astype(np.int64)[order]
        idx = flat_idx[order]
        v = values - self._offset[idx]
        length = self._length[idx]
        escape = (v < 0) | (v >= length)
        k = np.where(escape, length, v).astype(np.int32)
        nbits, chunks, chunk_sizes = _escape_payload(v[escape], length[escape])

        segments: list[tuple[np.ndarray, object, tuple]] = []  # in decode order
        for t in np.flatnonzero(np.diff(bounds)):
            segments.append((k[bounds[t]:bounds[t + 1]], self._model(int(t)), ()))
        if nbits.size:
            segments.append((nbits, self._nbits_model, ()))
        if chunks.size:
            segments.append((chunks, self._chunk_family, (chunk_sizes,)))

        if self.backend == "ans":
            coder = constriction.stream.stack.AnsCoder()
            for syms, model, params in reversed(segments):
                coder.encode_reverse(syms, model, *params)
        else:
            coder = constriction.stream.queue.RangeEncoder()
            for syms, model, params in segments:
                coder.encode(syms, model, *params)
        words = coder.get_compressed().astype("<u4", copy=False)
        return words.tobytes()

    def decode(self, data: bytes, indexes: np.ndarray) -> np.ndarray:
        """Decode symbols coded by :meth:`encode` with the same ``indexes``; int32 array of their shape.

        Raises:
          BitstreamError: ``data`` is not a valid stream for these indexes (wrong length, trailing data,
            escape values outside int32). A corrupted stream that still decodes yields wrong symbols; the
            container's CRC is what detects that.
        """
        shape = np.shape(indexes)
        flat_idx, order, bounds = self._group(indexes)
        if len(data) % 4:
            raise BitstreamError(f"entropy-coded stream has {len(data)} bytes, not a multiple of 4")
        words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
        try:
            if self.backend == "ans":
                coder = constriction.stream.stack.AnsCoder(words)
            else:
                coder = constriction.stream.queue.RangeDecoder(words)
            k = np.empty(flat_idx.size, np.int64)
            for t in np.flatnonzero(np.diff(bounds)):
                k[bounds[t]:bounds[t + 1]] = coder.decode(self._model(int(t)), int(bounds[t + 1] - bounds[t]))
            idx = flat_idx[order]
            length = self._length[idx]
            escape = k == length
            num_escapes = int(escape.sum())
            v = k
            if num_escapes:
                nbits = np.asarray(coder.decode(self._nbits_model, num_escapes), np.int64)
                sizes, owner, shift = _chunk_layout(nbits)
                chunks = np.asarray(coder.decode(self._chunk_family, sizes), np.int64) if sizes.size else sizes
                v = v.copy()
                v[escape] = _escape_values(nbits, chunks, owner, shift, length[escape])
            if self.backend == "ans" and not coder.is_empty():
                raise BitstreamError("entropy-coded stream has trailing data (corrupt or wrong indexes)")
        except BitstreamError:
            raise
        except (ValueError, RuntimeError, OverflowError) as e:
            raise BitstreamError(f"entropy-coded stream cannot be decoded: {e}") from None
        values = v + self._offset[idx]
        if values.size and (values.min() < np.iinfo(np.int32).min or values.max() > np.iinfo(np.int32).max):
            raise BitstreamError("decoded escape value outside int32 (corrupt stream)")
        out = np.empty(flat_idx.size, np.int32)
        out[order] = values
        return out.reshape(shape)


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

