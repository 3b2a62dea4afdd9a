"""Benchmark records: one JSON object per run, appended to `benchmarks/results/<name>-<date>.jsonl`."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def append_record(name: str, record: dict[str, Any], default: Callable[[Any], Any] | None = None) -> Path:
    """Append `record` as one line to today's `results/<name>-<YYYY-MM-DD>.jsonl`; returns the path.
    `default` converts values `json` cannot (as in `json.dumps`)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}-{dt.date.today().isoformat()}.jsonl"
    with path.open("a") as f:
        f.write(json.dumps(record, default=default) + "\n")
    return path
