"""Training checkpoints (orbax CheckpointManager) and model export (`model.json` + `params.npz`).

Training checkpoints hold the train state pytree, the data iterator state of every process (grain's
per-process files `data/process_<i>-of-<n>.json`: on a multi-host run each host resumes its own stream) and a
small JSON of metadata; saves are asynchronous and atomic (locally orbax writes to a temporary directory and
renames it when done; on `gs://`, where a rename is not atomic, it writes `commit_success.txt` last and lists
only committed steps), so a run killed at any point resumes from the last finished checkpoint. The directory
may be anything `jlic.paths` opens; orbax reaches `gs://` through tensorstore.

On resume, :meth:`CheckpointManager.restore_newest` tries the checkpoints newest first: one that does not
restore (truncated or missing files, another pytree) is reported in one line and moved aside to
`<directory>.unrestorable/<step>-<time>` (never deleted); one written for another model, model config or
λ set is refused with :class:`CheckpointMismatchError` naming both. If none restores,
:class:`CheckpointRestoreError` says so and where they went.

An exported model is a directory with `model.json` (registry name + constructor kwargs) and
`params.npz` (flattened parameter pytree), written atomically; `load_model` rebuilds it with
`jlic.models.registry.get`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grain.checkpoint
import jax
import orbax.checkpoint as ocp

from jlic import paths

Params = Any
_SEP = "/"


class CheckpointRestoreError(RuntimeError):
    """No checkpoint of a directory could be restored."""


class CheckpointMismatchError(ValueError):
    """A checkpoint was written by another model, model config or λ set than the run resuming it."""


def _one_line(e: BaseException, limit: int = 240) -> str:
    text = " ".join(str(e).split()).split(" See full TensorStore details")[0] or type(e).__name__
    return f"{type(e).__name__}: {text[:limit]}{'...' if len(text) > limit else ''}"


def _quiet_closed_loop_callbacks() -> None:
    """Drop the "Event loop is closed" reports of tensorstore callbacks that arrive after a failed orbax
    restore has closed its event loop (hundreds of lines per damaged checkpoint, nothing actionable);
    every other unraisable exception still goes to the previous hook."""
    previous = sys.unraisablehook
    if getattr(previous, "_jlic_quiet", False):
        return

    def hook(unraisable: Any) -> None:
        e = unraisable.exc_value
        if isinstance(e, RuntimeError) and str(e) == "Event loop is closed":
            return
        previous(unraisable)

    hook._jlic_quiet = True  # type: ignore[attr-defined]
    sys.unraisablehook = hook


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def print_nothing(msg: str) -> None:
    """The log of processes other than 0."""


class _IteratorState:
    """What grain's orbax handler saves and restores (an iterator's `get_state` / `set_state`), holding a
    snapshot taken at save time: the iterator itself runs on while an asynchronous save is written."""

    def __init__(self, state: Any = None):
        self.state = state

    def get_state(self) -> bytes:
        return json.dumps(self.state).encode()

    def set_state(self, state: bytes) -> None:
        self.state = json.loads(state)

    def start_prefetch(self) -> None:
        """Part of grain's restore protocol; the real iterator is built from `state` afterwards."""


