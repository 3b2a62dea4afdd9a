"""Run logs: `metrics.jsonl` (one flushed JSON object per line), TensorBoard events, a progress bar."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np


def _scalar(v: Any) -> float | int | str | None:
    if isinstance(v, (str, bool)) or v is None:
        return v
    a = np.asarray(v)
    if a.size != 1:
        raise ValueError(f"metric values must be scalars, got shape {a.shape}")
    x = a.item()
    if isinstance(x, float) and not math.isfinite(x):
        return repr(x)  # JSON has no NaN/Inf; keep the information as a string
    return x


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Records of a `metrics.jsonl` file (an unfinished last line from a killed run is ignored)."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def truncate_jsonl(path: str | Path, keep: Any) -> None:
    """Rewrite `path` keeping only records for which `keep(record)` is true (used on resume)."""
    path = Path(path)
    if not path.exists():
        return
    kept = [r for r in read_jsonl(path) if keep(r)]
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))
    tmp.replace(path)


class MetricsLogger:
    """Appends records to `workdir/metrics.jsonl` and writes TensorBoard scalars (tensorboardX).

    Each record is `{"step": ..., "tag": ..., **scalars}`; TensorBoard tags are `tag/name`.
    """

    def __init__(self, workdir: str | Path, tensorboard: bool = True, enabled: bool = True):
        self.enabled = enabled  # False on all but the first host of a multi-host run
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.path = self.workdir / "metrics.jsonl"
        self._file = open(self.path, "a") if enabled else None
        if self._file is not None and self._file.tell() > 0:  # a killed or disk-full run may have left
            with open(self.path, "rb") as f:  # an unfinished last line: end it, so new records parse
                f.seek(-1, 2)
                if f.read(1) != b"\n":
                    self._file.write("\n")
        self._tb = None
        if tensorboard and enabled:
            from tensorboardX import SummaryWriter

            self._tb = SummaryWriter(str(self.workdir / "tensorboard"))

    def write(self, step: int, metrics: dict[str, Any], tag: str = "train") -> None:
        if self._file is None:
            return
        record = {"step": int(step), "tag": tag, **{k: _scalar(v) for k, v in metrics.items()}}
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self._tb is not None:
            for k, v in record.items():
                if k not in ("step", "tag") and isinstance(v, (int, float)) and not isinstance(v, bool):
                    self._tb.add_scalar(f"{tag}/{k}", v, int(step))

    def truncate(self, keep: Any) -> None:
        """Keep only the records for which `keep(record)` is true (on resume: drop steps after the
        checkpoint, which the resumed run logs again)."""
        if self._file is None:
            return
        self._file.close()
        truncate_jsonl(self.path, keep)
        self._file = open(self.path, "a")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._tb is not None:
            self._tb.close()

    def __enter__(self) -> MetricsLogger:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Progress:
    """tqdm bar over training steps showing steps/s and the latest loss, bpp and PSNR."""

    def __init__(self, total: int, initial: int = 0, desc: str = "train", disable: bool | None = None):
        from tqdm.auto import tqdm

        self._bar = tqdm(total=total, initial=initial, desc=desc, dynamic_ncols=True, disable=disable,
                         unit="step")
        self._last = (time.perf_counter(), initial)

    def update(self, step: int, metrics: dict[str, Any] | None = None) -> None:
        self._bar.update(step - self._bar.n)
        if metrics:
            t, s = time.perf_counter(), step
            rate = (s - self._last[1]) / max(t - self._last[0], 1e-9)
            self._last = (t, s)
            post = {"steps/s": f"{rate:.2f}"}
            for k in ("loss", "bpp", "psnr"):
                if k in metrics:
                    post[k] = f"{float(np.asarray(metrics[k]).mean()):.4g}"
            self._bar.set_postfix(post, refresh=False)

    def close(self) -> None:
        self._bar.close()
