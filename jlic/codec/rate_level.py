"""The rate level of a variable-rate model in the ``.jlic`` header (extension ``"rate_level"``).

The value is the level as a little-endian float64 (8 bytes; fractional levels interpolate, see
:mod:`jlic.models.variable_rate`). A variable-rate model writes it in every file and its decoder reads it
back for ``synthesis``; a file without it, with a malformed value or a level outside the model's range is
refused with a :class:`BitstreamError` before anything is decoded. Fixed-rate models write no level and
refuse files that carry one. Imports nothing from the models: a model is variable-rate if it has
``levels`` and ``coding_level``.
"""

from __future__ import annotations

import copy
import math
import struct
from typing import Any

from jlic.entropy.bitstream import BitstreamError, Container

KEY = "rate_level"
_VALUE = struct.Struct("<d")


def is_variable_rate(model: Any) -> bool:
    return hasattr(model, "coding_level") and hasattr(model, "levels")


def extensions(model: Any) -> dict[str, bytes]:
    """The header extensions a model's files carry: ``{"rate_level": float64}`` for a variable-rate model."""
    return {KEY: _VALUE.pack(model.coding_level)} if is_variable_rate(model) else {}


def read(model: Any, c: Container) -> float | None:
    """The level recorded in ``c`` (None for a fixed-rate model), checked against ``model``."""
    value = c.extensions.get(KEY)
    if not is_variable_rate(model):
        if value is not None:
            raise BitstreamError(f"file carries a rate level, but {model.name} is not a variable-rate model")
        return None
    if value is None:
        raise BitstreamError(f"file has no rate level; {model.name} is a variable-rate model and needs one")
    if len(value) != _VALUE.size:
        raise BitstreamError(f"rate level field has {len(value)} bytes, expected {_VALUE.size}")
    level = _VALUE.unpack(value)[0]
    if not (math.isfinite(level) and 0.0 <= level <= model.levels - 1):
        raise BitstreamError(f"rate level {level!r} outside 0..{model.levels - 1} of this model")
    return level


def synthesis_args(model: Any, c: Container) -> tuple[float, ...]:
    """Extra arguments of ``model.synthesis`` for the file ``c``: its level, or none (fixed rate)."""
    level = read(model, c)
    return () if level is None else (level,)


def decoding_context(ctx: Any, level: float | None) -> Any:
    """The coding context at the file's ``level`` for a model whose latent codec reads ``ctx.rate_level``
    (gains inside the codec, :mod:`jlic.latent_codecs.gained`); other contexts are returned unchanged."""
    if level is None or not hasattr(ctx, "rate_level"):
        return ctx
    c = copy.copy(ctx)
    c.rate_level = level
    return c
