"""Numba kernels for jlic's ANS steps, bit-exact with ``constriction``'s stack ``AnsCoder`` format.

Why: through ``constriction``'s Python API a step costs one call per table (numpy grouping, scatter and
concatenation around them) and its categorical decoder bisects the CDF; measured with
``python -m benchmarks.coding``, its decode calls alone were only ~2.0x CompressAI's rANS, so jlic could not
reach 2x that way. These kernels do a whole step (counting sort by table, per-symbol ANS update with a
1024-bucket lookup per table instead of bisection, escape bypass) in one jitted loop. ``numba`` is the
dependency added for this, and only this (measured reason: decode speed, see the module docstring of
:mod:`jlic.entropy.coder`); ``cache=True`` pays the compile once per machine.

Format (facts of ``constriction.stream.stack.AnsCoder<u32, u64>``, which stays the reference and the
coder of custom segments): a 64-bit state and a stack of 32-bit words. Encoding a symbol with
left cumulative ``c`` and probability ``p`` at precision 24 first flushes the low word if
``state >> 40 >= p``, then ``state = (state // p) << 24 | (state % p + c)``. Decoding reads
``q = state mod 2**24``, finds the symbol whose interval holds ``q``, sets
``state = (state >> 24) * p + q - c`` and, if ``state < 2**32`` and words are left, pops one word below
it. The compressed form is the stack followed by the state's nonzero 32-bit words, most significant
last (so an empty coder is no words); a form that ends in a zero word is invalid. jlic's integer tables
of precision ``P <= 16`` give ``c = cdf[k] << (24 - P)`` exactly (see :mod:`jlic.entropy.coder`);
``constriction``'s ``Uniform(n)`` gives every symbol ``2**24 // n`` and the last one the rest.

A step's symbol order in the stream is the one :meth:`jlic.entropy.coder.Coder.segments` describes:
symbols sorted by table (stable), then one 35-ary uniform bit count per escape, then the escapes'
16-bit (or shorter) mantissa chunks. Every loop is bounded by the input sizes: decoding past the end
of the data yields deterministic symbols (as ``constriction`` does), never a read outside the buffer.

References:
  Duda, "Asymmetric numeral systems", arXiv:1311.2540.
  Bamler, "Understanding entropy coding with asymmetric numeral systems (ANS)", arXiv:2201.01741.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import constriction
import numba
import numpy as np

from jlic.entropy.bitstream import BitstreamError

PRECISION = 24
MAX_RAW_BITS = 34  # raw escape values are < 2**34 (int32 value minus int32 offset, doubled)
CHUNK_BITS = 16
_MASK = np.uint64((1 << PRECISION) - 1)
_WORD_MASK = np.uint64(0xFFFFFFFF)
_LOW = np.uint64(1 << 32)  # the state invariant: state >= 2**32 while words are left
_FLUSH_SHIFT = np.uint64(64 - PRECISION)

# Kernel status codes (the Python wrappers turn them into ValueError / BitstreamError).
OK = 0
BAD_INDEX = 1
ESCAPE_OUT_OF_RANGE = 2
BAD_SYMBOL = 3


@numba.njit(cache=True)
def _push(buf, n, state, left, prob):
    """Encode one interval ``[left, left + prob)`` (24-bit) onto the stack; returns (words, state)."""
    p = np.uint64(prob)
    if (state >> _FLUSH_SHIFT) >= p:
        buf[n] = np.uint32(state & _WORD_MASK)
        n += 1
        state >>= np.uint64(32)
    d = state // p  # one division; the remainder by multiplication
    state = (d << np.uint64(PRECISION)) | (state - d * p + np.uint64(left))
    return n, state


@numba.njit(cache=True)
def _pop(words, pos, state, left, prob):
    """Finish decoding a symbol whose interval is ``[left, left + prob)``; returns (pos, state)."""
    q = state & _MASK
    state = (state >> np.uint64(PRECISION)) * np.uint64(prob) + (q - np.uint64(left))
    if state < _LOW and pos > 0:
        pos -= 1
        state = (state << np.uint64(32)) | np.uint64(words[pos])
    return pos, state


@numba.njit(cache=True)
def _uniform_interval(sym, size):
    """``constriction``'s ``Uniform(size)`` interval of ``sym`` at precision 24: (left, prob)."""
    per_bin = (1 << PRECISION) // size
    left = sym * per_bin
    if sym == size - 1:
        return left, (1 << PRECISION) - left
    return left, per_bin


