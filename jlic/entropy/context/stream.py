"""One entropy-coded stream decoded in several dependent steps (wavefronts, checkerboard passes, slices).

A context model's decoder learns the table indexes of step `s` only after decoding steps `0..s-1`. The
encoder knows every symbol, so it codes all steps into one ANS stream (in reverse, as a stack); the decoder
pops them step by step with the indexes it has just computed. Within a step, symbols are grouped by table
index and each group is one vectorized `constriction` call, with the same models, escape bypass and exact
integer probabilities as :class:`jlic.coding.coder.Coder` (whose tables and models this reuses), so a
single step reproduces `Coder.encode`'s layout. One stream instead of one per step saves the ANS state
flush (4-8 bytes) per step.
"""

from __future__ import annotations

from typing import Any

import constriction
import numpy as np

from jlic.coding import coder as coder_lib
from jlic.coding.bitstream import BitstreamError
from jlic.coding.coder import Coder


def _step_segments(coder: Coder, symbols: np.ndarray, indexes: np.ndarray) -> list[tuple]:
    """(symbols, model, extra params) in decode order for one step, as `Coder.encode` lays them out."""
    symbols = np.asarray(symbols)
    if symbols.shape != np.shape(indexes):
        raise ValueError(f"symbols {symbols.shape} and indexes {np.shape(indexes)} differ in shape")
    flat_idx, order, bounds = coder._group(indexes)
    values = symbols.reshape(-1).astype(np.int64)[order]
    idx = flat_idx[order]
    v = values - coder._offset[idx]
    length = coder._length[idx]
    escape = (v < 0) | (v >= length)
    k = np.where(escape, length, v).astype(np.int32)
    nbits, chunks, chunk_sizes = coder_lib._escape_payload(v[escape], length[escape])
    segments: list[tuple] = []
    for t in np.flatnonzero(np.diff(bounds)):
        segments.append((k[bounds[t]:bounds[t + 1]], coder._model(int(t)), ()))
    if nbits.size:
        segments.append((nbits, coder._nbits_model, ()))
    if chunks.size:
        segments.append((chunks, coder._chunk_family, (chunk_sizes,)))
    return segments


def encode_steps(coder: Coder, steps: list[tuple[np.ndarray, Any]]) -> bytes:
    """Code `[(symbols, indexes or spec), ...]` (decode order) into one stream for :class:`StepDecoder`.

    A step's second item is either the table indexes of `coder` or an object with `segments(symbols)` (in
    decode order) and `decode(ans)`, e.g. :class:`jlic.entropy.context.mixture_coding.MixtureStep`.
    """
    ans = constriction.stream.stack.AnsCoder()
    for symbols, spec in reversed(steps):
        if isinstance(spec, np.ndarray):
            segments = _step_segments(coder, symbols, spec)
        else:
            segments = spec.segments(symbols)
        for syms, model, params in reversed(segments):
            ans.encode_reverse(syms, model, *params)
    return ans.get_compressed().astype("<u4", copy=False).tobytes()


class StepDecoder:
    """Decode the steps of :func:`encode_steps` one at a time, given each step's indexes."""

    def __init__(self, coder: Coder, data: bytes) -> None:
        if len(data) % 4:
            raise BitstreamError(f"entropy-coded stream has {len(data)} bytes, not a multiple of 4")
        self.coder = coder
        words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
        try:
            self._ans = constriction.stream.stack.AnsCoder(words)
        except (ValueError, RuntimeError) as e:
            raise BitstreamError(f"entropy-coded stream cannot be decoded: {e}") from None

    def decode(self, indexes: Any) -> np.ndarray:
        """The next step's int32 symbols, shaped like `indexes` (or as the step spec's `decode` returns)."""
        if not isinstance(indexes, np.ndarray):
            try:
                return indexes.decode(self._ans)
            except (ValueError, RuntimeError, OverflowError) as e:
                raise BitstreamError(f"entropy-coded stream cannot be decoded: {e}") from None
        c = self.coder
        shape = np.shape(indexes)
        flat_idx, order, bounds = c._group(indexes)
        try:
            k = np.empty(flat_idx.size, np.int64)
            for t in np.flatnonzero(np.diff(bounds)):
                k[bounds[t]:bounds[t + 1]] = self._ans.decode(c._model(int(t)), int(bounds[t + 1] - bounds[t]))
            idx = flat_idx[order]
            length = c._length[idx]
            escape = k == length
            v = k
            if escape.any():
                nbits = np.asarray(self._ans.decode(c._nbits_model, int(escape.sum())), np.int64)
                sizes, owner, shift = coder_lib._chunk_layout(nbits)
                chunks = np.asarray(self._ans.decode(c._chunk_family, sizes), np.int64) if sizes.size else sizes
                v = v.copy()
                v[escape] = coder_lib._escape_values(nbits, chunks, owner, shift, length[escape])
        except (ValueError, RuntimeError, OverflowError) as e:
            raise BitstreamError(f"entropy-coded stream cannot be decoded: {e}") from None
        values = v + c._offset[idx]
        if values.size and (values.min() < np.iinfo(np.int32).min or values.max() > np.iinfo(np.int32).max):
            raise BitstreamError("decoded escape value outside int32 (corrupt stream)")
        out = np.empty(flat_idx.size, np.int32)
        out[order] = values
        return out.reshape(shape)

    def finish(self) -> None:
        """Check that the stream was consumed exactly."""
        if not self._ans.is_empty():
            raise BitstreamError("entropy-coded stream has trailing data (corrupt or wrong indexes)")
