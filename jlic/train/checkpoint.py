"""Training checkpoints (orbax CheckpointManager) and model export (`model.json` + `params.npz`).

Training checkpoints hold the train state pytree, the data iterator state and a small JSON of metadata;
saves are asynchronous and atomic (orbax writes to a temporary directory and renames it when done), so a
run killed at any point resumes from the last finished checkpoint.

An exported model is a directory with `model.json` (registry name + constructor kwargs) and
`params.npz` (flattened parameter pytree), written atomically; `load_model` rebuilds it with
`jlic.models.registry.get`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

Params = Any
_SEP = "/"


class CheckpointManager:
    """Keep-N, asynchronous checkpoints of (state, data iterator state, metadata) under `directory`."""

    def __init__(self, directory: str | Path, *, max_to_keep: int = 2, async_save: bool = True):
        self.directory = Path(directory).absolute()
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
            data=ocp.args.JsonSave(data_state),
            meta=ocp.args.JsonSave({"step": int(step), **(meta or {})}),
        ), force=True)

    def restore(self, step: int | None, state_template: Any) -> tuple[Any, Any, dict[str, Any]]:
        """(state, data_state, meta) of checkpoint `step` (default: the latest); `state_template` gives
        the pytree structure, shapes, dtypes and shardings (concrete or `jax.ShapeDtypeStruct` leaves)."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {self.directory}")
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state_template)
        out = self._mgr.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract),
            data=ocp.args.JsonRestore(),
            meta=ocp.args.JsonRestore(),
        ))
        return out["state"], out["data"], out["meta"]

    def wait(self) -> None:
        """Block until pending saves are on disk."""
        self._mgr.wait_until_finished()

    def close(self) -> None:
        self._mgr.wait_until_finished()
        self._mgr.close()

    def __enter__(self) -> CheckpointManager:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# The exported-model format lives with the models (coding reads it without importing training).
from jlic.models.export import (  # noqa: E402,F401  (re-exported: existing callers import them from here)
    flatten_params,
    load_model,
    read_model_json,
    save_model,
    unflatten_params,
)