@numba.njit(cache=True)
def _uniform_decode(words, pos, state, size):
    """Decode one ``Uniform(size)`` symbol; returns (symbol, pos, state)."""
    per_bin = (1 << PRECISION) // size
    sym = np.int64(state & _MASK) // per_bin
    if sym > size - 1:
        sym = size - 1
    left, prob = _uniform_interval(sym, size)
    pos, state = _pop(words, pos, state, left, prob)
    return sym, pos, state


@numba.njit(cache=True)
def _sort_by_table(indexes, num_tables):
    """Stable counting sort of ``indexes``: (order, group starts (T + 1), status)."""
    starts = np.zeros(num_tables + 1, np.int64)
    n = indexes.size
    for i in range(n):
        t = indexes[i]
        if t < 0 or t >= num_tables:
            return np.zeros(0, np.int32), starts, BAD_INDEX
        starts[t + 1] += 1
    for t in range(num_tables):
        starts[t + 1] += starts[t]
    fill = starts[:-1].copy()
    order = np.empty(n, np.int32)
    for i in range(n):
        t = indexes[i]
        order[fill[t]] = i
        fill[t] += 1
    return order, starts, OK


@numba.njit(cache=True)
def _nbits_of(raw):
    n = 0
    while n < MAX_RAW_BITS and raw >= (np.int64(1) << n):
        n += 1
    return n


@numba.njit(cache=True)
def push_escapes(buf, n, state_in, values, length):
    """Encode the bypass codes of escaped table-relative ``values`` (their decode order is forward)."""
    state = np.uint64(state_in)  # a Python int below 2**63 would type as int64
    m = values.size
    raws = np.empty(m, np.int64)
    nbits = np.empty(m, np.int64)
    for e in range(m):
        v = values[e]
        raws[e] = -2 * v - 1 if v < 0 else 2 * (v - length[e])
        nbits[e] = _nbits_of(raws[e])
    # Chunks go last in decode order: push them first, last escape's top chunk first.
    for e in range(m - 1, -1, -1):
        mbits = max(nbits[e] - 1, 0)
        if mbits == 0:
            continue
        mantissa = raws[e] - (np.int64(1) << (nbits[e] - 1))
        nchunks = (mbits + CHUNK_BITS - 1) // CHUNK_BITS
        for j in range(nchunks - 1, -1, -1):
            shift = j * CHUNK_BITS
            bits = min(CHUNK_BITS, mbits - shift)
            size = np.int64(1) << bits
            left, prob = _uniform_interval((mantissa >> shift) & (size - 1), size)
            n, state = _push(buf, n, state, left, prob)
    for e in range(m - 1, -1, -1):
        left, prob = _uniform_interval(nbits[e], MAX_RAW_BITS + 1)
        n, state = _push(buf, n, state, left, prob)
    return n, state


