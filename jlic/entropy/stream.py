"""One ANS stream holding many coding steps, from any number of :class:`~jlic.entropy.coder.Coder` s.

A context model's decoder learns the table indexes of step ``s`` only after decoding steps ``0..s-1``
(checkerboard passes, channel groups, wavefronts), and a hyperprior decodes z (factorized tables) before
y (Gaussian tables). The encoder knows every symbol, so :class:`StreamWriter` collects the steps in
*decode* order and :meth:`StreamWriter.finish` codes them into one ANS stream (in reverse: ANS is a
stack); :class:`StreamReader` pops them step by step with the indexes the decoder has just computed.

A step is either ``(coder, symbols, indexes)`` -- the same grouping, escape bypass and exact integer
probabilities as :meth:`Coder.encode`, so one step reproduces ``Coder.encode``'s bytes; coded by the numba
kernels of :mod:`jlic.entropy.rans` -- or custom segments ``(symbols, constriction model, model params)``
(e.g. per-symbol Gaussian-mixture tables), coded by ``constriction`` on the same stack (handed over once
per run of such steps), with :func:`escape_segments` / :meth:`StreamReader.decode_escapes` for their
bypass codes. One stream instead
of one per step saves the ANS state flush (4-8 bytes) per step.

Every decode failure raises :class:`~jlic.entropy.bitstream.BitstreamError` with a one-line message. ANS
by itself cannot detect reading past the end: an empty stack decodes as symbol index 0 (a valid stream's
last-decoded index-0 symbols cost no words at all), and a cut or altered stream that still decodes yields
wrong symbols. With ``check=True`` (what ``.jlic`` files use) the writer codes a fixed 32-bit check word
*first*, so the reader decodes it *last* in :meth:`StreamReader.finish`: a stream that was cut, padded,
altered, or decoded with other indexes than the encoder's ends on another word (a chance of 2^-32 to pass
for random data) and is refused. It costs at most 4 bytes per stream (0 in ``tests/coding/test_stream.py``'s
case: the stream's length is a whole number of 32-bit words either way).

References:
  Duda, "Asymmetric numeral systems", arXiv:1311.2540.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from jlic.entropy import coder as coder_lib
from jlic.entropy import rans
from jlic.entropy.bitstream import BitstreamError
from jlic.entropy.coder import Coder

Segment = tuple[np.ndarray, Any, tuple]
_DECODE_ERRORS = (ValueError, RuntimeError, OverflowError, TypeError, KeyError)  # what constriction raises
_CHECK_WORD = np.array([0x4A4C, 0x4943], np.int32)  # "JLIC" as two 16-bit symbols, coded first, decoded last
_CHECK_SIZE = 1 << 16  # coded as constriction.stream.model.Uniform(1 << 16) would code it


class StreamWriter:
    """Collects coding steps in DECODE order from any number of Coders; :meth:`finish` returns ONE stream."""

    def __init__(self, check: bool = False) -> None:
        self._steps: list[tuple[Coder, np.ndarray, np.ndarray] | list[Segment]] = []
        self._finished = False
        self._check = check

    def encode(self, coder: Coder, symbols: np.ndarray, indexes: np.ndarray) -> None:
        """Add a step: int ``symbols`` (any int32 value) coded with ``coder``'s tables ``indexes`` (alike)."""
        self._check_open()
        self._steps.append((coder, *coder.prepare(symbols, indexes)))

    def encode_segments(self, segments: Sequence[Segment]) -> None:
        """Add a custom step: ``(symbols, constriction model, extra model params)`` in decode order."""
        self._check_open()
        step = []
        for seg in segments:
            if len(seg) != 3 or not isinstance(seg[2], tuple):
                raise ValueError("a segment is (symbols, constriction model, tuple of model params)")
            step.append((np.asarray(seg[0], np.int32), seg[1], seg[2]))
        self._steps.append(step)

    def finish(self) -> bytes:
        """Encode every step (last-decoded first) into one ANS stream: little-endian u32 words."""
        self._check_open()
        self._finished = True
        writer = rans.Writer()
        if self._check:
            writer.push_uniform(_CHECK_WORD, _CHECK_SIZE)
        for step in reversed(self._steps):
            if isinstance(step, tuple):
                step[0].encode_into(writer, step[1], step[2])
            else:
                writer.push_segments(step)
        return writer.to_bytes()

    def _check_open(self) -> None:
        if self._finished:
            raise ValueError("StreamWriter.finish() was already called")


