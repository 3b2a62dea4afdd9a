"""Benchmark records: one JSON object per run, appended to `benchmarks/results/<name>-<date>.jsonl`."""

from __future__ import annotations

import datetime as dt
import json
import platform
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


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo (what `lscpu` prints), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"
