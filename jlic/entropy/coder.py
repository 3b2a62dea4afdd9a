"""Vectorized entropy coding of integer symbols with per-symbol table indexes, in ``constriction``'s ANS format.

Each symbol ``s`` is coded with table ``indexes[i]`` of a :class:`~jlic.entropy.cdf.CdfTables`: the index
``k = s - offset`` if ``0 <= k < length``, otherwise the escape index ``length`` followed by a bypass code
of the value (so that any int32 round-trips). Symbols are grouped by table index (stable order), table by
table, then the escapes' bypass codes; the decoder derives the same groups from the same indexes.
:mod:`jlic.entropy.stream` puts many such steps (of any coders) and custom segments into one stream, with
exactly this layout per step.

Backend (DESIGN note, 2026-12-01): the ANS steps run in :mod:`jlic.entropy.rans`, numba kernels that write
and read ``constriction.stream.stack.AnsCoder``'s stream format bit for bit (``tests/coding/test_rans.py``
compares bytes and symbols with ``constriction``), so files written before them still decode and
``constriction`` stays the reference (and codes custom segments, e.g. mixture tables, and the range
backend). ``numba`` became a dependency for a measured reason: through ``constriction``'s Python API the
decode could not reach 2x CompressAI's rANS (its decode calls alone were 2.0-2.1x, plus numpy grouping
and scatter around them: 1.3x in all). One kernel per step (counting sort by table, a 1024-bucket lookup per
table with a rarely taken forward scan instead of bisecting the CDF, escapes in the same loop) decodes
Kodak-sized latents ~2.7x faster than CompressAI and encodes ~3.2x faster (``python -m benchmarks.coding``
on a loaded 2-core AMD EPYC, records in ``benchmarks/results/coding-2026-12-01.jsonl``). The kernels
compile once per machine (``cache=True``; ~10 s on that machine, then ~1 s to load).

Exactness: ``constriction``'s categorical models work at 24-bit precision and quantize float
probabilities with ``left_cumulative[i] = trunc(F[i] * (2**24 - n) / sum(w)) + i`` where ``F`` is the
prefix sum of the weights ``w``. Feeding the weights ``w[i] = 2**(24 - precision) * count[i] - 1`` (small
integers, exact in float32 and float64) makes that scale exactly 1 and yields ``left_cumulative[i] =
2**(24 - precision) * cdf[i]``: the coder's probabilities are *exactly* the integer tables, and
encoder and decoder cannot disagree. ``tests/coding/test_coder.py`` checks the resulting bit counts.

Escape bypass (Elias-gamma style): ``raw = -2v - 1`` for ``v = s - offset < 0`` and ``raw = 2(v - length)``
above the support; its bit length ``n`` (0..34) is coded uniformly, then the ``n - 1`` bits below the
leading one in uniform chunks of at most 16 bits.

Backends: ANS by default (above); its exactly reversible state gives a free integrity check (the decoder
must end with an empty stack). The range coder (``constriction.stream.queue``, numpy grouping around
``constriction`` calls: :meth:`Coder.segments` / :meth:`Coder.decode_from`) is kept selectable for
comparison.

References:
  Duda, "Asymmetric numeral systems", arXiv:1311.2540.
  Bamler, "Understanding entropy coding with asymmetric numeral systems (ANS)", arXiv:2201.01741.
"""

from __future__ import annotations

from typing import Any, Literal

import constriction
import numpy as np

from jlic.entropy import rans
from jlic.entropy.bitstream import BitstreamError
from jlic.entropy.cdf import CdfTables, validate