class StreamReader:
    """Decodes the steps of a :class:`StreamWriter` stream one at a time, in the order they were added."""

    def __init__(self, data: bytes, check: bool = False) -> None:
        self._check = check
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"stream data must be bytes, got {type(data).__name__}")
        self._reader = rans.Reader(data)

    def decode(self, coder: Coder, indexes: np.ndarray) -> np.ndarray:
        """The next step's int32 symbols, coded by :meth:`StreamWriter.encode` with these ``indexes``."""
        return coder.decode_step(self._reader, indexes)

    def decode_model(self, model: Any, n_or_params: Any) -> np.ndarray:
        """The next custom segment's int32 symbols.

        Args:
          model: the constriction model (or model family) the segment was encoded with.
          n_or_params: the number of symbols for a concrete model, or the model family's per-symbol
            parameters (one array, or a tuple of arrays), as in ``segments[i][2]``.
        """
        params = n_or_params if isinstance(n_or_params, tuple) else (n_or_params,)
        if len(params) == 1 and isinstance(params[0], int | np.integer):
            n = int(params[0])
            if n < 0:
                raise ValueError(f"cannot decode {n} symbols")
            params = (n,)
        try:
            out = self._reader.constriction_coder().decode(model, *params)
        except _DECODE_ERRORS as e:
            raise BitstreamError(f"entropy-coded stream cannot be decoded: {e}") from None
        return np.asarray(out, np.int32).reshape(-1)

    def decode_escapes(self, length: np.ndarray) -> np.ndarray:
        """Table-relative int64 values of escaped symbols coded by :func:`escape_segments` (same ``length``)."""
        length = np.asarray(length, np.int64).reshape(-1)
        if not length.size:
            return np.zeros(0, np.int64)
        return self._reader.pop_escapes(length)

    def finish(self) -> None:
        """Check that the stream was consumed exactly.

        Raises:
          BitstreamError: the check word (``check=True``) is wrong, or data is left (a cut or corrupt
            stream, or indexes other than the encoder's).
        """
        if self._check:
            word = self._reader.pop_uniform(2, _CHECK_SIZE)
            if not np.array_equal(word, _CHECK_WORD):
                raise BitstreamError("entropy-coded stream fails its check word (cut, altered or crafted data)")
        if not self._reader.is_empty():
            raise BitstreamError("entropy-coded stream has trailing data (corrupt or wrong indexes)")


def escape_segments(values: np.ndarray, length: np.ndarray) -> list[Segment]:
    """Bypass-code segments for escaped symbols of a custom step (the coder's Elias-gamma-style escapes).

    Args:
      values: table-relative values ``v = symbol - offset`` of the escaped symbols (``v < 0`` or
        ``v >= length``), any int64 whose symbol fits int32.
      length: the support size of each escaped symbol's table (same shape).

    Returns:
      Segments in decode order (empty if there are no escapes); decode with
      :meth:`StreamReader.decode_escapes` given the same ``length``.
    """
    values = np.asarray(values, np.int64).reshape(-1)
    length = np.asarray(length, np.int64).reshape(-1)
    if values.shape != length.shape:
        raise ValueError(f"values {values.shape} and length {length.shape} differ in shape")
    if np.any((values >= 0) & (values < length)):
        raise ValueError("escape_segments got a value inside its table's support")
    return coder_lib._escape_segments(values, length)