@numba.njit(cache=True)
def pop_escapes(words, pos, state_in, length):
    """Decode the bypass codes of ``length.size`` escapes: (table-relative int64 values, pos, state)."""
    state = np.uint64(state_in)  # a Python int below 2**63 would type as int64
    m = length.size
    nbits = np.empty(m, np.int64)
    for e in range(m):
        nbits[e], pos, state = _uniform_decode(words, pos, state, MAX_RAW_BITS + 1)
    values = np.empty(m, np.int64)
    for e in range(m):
        mbits = max(nbits[e] - 1, 0)
        mantissa = np.int64(0)
        nchunks = (mbits + CHUNK_BITS - 1) // CHUNK_BITS
        for j in range(nchunks):
            shift = j * CHUNK_BITS
            bits = min(CHUNK_BITS, mbits - shift)
            chunk, pos, state = _uniform_decode(words, pos, state, np.int64(1) << bits)
            mantissa += chunk << shift
        raw = (np.int64(1) << (nbits[e] - 1)) + mantissa if nbits[e] > 0 else np.int64(0)
        values[e] = -((raw + 1) // 2) if raw % 2 == 1 else raw // 2 + length[e]
    return values, pos, state


@numba.njit(cache=True)
def encode_step(buf, n, state_in, symbols, indexes, cdf, length, offset, shift):
    """Push one table step (decode order: by table, then escapes) onto the stack.

    ``buf`` must have room for ``n + 5 * symbols.size`` words. Returns (words, state, status).
    """
    state = np.uint64(state_in)  # a Python int below 2**63 would type as int64
    order, starts, status = _sort_by_table(indexes, cdf.shape[0])
    if status != OK:
        return n, state, status
    m = symbols.size
    n_esc = 0
    for i in range(m):  # escapes, in input order (cheap, no gather); rare
        t = indexes[i]
        v = np.int64(symbols[i]) - offset[t]
        if v < 0 or v >= length[t]:
            n_esc += 1
    if n_esc:
        values = np.empty(n_esc, np.int64)
        lens = np.empty(n_esc, np.int64)
        e = 0
        for j in range(m):  # in decode (sorted) order
            i = order[j]
            t = indexes[i]
            v = np.int64(symbols[i]) - offset[t]
            if v < 0 or v >= length[t]:
                values[e] = v
                lens[e] = length[t]
                e += 1
        n, state = push_escapes(buf, n, state, values, lens)
    for t in range(cdf.shape[0] - 1, -1, -1):
        row = cdf[t]
        off = offset[t]
        size = length[t]
        for j in range(starts[t + 1] - 1, starts[t] - 1, -1):
            v = np.int64(symbols[order[j]]) - off
            if v < 0 or v >= size:
                v = size
            lo = np.int64(row[v])
            n, state = _push(buf, n, state, lo << shift, (np.int64(row[v + 1]) - lo) << shift)
    return n, state, OK


@numba.njit(cache=True)
def decode_step(words, pos, state_in, indexes, cdf, length, offset, shift, lut, lut_shift, out):
    """Pop one table step into ``out`` (int32, input order). Returns (pos, state, status).

    ``lut`` is :func:`build_lut`'s bucket table: one load finds the symbol but for a short forward scan.
    """
    state = np.uint64(state_in)  # a Python int below 2**63 would type as int64
    order, starts, status = _sort_by_table(indexes, cdf.shape[0])
    if status != OK:
        return pos, state, status
    m = indexes.size
    esc = np.empty(m, np.int64)  # input positions of escapes, in decode order
    n_esc = 0
    for t in range(cdf.shape[0]):
        row = cdf[t]
        buckets = lut[t]
        off = offset[t]
        size = length[t]
        for j in range(starts[t], starts[t + 1]):
            q = np.int64((state & _MASK) >> np.uint64(shift))
            k = np.int64(buckets[q >> lut_shift])  # the last symbol whose cdf is <= the bucket's start
            while row[k + 1] <= q:  # bounded: row[size + 1] = 2**P > q
                k += 1
            c = np.int64(row[k])
            pos, state = _pop(words, pos, state, c << shift, (np.int64(row[k + 1]) - c) << shift)
            i = order[j]
            out[i] = np.int32(k + off)  # fits int32 (cdf.validate); overwritten for escapes
            if k == size:
                esc[n_esc] = i
                n_esc += 1
    if n_esc:
        lens = np.empty(n_esc, np.int64)
        for e in range(n_esc):
            lens[e] = length[indexes[esc[e]]]
        values, pos, state = pop_escapes(words, pos, state, lens)
        for e in range(n_esc):
            i = esc[e]
            s = values[e] + offset[indexes[i]]
            if s < -(1 << 31) or s >= (1 << 31):
                return pos, state, ESCAPE_OUT_OF_RANGE
            out[i] = np.int32(s)
    return pos, state, OK


@numba.njit(cache=True)
def push_uniform(buf, n, state_in, values, size):
    """Push ``Uniform(size)`` symbols so that they decode in order; ``buf`` has room for ``values.size``."""
    state = np.uint64(state_in)
    for e in range(values.size - 1, -1, -1):
        left, prob = _uniform_interval(np.int64(values[e]), size)
        n, state = _push(buf, n, state, left, prob)
    return n, state


@numba.njit(cache=True)
def pop_uniform(words, pos, state_in, count, size):
    """Decode ``count`` ``Uniform(size)`` symbols: (int64 symbols, pos, state)."""
    state = np.uint64(state_in)
    out = np.empty(count, np.int64)
    for e in range(count):
        out[e], pos, state = _uniform_decode(words, pos, state, size)
    return out, pos, state


@numba.njit(cache=True)
def build_lut(cdf, length, precision, lut_bits):
    """Per table, for each of ``2**lut_bits`` quantile buckets, the last symbol whose cdf is <= its start."""
    num_tables = cdf.shape[0]
    lut = np.empty((num_tables, 1 << lut_bits), np.uint16)
    step = 1 << (precision - lut_bits)
    for t in range(num_tables):
        s = 0
        for b in range(1 << lut_bits):
            start = b * step
            while s < length[t] and cdf[t, s + 1] <= start:
                s += 1
            lut[t, b] = s
    return lut


@numba.njit(cache=True)
def init_decoder(words):
    """``constriction``'s ``from_compressed``: (words left, state, ok)."""
    pos = words.size
    if pos == 0:
        return 0, np.uint64(0), True
    if words[pos - 1] == 0:
        return pos, np.uint64(0), False
    pos -= 1
    state = np.uint64(words[pos])
    while pos > 0 and state < _LOW:
        pos -= 1
        state = (state << np.uint64(32)) | np.uint64(words[pos])
    return pos, state, True


def state_words(state: int) -> np.ndarray:
    """The state's words as appended to the stack (least significant first, leading zero words dropped)."""
    state = int(state)
    lo, hi = state & 0xFFFFFFFF, state >> 32
    return np.array([lo, hi] if hi else [lo] if lo else [], np.uint32)


def frozen(a: np.ndarray, dtype: type) -> np.ndarray:
    """A C-contiguous read-only view (or copy) of ``a``: the one array type the kernels are compiled for
    (numba compiles, and caches, one specialization per argument type, read-only flag included)."""
    a = np.ascontiguousarray(a, dtype).view()
    a.flags.writeable = False
    return a


TableArgs = tuple[np.ndarray, np.ndarray, np.ndarray, int]  # cdf (int32), length, offset (int64), shift
LutArgs = tuple[np.ndarray, int]  # build_lut's table and the quantile shift to its buckets
MAX_LUT_BITS = 10  # 1024 buckets per table (2 KiB, in L1); measured faster than 8, 12 or 16 bits
_MAX_LUT_ENTRIES = 1 << 24  # at most 32 MiB of lookup tables per coder (fewer bits for many tables)


def lookup(tables: TableArgs, precision: int) -> LutArgs:
    """The decoder's bucket lookup for ``tables`` (symbol indexes fit uint16: a row has <= 2**16 symbols)."""
    cdf, length = tables[0], tables[1]
    bits = min(precision, MAX_LUT_BITS)
    while bits > 1 and cdf.shape[0] << bits > _MAX_LUT_ENTRIES:
        bits -= 1
    return build_lut(cdf, length, precision, bits), precision - bits
_CONSTRICTION_ERRORS = (ValueError, RuntimeError, OverflowError, TypeError, KeyError)


class Writer:
    """An ANS stack being encoded (push in reverse decode order); ``constriction`` segments interleave.

    The words live in a numpy buffer (with the state) while kernels push table steps; a run of custom
    ``constriction`` segments hands the stack to a ``constriction`` ``AnsCoder`` and back, once per run.
    """

    def __init__(self) -> None:
        self._buf = np.empty(1024, np.uint32)
        self._n = 0
        self._state = np.uint64(0)
        self._ans: Any = None  # a constriction AnsCoder while it owns the stack

    def _reserve(self, extra: int) -> None:
        self._own()
        need = self._n + extra
        if need > self._buf.size:
            buf = np.empty(max(need, 2 * self._buf.size), np.uint32)
            buf[: self._n] = self._buf[: self._n]
            self._buf = buf

    def _own(self) -> None:
        """Take the stack back from ``constriction`` (if it holds it)."""
        if self._ans is not None:
            words = np.asarray(self._ans.get_compressed(), np.uint32)
            self._ans = None
            pos, state, _ = init_decoder(words)
            self._buf = np.empty(max(2 * pos, 1024), np.uint32)
            self._buf[:pos] = words[:pos]
            self._n, self._state = pos, np.uint64(state)

    def push_step(self, tables: TableArgs, symbols: np.ndarray, indexes: np.ndarray) -> None:
        """Push a table step (flat int32 ``symbols`` and ``indexes``); ValueError on a bad index."""
        self._reserve(5 * symbols.size + 8)
        n, state, status = encode_step(self._buf, self._n, self._state, symbols, indexes, *tables)
        if status == BAD_INDEX:
            raise ValueError(f"table indexes must be in [0, {tables[0].shape[0]}), got "
                             f"{indexes.min()}..{indexes.max()}")
        self._n, self._state = n, np.uint64(state)

    def push_uniform(self, values: np.ndarray, size: int) -> None:
        """Push ``Uniform(size)`` symbols (they decode in this order)."""
        self._reserve(values.size + 2)
        self._n, state = push_uniform(self._buf, self._n, self._state, frozen(values, np.int64), size)
        self._state = np.uint64(state)

    def push_segments(self, segments: Sequence[tuple[np.ndarray, Any, tuple]]) -> None:
        """``encode_reverse`` custom ``constriction`` segments, last one first (they decode in order)."""
        if self._ans is None:
            words = self.words()
            self._ans = constriction.stream.stack.AnsCoder(words) if words.size else \
                constriction.stream.stack.AnsCoder()
        try:
            for syms, model, params in reversed(segments):
                self._ans.encode_reverse(syms, model, *params)
        except _CONSTRICTION_ERRORS as e:
            raise ValueError(f"cannot entropy-code a segment: {e}") from None

    def words(self) -> np.ndarray:
        """The compressed words so far (``constriction``'s ``get_compressed`` form)."""
        if self._ans is not None:
            return np.asarray(self._ans.get_compressed(), np.uint32).copy()
        return np.concatenate([self._buf[: self._n], state_words(self._state)])

    def to_bytes(self) -> bytes:
        return self.words().astype("<u4", copy=False).tobytes()


class Reader:
    """An ANS stack being decoded from bytes (``constriction``'s format); the counterpart of :class:`Writer`.

    Raises :class:`~jlic.entropy.bitstream.BitstreamError` for data that cannot be a stream.
    """

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        if len(data) % 4:
            raise BitstreamError(f"entropy-coded stream has {len(data)} bytes, not a multiple of 4")
        self._load(np.frombuffer(data, dtype="<u4").astype(np.uint32))

    def _load(self, words: np.ndarray) -> None:
        pos, state, ok = init_decoder(words)
        if not ok:
            raise BitstreamError("entropy-coded stream cannot be decoded: it ends in a zero word")
        self._words, self._pos, self._state = words, int(pos), np.uint64(state)
        self._ans: Any = None

    def _own(self) -> None:
        if self._ans is not None:
            self._load(np.asarray(self._ans.get_compressed(), np.uint32).copy())

    def pop_step(self, tables: TableArgs, lut: LutArgs, indexes: np.ndarray) -> np.ndarray:
        """Decode a table step for flat int32 ``indexes``: int32 symbols (ValueError on a bad index)."""
        self._own()
        out = np.empty(indexes.size, np.int32)
        pos, state, status = decode_step(self._words, self._pos, self._state, indexes, *tables, *lut, out)
        if status == BAD_INDEX:
            raise ValueError(f"table indexes must be in [0, {tables[0].shape[0]}), got "
                             f"{indexes.min()}..{indexes.max()}")
        if status == ESCAPE_OUT_OF_RANGE:
            raise BitstreamError("decoded escape value outside int32 (corrupt stream)")
        self._pos, self._state = int(pos), np.uint64(state)
        return out

    def pop_uniform(self, count: int, size: int) -> np.ndarray:
        self._own()
        out, pos, state = pop_uniform(self._words, self._pos, self._state, count, size)
        self._pos, self._state = int(pos), np.uint64(state)
        return out

    def pop_escapes(self, length: np.ndarray) -> np.ndarray:
        """Table-relative int64 values of escapes coded with the bypass code (``length`` per escape)."""
        self._own()
        length = frozen(length, np.int64)
        values, pos, state = pop_escapes(self._words, self._pos, self._state, length)
        self._pos, self._state = int(pos), np.uint64(state)
        return values

    def constriction_coder(self) -> Any:
        """A ``constriction`` ``AnsCoder`` holding the rest of the stack (kept until the next kernel call)."""
        if self._ans is None:
            words = np.concatenate([self._words[: self._pos], state_words(self._state)])
            self._ans = constriction.stream.stack.AnsCoder(words)
        return self._ans

    def is_empty(self) -> bool:
        if self._ans is not None:
            return bool(self._ans.is_empty())
        return int(self._state) == 0
