"""Deterministic coding mode: every network that selects or shifts a CDF evaluated exactly (see
:mod:`jlic.fixedpoint.interpreter`), so a file decodes identically on any device, thread count or flag."""

from jlic.fixedpoint.interpreter import DeterminismError, Options, evaluate, trace

__all__ = ["DeterminismError", "Options", "evaluate", "trace"]
