"""The exported-model format: a directory with `model.json` (registry name + constructor kwargs) and
`params.npz` (the flattened parameter pytree, keys `a/b/c`), written atomically.

`load_model` rebuilds the model with `jlic.models.registry.get` and checks the parameter tree against it, so
a checkpoint of another architecture (or one whose parameter paths predate the current model code) fails
with one clear `ValueError` instead of deep inside flax. An export may also hold `coding_tables.npz`
(`TABLES_FILE`: precomputed `ModelTables`, read instead of being recomputed) and `"coding_mode"` in
model.json (`"deterministic"` after `python -m jlic convert-deterministic`).

This module is the one owner of that directory: `save_model` writes it (with any extra files, in the same
atomic rename), `load_model` / `load_codec` read it. Training, the commands, the evaluator, the CompressAI
import and the pretrained zoo all go through it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jlic import paths

Params = Any
_SEP = "/"
TABLES_FILE = "coding_tables.npz"  # optional, beside model.json: precomputed ModelTables


class ExportError(ValueError):
    """An exported-model directory that cannot be used (one-line message naming it)."""


def flatten_params(params: Params) -> dict[str, np.ndarray]:
    """Nested dict pytree -> {"a/b/c": array}."""
    flat: dict[str, np.ndarray] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict) or hasattr(node, "items") and not hasattr(node, "shape"):
            for k, v in node.items():
                if _SEP in str(k):
                    raise ValueError(f"parameter name {k!r} contains {_SEP!r}")
                walk(v, f"{prefix}{_SEP}{k}" if prefix else str(k))
        else:
            flat[prefix] = np.asarray(jax.device_get(node))

    walk(params, "")
    return flat


def unflatten_params(flat: dict[str, np.ndarray]) -> dict[str, Any]:
    """Inverse of `flatten_params`."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(_SEP)
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def json_ready(x: Any) -> Any:
    if isinstance(x, dict) or hasattr(x, "items"):
        return {str(k): json_ready(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_ready(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def save_model(directory: str | os.PathLike, model: Any, params: Params, extra: dict[str, Any] | None = None,
               files: dict[str, bytes] | None = None) -> Any:
    """Export `model` (its `name` and `kwargs`) and `params` to `directory`, atomically.

    Writes `model.json`, `params.npz` and `files` (name -> bytes, e.g. `TABLES_FILE`). Locally they go into
    a temporary sibling directory that is renamed into place, so readers never see a half-written export.
    On an object store (`gs://`, no atomic rename) `model.json` is the commit marker: it is deleted first,
    then the other files are uploaded, then `model.json` (each object upload is atomic), so a directory
    with `model.json` always holds the files it describes, and an interrupted export has no `model.json`
    (not an export; the rerun writes it again). `extra` is stored in `model.json` (e.g. λ, step).
    Returns the export directory.
    """
    meta = {"name": model.name, "kwargs": json_ready(dict(model.kwargs)), **json_ready(extra or {})}
    if not paths.is_local(directory):
        target = paths.as_path(directory)
        old = [p.name for p in target.iterdir()] if target.exists() else []
        for stale in ["model.json", *old]:  # the commit marker first: no reader takes the rest for an export
            with contextlib.suppress(FileNotFoundError):
                (target / stale).unlink()
        buf = io.BytesIO()
        np.savez(buf, **flatten_params(params))
        for name, data in {"params.npz": buf.getvalue(), **(files or {})}.items():
            paths.atomic_write(target / name, data)
        paths.atomic_write(target / "model.json", json.dumps(meta, indent=2) + "\n")
        return target
    directory = Path(directory).absolute()
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
    try:
        (tmp / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
        with open(tmp / "params.npz", "wb") as f:
            np.savez(f, **flatten_params(params))
            f.flush()
            os.fsync(f.fileno())
        for name, data in (files or {}).items():
            (tmp / name).write_bytes(data)
        old = None
        if directory.exists():
            old = directory.with_name(f".{directory.name}.old-{os.getpid()}")
            os.replace(directory, old)
        os.replace(tmp, directory)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def read_model_json(directory: str | os.PathLike) -> dict[str, Any]:
    path = paths.as_path(directory) / "model.json"
    if not path.exists():
        raise FileNotFoundError(f"{directory} is not an exported model (no model.json)")
    return json.loads(paths.read_bytes(path))


def load_model(directory: str | os.PathLike) -> tuple[Any, dict[str, Any]]:
    """(model, params) from a directory written by `save_model` (local or on an object store)."""
    from jlic.models import registry

    meta = read_model_json(directory)
    kwargs = dict(meta["kwargs"])
    quality = kwargs.pop("quality", 3)
    model = registry.get(meta["name"], quality=quality, **kwargs)
    with np.load(io.BytesIO(paths.read_bytes(paths.as_path(directory) / "params.npz"))) as z:
        flat = {k: z[k] for k in z.files}
    check_params(model, flat, directory)
    return model, unflatten_params(flat)


def check_params(model: Any, flat: dict[str, np.ndarray], where: Any = "params") -> None:
    """Raise a one-line `ValueError` unless `flat` has exactly the model's parameter paths and shapes."""
    expected = flatten_params(jax.tree.map(
        lambda s: np.zeros((0,), np.float32) if not s.shape else np.empty(s.shape, np.float32),
        jax.eval_shape(lambda k: model.init(k, (1, model.stride, model.stride, 3)), jax.random.PRNGKey(0))))
    missing = sorted(set(expected) - set(flat))
    unexpected = sorted(set(flat) - set(expected))
    wrong = sorted(k for k in set(expected) & set(flat)
                   if expected[k].shape != (0,) and tuple(flat[k].shape) != tuple(expected[k].shape))
    if missing or unexpected or wrong:
        parts = [f"{what}: {', '.join(keys[:4])}{' ...' if len(keys) > 4 else ''}"
                 for what, keys in (("missing", missing), ("unexpected", unexpected), ("other shape", wrong))
                 if keys]
        raise ValueError(f"{where}: parameters do not fit model {model.name} {dict(model.kwargs)} ("
                         + "; ".join(parts) + "). jlic's latent-codec rewrite (format 2) kept every parameter "
                         "path, so this is another architecture or a damaged export: re-export it, or import "
                         "CompressAI weights with `python -m jlic import-compressai`")


def load_codec(checkpoint: str | Path, convention: str = "jlic", mode: str | None = None,
               level: float | None = None, lmbda: float | None = None) -> Any:
    """A :class:`jlic.codec.codec.Codec` for an exported model directory.

    ``convention``: the padding / byte count of :mod:`jlic.codec.conventions`. ``mode``: ``"float"`` or
    ``"deterministic"`` for compressing (``None``: the checkpoint's ``coding_mode`` in model.json, set by
    ``python -m jlic convert-deterministic``, else float); decoding follows the file's mode. ``level`` or
    ``lmbda``: the rate a variable-rate model compresses at (:mod:`jlic.models.variable_rate`; default its
    top level); decoding follows the level the file records. Raises :class:`ExportError` (one line).
    """
    from jlic.codec.codec import ModelTables
    from jlic.codec.conventions import make_codec

    checkpoint = paths.as_path(checkpoint)
    if not (checkpoint / "model.json").exists():
        raise ExportError(f"not an exported model (no model.json): {checkpoint}")
    try:
        model, params = load_model(checkpoint)
    except (OSError, KeyError, ValueError) as e:
        raise ExportError(f"cannot load checkpoint {checkpoint}: {e}") from None
    tables = None
    stored = checkpoint / TABLES_FILE
    if stored.exists():  # tables exported with the model: no recomputation, identical integers everywhere
        try:
            tables = ModelTables.from_bytes(paths.read_bytes(stored))
        except (OSError, KeyError, ValueError) as e:
            raise ExportError(f"cannot read coding tables {stored}: {e}") from None
    if mode is None:
        mode = read_model_json(checkpoint).get("coding_mode", "float")
    if level is not None or lmbda is not None:
        model = at_rate(model, level, lmbda)
    return make_codec(model, params, tables, convention, mode=mode)


def at_rate(model: Any, level: float | None, lmbda: float | None) -> Any:
    """A variable-rate ``model`` bound to ``level`` (or the level of ``lmbda``); a one-line
    :class:`ExportError` for a fixed-rate model or a level / λ outside the trained range."""
    if not hasattr(model, "at_lambda"):
        raise ExportError(f"--level / --lambda need a variable-rate checkpoint; {model.name} codes at one rate")
    try:
        return model.at(level) if level is not None else model.at_lambda(lmbda)
    except ValueError as e:
        raise ExportError(str(e)) from None


def export_tables(checkpoint: str | os.PathLike) -> Any:
    """Compute the coding tables of an exported model once and store them beside it (atomically)."""
    from jlic.codec.codec import build_model_tables
    from jlic.paths import atomic_write

    model, params = load_model(checkpoint)
    return atomic_write(paths.as_path(checkpoint) / TABLES_FILE, build_model_tables(model, params).to_bytes())
