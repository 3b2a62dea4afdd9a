"""Run logs: `metrics.jsonl` (one JSON object per line, through `jlic.paths.JsonLines`), TensorBoard events,
a progress bar."""

from __future__ import annotations

import json
import math
import tempfile
import time
from typing import Any

import numpy as np

from jlic import paths
from jlic.paths import PathLike


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


def read_jsonl(path: PathLike) -> list[dict[str, Any]]:
    """Records of a `metrics.jsonl` file, local or on an object store (an unfinished last line from a
    killed run is ignored)."""
    return paths.read_jsonl(path)


def truncate_jsonl(path: PathLike, keep: Any) -> None:
    """Rewrite `path` keeping only records for which `keep(record)` is true (used on resume)."""
    if not paths.as_path(path).exists():
        return
    kept = [r for r in read_jsonl(path) if keep(r)]
    paths.atomic_write(path, "".join(json.dumps(r) + "\n" for r in kept))


class MetricsLogger:
    """Appends records to `workdir/metrics.jsonl` and writes TensorBoard scalars (tensorboardX).

    Each record is `{"step": ..., "tag": ..., **scalars}`; TensorBoard tags are `tag/name`. The workdir may
    be local or on an object store (`gs://`): the log is a :class:`jlic.paths.JsonLines` (appended line by
    line locally; rewritten whole on an object store at most every `flush_seconds` and at every
    :meth:`flush`, which the loop calls at checkpoints). TensorBoard events for an object-store workdir are
    written to a local temporary folder and uploaded into `workdir/tensorboard/` at each :meth:`flush`.
    """

    def __init__(self, workdir: PathLike, tensorboard: bool = True, enabled: bool = True,
                 flush_seconds: float = 10.0):
        self.enabled = enabled  # False on all but the first host of a multi-host run
        self.workdir = paths.makedirs(workdir)
        self.path = self.workdir / "metrics.jsonl"
        self._log = paths.JsonLines(self.path, min_interval=flush_seconds) if enabled else None
        self._tb = None
        self._tb_buffer: tempfile.TemporaryDirectory | None = None
        self._tb_last = time.monotonic()
        self.flush_seconds = flush_seconds
        if tensorboard and enabled:
            from tensorboardX import SummaryWriter

            if paths.is_local(workdir):
                logdir = str(self.workdir / "tensorboard")
            else:  # tensorboardX cannot write to most object stores: buffer locally, upload on flush
                self._tb_buffer = tempfile.TemporaryDirectory(prefix="jlic-tensorboard-")
                logdir = self._tb_buffer.name
            self._tb = SummaryWriter(logdir)

    def write(self, step: int, metrics: dict[str, Any], tag: str = "train") -> None:
        if self._log is None:
            return
        record = {"step": int(step), "tag": tag, **{k: _scalar(v) for k, v in metrics.items()}}
        self._log.append(record)
        if self._tb is not None:
            for k, v in record.items():
                if k not in ("step", "tag") and isinstance(v, (int, float)) and not isinstance(v, bool):
                    self._tb.add_scalar(f"{tag}/{k}", v, int(step))
            if self._tb_buffer is not None and time.monotonic() - self._tb_last >= self.flush_seconds:
                self._upload_tensorboard()

    def _upload_tensorboard(self) -> None:
        self._tb.flush()
        paths.upload_tree(self._tb_buffer.name, self.workdir / "tensorboard")
        self._tb_last = time.monotonic()

    def flush(self) -> None:
        """Make every record written so far durable (object store: upload the log and the events)."""
        if self._log is not None:
            self._log.flush()
        if self._tb_buffer is not None:
            self._upload_tensorboard()

    def truncate(self, keep: Any) -> None:
        """Keep only the records for which `keep(record)` is true (on resume: drop steps after the
        checkpoint, which the resumed run logs again)."""
        if self._log is not None:
            self._log.rewrite(keep)

    def close(self) -> None:
        try:
            if self._log is not None:
                self._log.close()
            if self._tb is not None:
                self._tb.close()
                if self._tb_buffer is not None:
                    paths.upload_tree(self._tb_buffer.name, self.workdir / "tensorboard")
        finally:
            if self._tb_buffer is not None:
                self._tb_buffer.cleanup()
                self._tb_buffer = None

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
