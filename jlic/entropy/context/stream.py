"""Deprecated shim over :mod:`jlic.coding.stream` (the public one-stream API), kept for its old users.

`encode_steps` / `StepDecoder` code steps that are either table indexes of one `Coder` or objects with
`segments(symbols)` (decode order) and `decode(ans)` (e.g.
:class:`jlic.entropy.context.mixture_coding.MixtureStep`), into the same stream as
:class:`jlic.coding.stream.StreamWriter`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jlic.coding.bitstream import BitstreamError
from jlic.coding.coder import Coder
from jlic.coding.stream import StreamReader, StreamWriter


def encode_steps(coder: Coder, steps: list[tuple[np.ndarray, Any]]) -> bytes:
    """Code `[(symbols, indexes or spec), ...]` (decode order) into one stream for :class:`StepDecoder`."""
    writer = StreamWriter()
    for symbols, spec in steps:
        if isinstance(spec, np.ndarray):
            writer.encode(coder, symbols, spec)
        else:
            writer.encode_segments(spec.segments(symbols))
    return writer.finish()


class StepDecoder:
    """Decode the steps of :func:`encode_steps` one at a time, given each step's indexes."""

    def __init__(self, coder: Coder, data: bytes) -> None:
        self.coder = coder
        self._reader = StreamReader(data)

    def decode(self, indexes: Any) -> np.ndarray:
        """The next step's int32 symbols, shaped like `indexes` (or as the step spec's `decode` returns)."""
        if isinstance(indexes, np.ndarray):
            return self._reader.decode(self.coder, indexes)
        try:
            return indexes.decode(self._reader._ans)
        except (ValueError, RuntimeError, OverflowError) as e:
            raise BitstreamError(f"entropy-coded stream cannot be decoded: {e}") from None

    def finish(self) -> None:
        """Check that the stream was consumed exactly."""
        self._reader.finish()