class CheckpointManager:
    """Keep-N, asynchronous checkpoints of (state, data iterator state, metadata) under `directory`."""

    def __init__(self, directory: str | Path, *, max_to_keep: int = 2, async_save: bool = True):
        self.directory = (paths.as_path(Path(directory).absolute()) if paths.is_local(directory)
                          else paths.as_path(directory))
        options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                               enable_async_checkpointing=async_save,
                                               cleanup_tmp_directories=True)
        self._mgr = ocp.CheckpointManager(self.directory, options=options, item_names=("state", "data", "meta"))

    def latest_step(self) -> int | None:
        return self._mgr.latest_step()

    def all_steps(self) -> list[int]:
        return list(self._mgr.all_steps())

    def save(self, step: int, state: Any, data_state: Any, meta: dict[str, Any] | None = None) -> None:
        """Start saving checkpoint `step` (returns before the write finishes when async)."""
        self._mgr.save(step, args=ocp.args.Composite(
            state=ocp.args.StandardSave(state),
            data=grain.checkpoint.CheckpointSave(_IteratorState(data_state)),
            meta=ocp.args.JsonSave({"step": int(step), **(meta or {})}),
        ), force=True)

    def restore(self, step: int | None, state_template: Any) -> tuple[Any, Any, dict[str, Any]]:
        """(state, data_state, meta) of checkpoint `step` (default: the latest); `state_template` gives
        the pytree structure, shapes, dtypes and shardings (concrete or `jax.ShapeDtypeStruct` leaves)."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {self.directory}")
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state_template)
        # checkpoints written before the per-process iterator files hold one JSON (`data/metadata`)
        data_dir = self.directory / str(step) / "data"
        single = (data_dir / "metadata").exists()
        mine = data_dir / f"process_{jax.process_index()}-of-{jax.process_count()}.json"
        if not single and not mine.exists() and data_dir.exists():
            written = sorted(p.name for p in data_dir.iterdir())
            raise CheckpointMismatchError(
                f"checkpoint {self.directory / str(step)} holds the data streams of other processes "
                f"({', '.join(written) or 'none'}), this run has {jax.process_count()}: rerun with the "
                "process count that wrote it (or use another workdir)")
        data = ocp.args.JsonRestore() if single else grain.checkpoint.CheckpointRestore(_IteratorState())
        out = self._mgr.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract), data=data, meta=ocp.args.JsonRestore()))
        return out["state"], out["data"] if single else out["data"].state, out["meta"]

    def read_meta(self, step: int) -> dict[str, Any]:
        """The metadata JSON of checkpoint `step` (cheap: no arrays are read)."""
        return self._mgr.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]

    def move_aside(self, step: int) -> Any:
        """Move checkpoint `step` out of the managed directory (to `<directory>.unrestorable/`)."""
        dest_dir = self.directory.with_name(self.directory.name + ".unrestorable")
        dest = dest_dir / f"{step}-{time.strftime('%Y%m%dT%H%M%S')}"
        if jax.process_index() == 0:  # multi-host: one process moves it, the others wait for that
            if paths.is_local(self.directory):
                dest_dir.mkdir(parents=True, exist_ok=True)
                os.replace(self.directory / str(step), dest)
            else:  # object store: a copy, then the source is deleted (no atomic rename)
                (self.directory / str(step)).rename(dest)
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils

            multihost_utils.sync_global_devices(f"jlic move aside {self.directory} {step}")
        self._mgr.reload()
        return dest

    def restore_newest(self, state_template: Any | Callable[[dict[str, Any]], Any],
                       expect: dict[str, Any] | None = None, log: Callable[[str], None] | None = None
                       ) -> tuple[Any, Any, dict[str, Any]] | None:
        """(state, data_state, meta) of the newest checkpoint that restores; None if there is none.

        `state_template` may be a function of the checkpoint's metadata (e.g. the optimizer-state layout it
        was saved with, `jlic.train.loop.Programs.restore_template`).
        `expect` ({key: value} that the checkpoint's metadata must hold, e.g. model name and config
        hash) is checked first: a checkpoint with other values raises :class:`CheckpointMismatchError`
        (it belongs to another run; nothing is moved). A checkpoint that fails to restore is reported
        through `log` (default: stderr) in one line and moved aside; the next older one is tried.
        Raises :class:`CheckpointRestoreError` if there were checkpoints but none restored.
        """
        if log is None:
            log = _stderr if jax.process_index() == 0 else print_nothing
        _quiet_closed_loop_callbacks()
        steps = sorted(self.all_steps(), reverse=True)
        moved = []
        for step in steps:
            try:
                meta = self.read_meta(step)
            except Exception as e:  # noqa: BLE001 - any failure to read means this checkpoint is unusable
                meta, error = None, e
            if meta is not None:
                for key, want in (expect or {}).items():
                    if key in meta and meta[key] != want:
                        raise CheckpointMismatchError(
                            f"checkpoint {self.directory / str(step)} was written with {key} {meta[key]!r}, "
                            f"this run has {key} {want!r}: use another workdir (or the original config)")
                try:
                    template = state_template(meta) if callable(state_template) else state_template
                    state, data, meta = self.restore(step, template)
                    return state, data, meta
                except CheckpointMismatchError:
                    raise
                except Exception as e:  # noqa: BLE001
                    error = e
            dest = self.move_aside(step)
            moved.append(dest)
            log(f"warning: checkpoint step {step} does not restore ({_one_line(error)}); moved to {dest}")
        if moved:
            raise CheckpointRestoreError(
                f"none of the {len(moved)} checkpoints in {self.directory} restores; they were moved to "
                f"{moved[0].parent} (kept, not deleted); rerunning starts from scratch")
        return None

    def wait(self) -> None:
        """Block until pending saves are on disk."""
        self._mgr.wait_until_finished()

    def close(self) -> None:
        self._mgr.wait_until_finished()
        # orbax's close does not wait for its start-up cleanup of temporary directories; a run that stops
        # right after opening (refused checkpoint) would exit under that thread and print its traceback.
        await_cleanup = getattr(self._mgr, "_maybe_await_cleanup_tmp_directory", None)
        if await_cleanup is not None:
            await_cleanup()
        self._mgr.close()

    def __enter__(self) -> CheckpointManager:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