Backend = Literal["ans", "range"]
BACKENDS: tuple[Backend, ...] = ("ans", "range")
_CODER_PRECISION = 24  # constriction's fixed-point precision for its default models
_MAX_RAW_BITS = rans.MAX_RAW_BITS  # raw escape values are < 2**34 (int32 value minus int32 offset, doubled)
_CHUNK_BITS = rans.CHUNK_BITS
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
        self._cache: list[object | None] = [None] * tables.num_tables
        # Stable sort keys: numpy's stable argsort is a one-pass radix sort for 8-bit keys, two passes for 16.
        t = tables.num_tables
        self._key_dtype = np.uint8 if t <= 1 << 8 else np.uint16 if t <= 1 << 16 else np.int64
        self._inner_keys = np.arange(1, t, dtype=self._key_dtype)
        self._nbits_model = _NBITS_MODEL
        self._chunk_family = _CHUNK_FAMILY
        # What the numba kernels of jlic.entropy.rans read: left cumulatives are cdf << (24 - precision).
        self._kernel_tables: rans.TableArgs = (
            rans.frozen(tables.cdf, np.int32), rans.frozen(self._length, np.int64),
            rans.frozen(self._offset, np.int64), _CODER_PRECISION - tables.precision)
        self._lut: rans.LutArgs | None = None  # built on the first decode

    def _model(self, t: int) -> object:
        model = self._cache[t]
        if model is None:
            n = int(self._length[t]) + 1
            scale = float(1 << (_CODER_PRECISION - self.tables.precision))
            weights = self._counts[t, :n].astype(np.float64) * scale
            model = _models.Categorical(weights - 1.0, perfect=False)
            self._cache[t] = model
        return model

    def _group(self, indexes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The stable order that sorts the flat ``indexes`` by table, and the group bounds (``T + 1``)."""
        flat = np.asarray(indexes).reshape(-1)
        num_tables = self.tables.num_tables
        if flat.dtype.kind not in "iu":
            raise ValueError(f"table indexes must be integers, got dtype {flat.dtype}")
        if flat.size:
            # One pass: as unsigned, negative indexes are huge, so the max alone checks both bounds.
            unsigned = flat.view(f"u{flat.dtype.itemsize}") if flat.dtype.kind == "i" else flat
            if int(unsigned.max()) >= num_tables:
                raise ValueError(f"table indexes must be in [0, {num_tables}), got {flat.min()}..{flat.max()}")
        key = flat.astype(self._key_dtype)
        order = np.argsort(key, kind="stable")
        bounds = np.empty(num_tables + 1, np.int64)
        bounds[0], bounds[-1] = 0, flat.size
        # Gathering the sorted keys and bisecting is ~2x faster than np.bincount.
        bounds[1:-1] = np.searchsorted(np.take(key, order), self._inner_keys)
        return order, bounds

    def _flat_indexes(self, indexes: np.ndarray) -> np.ndarray:
        """Flat int32 table indexes (values are range-checked here unless int32: the kernels check those)."""
        flat = np.asarray(indexes).reshape(-1)
        if flat.dtype.kind not in "iu":
            raise ValueError(f"table indexes must be integers, got dtype {flat.dtype}")
        if flat.dtype != np.int32 and flat.size and (flat.min() < 0 or flat.max() >= self.tables.num_tables):
            raise ValueError(f"table indexes must be in [0, {self.tables.num_tables}), got "
                             f"{flat.min()}..{flat.max()}")
        return rans.frozen(flat, np.int32)

    def _flat_symbols(self, symbols: np.ndarray, indexes: np.ndarray) -> np.ndarray:
        """Flat int32 symbols, checked against the shape of ``indexes``."""
        symbols = np.asarray(symbols)
        if symbols.shape != np.shape(indexes):
            raise ValueError(f"symbols {symbols.shape} and indexes {np.shape(indexes)} differ in shape")
        if symbols.dtype != np.int32:
            if symbols.dtype.kind not in "iu":
                raise ValueError(f"symbols must be integers, got dtype {symbols.dtype}")
            if symbols.size and (
                symbols.min() < np.iinfo(np.int32).min or symbols.max() > np.iinfo(np.int32).max
            ):
                raise ValueError("symbols must fit int32")
        return rans.frozen(symbols.reshape(-1), np.int32)

    def prepare(self, symbols: np.ndarray, indexes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Checked flat int32 ``(symbols, indexes)`` for :meth:`encode_into` (ValueError on bad input)."""
        return self._flat_symbols(symbols, indexes), self._flat_indexes(indexes)

    def encode_into(self, writer: rans.Writer, symbols: np.ndarray, indexes: np.ndarray) -> None:
        """Push one step onto a :class:`jlic.entropy.rans.Writer` (the ``ans`` format, numba kernels)."""
        writer.push_step(self._kernel_tables, *self.prepare(symbols, indexes))

    def decode_step(self, reader: rans.Reader, indexes: np.ndarray) -> np.ndarray:
        """Pop one :meth:`encode_into` step from a :class:`jlic.entropy.rans.Reader`: int32 symbols.

        Raises:
          BitstreamError: an escape value falls outside int32 (corrupt stream).
        """
        if self._lut is None:
            self._lut = rans.lookup(self._kernel_tables, self.tables.precision)
        return reader.pop_step(self._kernel_tables, self._lut, self._flat_indexes(indexes)).reshape(
            np.shape(indexes))

    def segments(self, symbols: np.ndarray, indexes: np.ndarray) -> list[tuple[np.ndarray, object, tuple]]:
        """``(symbols, constriction model, model params)`` to code, in *decode* order.

        For callers that put several groups of symbols into one coder (e.g. autoregressive steps): with an
        ANS coder call ``encode_reverse`` on the segments of the last-decoded group first, each list
        reversed; decode each group with :meth:`decode_from` in order (:mod:`jlic.entropy.stream` does this).
        """
        symbols = self._flat_symbols(symbols, indexes)
        order, bounds = self._group(indexes)
        counts = np.diff(bounds)
        s = np.take(symbols.reshape(-1), order)
        # v = s - offset modulo 2**32: a symbol is in its table's support iff v < length as unsigned (the
        # true difference lies in (-2**32, 2**32), and offset + length <= int32 max, see cdf.validate).
        length = np.repeat(self._length32, counts)
        v = s.view(np.uint32) - np.repeat(self._offset32, counts).view(np.uint32)
        k = np.minimum(v, length.view(np.uint32)).view(np.int32)  # the escape index for escapes
        segments: list[tuple[np.ndarray, object, tuple]] = [
            (k[bounds[t]:bounds[t + 1]], self._model(t), ()) for t in np.flatnonzero(counts).tolist()
        ]
        pos = np.flatnonzero(k == length)  # escapes are rare: handle them by position
        if pos.size:
            table = np.searchsorted(bounds, pos, side="right") - 1
            wide = s[pos].astype(np.int64) - self._offset[table]
            segments.extend(_escape_segments(wide, self._length[table]))
        return segments

    def encode(self, symbols: np.ndarray, indexes: np.ndarray) -> bytes:
        """Encode int symbols (any int32 value) with per-symbol table ``indexes`` (same shape)."""
        if self.backend == "ans":
            writer = rans.Writer()
            self.encode_into(writer, symbols, indexes)
            return writer.to_bytes()
        coder = constriction.stream.queue.RangeEncoder()
        for syms, model, params in self.segments(symbols, indexes):
            coder.encode(syms, model, *params)
        return coder.get_compressed().astype("<u4", copy=False).tobytes()

    def decode_from(self, coder: Any, indexes: np.ndarray) -> np.ndarray:
        """Decode the symbols of one :meth:`segments` group from a ``constriction`` decoder.

        Raises:
          BitstreamError: the data cannot be decoded, or an escape value falls outside int32.
        """
        shape = np.shape(indexes)
        order, bounds = self._group(indexes)
        counts = np.diff(bounds)
        try:
            parts = [coder.decode(self._model(t), int(counts[t])) for t in np.flatnonzero(counts).tolist()]
            k = np.concatenate(parts) if len(parts) > 1 else parts[0].copy() if parts else np.zeros(0, np.int32)
            pos = np.flatnonzero(k == np.repeat(self._length32, counts))
            values = k
            values += np.repeat(self._offset32, counts)  # in-support values fit int32 (cdf.validate)
            if pos.size:
                table = np.searchsorted(bounds, pos, side="right") - 1
                wide = _decode_escapes(coder, self._length[table]) + self._offset[table]
                if wide.min() < np.iinfo(np.int32).min or wide.max() > np.iinfo(np.int32).max:
                    raise BitstreamError("decoded escape value outside int32 (corrupt stream)")
                values[pos] = wide
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
        if self.backend == "ans":
            reader = rans.Reader(data)
            out = self.decode_step(reader, indexes)
            if not reader.is_empty():
                raise BitstreamError("entropy-coded stream has trailing data (corrupt or wrong indexes)")
            return out
        if len(data) % 4:
            raise BitstreamError(f"entropy-coded stream has {len(data)} bytes, not a multiple of 4")
        words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
        try:
            coder = constriction.stream.queue.RangeDecoder(words)
        except (ValueError, RuntimeError) as e:
            raise BitstreamError(f"entropy-coded stream cannot be decoded: {e}") from None
        return self.decode_from(coder, indexes)


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

