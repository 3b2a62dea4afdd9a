"""The training loop around the pure train step: data, λ sweep (sequential or vmapped), devices,
checkpoints, resume, logging, NaN stop and model export.

`train(config, workdir)` trains one model per λ in `config.lambdas`:
- `config.sweep_mode == "sequential"`: one model after the other, each with its own checkpoints;
- `config.sweep_mode == "vmap"`: all λ models stacked on a leading axis and trained at once in one
  compiled program (`jax.vmap` of the step over state, λ and rng; the batch is shared).
λ model i gets init key `fold_in(init_key, i)` and at step s the noise key `fold_in(fold_in(rng_key, s), i)`,
and both modes read the same batches, so they train the same models (up to float reassociation).

Rerunning the same command after a kill resumes from the last checkpoint (train state + data iterator
state) and ends with the same parameters and metrics as an uninterrupted run.

Reliability (what a cluster does to a run):
- one run per workdir: `train_and_evaluate` holds `jlic.train.workdir.WorkdirLock` (a second run on the
  same workdir stops with `WorkdirLockedError` naming the holder; a crashed holder's lock is taken over);
- resume skips checkpoints that do not restore (moved aside, see `CheckpointManager.restore_newest`) and
  refuses ones of another model, model config, metric or λ set (`CheckpointMismatchError`);
- SIGTERM (what schedulers send before a kill): the current step finishes, a checkpoint of it is saved
  (with the metrics of the unfinished log window, so the resumed run logs the same rows) and the run
  stops with `Interrupted`;
- a write that fails for lack of space stops the run with `DiskFullError`; every write is atomic (orbax
  renames finished checkpoints into place, exports are renamed into place, `metrics.jsonl` loses at most
  an unfinished last line, which readers skip), so the previous checkpoint, exports and metrics stay
  loadable.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jlic import paths
from jlic.codec.export import json_ready, save_model
from jlic.data.pipeline import get_source, train_iterator
from jlic.train import lambda_axis, sharding
from jlic.train.checkpoint import CheckpointManager, _one_line
from jlic.train.logging import MetricsLogger, Progress

SWEEP_MODES = ("sequential", "vmap", "variable_rate")  # variable_rate: jlic.train.variable_rate
VARIABLE_RATE = "variable_rate"  # the group name, export directory and log model name of that mode


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN/Inf loss or gradient; the last good checkpoint is kept."""


class Interrupted(RuntimeError):
    """The run got SIGTERM; a checkpoint of the step it was at was saved. Rerun to resume."""


class DiskFullError(OSError):
    """A write failed for lack of space (or quota); nothing already written was damaged."""


class _StopRequest:
    """Set by SIGTERM (installed only from the main thread); the loop checks it after every step.

    Besides the Python handler, the signal is noted through `signal.set_wakeup_fd` (written by the C-level
    handler the moment it arrives): on CPython 3.11 the Python handler can run steps late while other
    threads (data pipeline, async checkpoints) hold the interpreter."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict[int, Any] = {}
        self._pipe: tuple[int, int] | None = None
        self._old_fd = -1

    def _handler(self, signum: int, frame: Any) -> None:
        self.signum = signum

    def __enter__(self) -> _StopRequest:
        self.signum = None
        if threading.current_thread() is threading.main_thread():
            self._old[signal.SIGTERM] = signal.signal(signal.SIGTERM, self._handler)
            r, w = os.pipe()
            os.set_blocking(r, False)
            os.set_blocking(w, False)
            self._pipe = (r, w)
            self._old_fd = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old = {}
        if self._pipe is not None:
            signal.set_wakeup_fd(self._old_fd)
            for fd in self._pipe:
                os.close(fd)
            self._pipe = None

    def _poll(self) -> None:
        if self.signum is None and self._pipe is not None:
            try:
                if signal.SIGTERM in os.read(self._pipe[0], 256):
                    self.signum = signal.SIGTERM
            except BlockingIOError:
                pass

    def requested(self, collective: bool = False) -> bool:
        """Whether to stop; with `collective` (multi-host, at log steps only) whether any process got it."""
        self._poll()
        if collective and jax.process_count() > 1:
            from jax.experimental import multihost_utils

            flags = multihost_utils.process_allgather(np.int32(self.signum is not None))
            return bool(np.any(flags))
        return self.signum is not None


_STOP = _StopRequest()


def _disk_full_cause(e: BaseException) -> BaseException | None:
    """The ENOSPC / EDQUOT error in `e`'s cause chain (orbax wraps its async write errors), if any."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return e
        if "No space left on device" in str(e) or "Disk quota exceeded" in str(e):
            return e
        e = e.__cause__ or e.__context__
    return None


def _complete_checkpoints(workdir: Any) -> str:
    parts = []
    root = paths.as_path(workdir) / "checkpoints"
    for d in sorted(root.iterdir()) if root.is_dir() else []:
        steps = sorted(int(p.name) for p in d.iterdir() if p.name.isdigit()) if d.is_dir() else []
        if steps:
            parts.append(f"{d.name} step {steps[-1]}")
    return ", ".join(parts) or "none yet"


def _safe_complete_checkpoints(workdir: Any) -> str:
    try:
        return _complete_checkpoints(workdir)
    except Exception:  # noqa: BLE001 - the storage that failed may still be away
        return "unknown (the storage cannot be listed now; rerun to resume from the newest that restores)"


def _window_to_json(host: list[dict[str, np.ndarray]]) -> list[dict[str, Any]]:
    return [{k: {"dtype": str(np.asarray(v).dtype), "value": np.asarray(v).tolist()} for k, v in m.items()}
            for m in host]


def _window_from_json(recs: list[dict[str, Any]]) -> list[dict[str, np.ndarray]]:
    return [{k: np.asarray(v["value"], dtype=v["dtype"]) for k, v in m.items()} for m in recs]


def run_identity(config: Any, model: Any, lambdas: list[float]) -> dict[str, Any]:
    """What a checkpoint must have been written with for this run to resume it."""
    return {"model": model.name, "model_kwargs": json_ready(dict(model.kwargs)), "metric": config.metric,
            "lambdas": lambdas}


def lambda_name(lmbda: float) -> str:
    """Directory name of one λ model, e.g. `lambda_0.0067`."""
    return f"lambda_{float(lmbda):g}"


def build_model(config: Any) -> Any:
    """The model named by `config.model` at `config.quality` with `config.model_kwargs` overrides."""
    from jlic.models import registry

    if config.get("init_from"):  # the architecture of the weights to fine-tune from
        return _with_init_kwargs(config, *initial_params(config))
    kwargs = dict(config.get("model_kwargs") or {})
    return registry.get(config.model, quality=int(config.get("quality", 3) or 3), **kwargs)


def initial_params(config: Any) -> tuple[Any, Any]:
    """(model, params) named by `config.init_from`: `pretrained:NAME:Q[:METRIC]` (CompressAI's published
    weights, `jlic.interop.pretrained`) or an exported model directory; every λ model starts from them."""
    spec = str(config.init_from)
    if spec.startswith("pretrained:"):
        from jlic.interop import pretrained

        name, quality, metric = pretrained.parse_init(spec)
        pre = pretrained.load(name, quality, metric)
        return pre.model, pre.params
    from jlic.codec.export import load_model

    return load_model(spec)


def _with_init_kwargs(config: Any, model: Any, params: Any) -> Any:
    """`model` rebuilt with `config.init_from_kwargs` over its kwargs (options no parameter depends on, e.g.
    Entroformer's training-only `token_mask_ratio=0` to fine-tune a token-mask pre-trained model)."""
    over = dict(config.get("init_from_kwargs") or {})
    if not over:
        return model
    from jlic.codec.export import check_params, flatten_params
    from jlic.models import registry

    rebuilt = registry.get(model.name, **{**dict(model.kwargs), **over})
    check_params(rebuilt, flatten_params(params), f"init_from {config.init_from} with init_from_kwargs {over}")
    return rebuilt


def train_config(config: Any, stride: int) -> dict[str, Any]:
    """The subset of `config` the train step and state read (optimizer, metric, init shape: one
    `stride`-sized image, the smallest the model's layers accept; params do not depend on it)."""
    return {"lr": float(config.lr), "aux_lr": float(config.aux_lr), "clip_norm": float(config.clip_norm),
            "metric": config.metric, "image_shape": (1, stride, stride, 3), "num_steps": int(config.num_steps),
            **{k: config.get(k) for k in ("lr_schedule", "lr_boundaries", "lr_decay", "lr_warmup",
                                          "opt_layout")}}


def write_config(workdir: Any, config: Any) -> None:
    """`workdir/config.json` (the whole ml_collections config), written atomically."""
    d = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    paths.atomic_write(paths.as_path(workdir) / "config.json", json.dumps(d, indent=2, default=str) + "\n")


def _groups(config: Any, n: int) -> list[list[int]]:
    mode = config.sweep_mode
    if mode not in SWEEP_MODES:
        raise ValueError(f"config.sweep_mode must be one of {SWEEP_MODES}, got {mode!r}")
    return [list(range(n))] if mode in ("vmap", VARIABLE_RATE) else [[i] for i in range(n)]


def _mean_metrics(window: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.mean(np.stack([w[k] for w in window]), axis=0) for k in window[0]}


def _to_host(tree: Any) -> Any:
    """Numpy copy of a (possibly sharded) pytree; on several hosts, gathered from all of them."""
    if jax.process_count() == 1:
        return jax.device_get(tree)
    from jax.experimental import multihost_utils

    return multihost_utils.process_allgather(tree, tiled=True)


@jax.jit
def _finite(tree: Any) -> jax.Array:
    """Whether no float leaf holds a NaN or Inf: a chain of per-leaf counts (as `optax.global_norm` sums;
    a stack of per-leaf flags compiles superlinearly in the leaf count: `jlic.train.step.keep_if_finite`)."""
    bad = [jnp.sum(~jnp.isfinite(x)) for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)]
    return sum(bad, jnp.int32(0)) == 0


def _all_finite(tree: Any) -> bool:
    """Whether every float leaf is finite: one compiled program (on several processes, eager per-leaf ops on
    sharded arrays each run their own cross-process collectives, which deadlocked on XLA:CPU with gloo)."""
    return bool(jax.device_get(_finite(tree)))


class _Timing:
    """Wall time per step and time spent waiting for the data pipeline, per log window, appended to
    `timing.jsonl` (kept apart from `metrics.jsonl`, which must be identical after a resume).

    The step is dispatched asynchronously, so `data_wait_s` (host time in `next(iterator)`) overlaps the
    device's work on the previous step; it is a stall only where `step_s` exceeds the step's compute time
    (measured for the default config on 2 CPU cores: 0.015 s of data wait per 0.15 s step, and the same
    0.15 s/step when every batch is already on the device)."""

    def __init__(self, path: Any, name: str, enabled: bool = True):
        self.name, self.enabled = name, enabled
        self.log = paths.JsonLines(path, min_interval=10.0) if enabled else None
        self.wait, self.t0 = 0.0, time.perf_counter()

    @contextlib.contextmanager
    def data(self):
        t = time.perf_counter()
        yield
        self.wait += time.perf_counter() - t

    def write(self, step: int, steps: int) -> None:
        """Called after the window's metrics were fetched (so the device work of the window is done)."""
        now = time.perf_counter()
        if self.enabled and steps:
            self.log.append({"step": step, "group": self.name, "step_s": (now - self.t0) / steps,
                             "data_wait_s": self.wait / steps})
        self.wait, self.t0 = 0.0, now

    def flush(self) -> None:
        if self.log is not None:
            self.log.flush()

    def close(self) -> None:
        if self.log is not None:
            self.log.close()


class Programs(NamedTuple):
    """The compiled pieces of one sweep mode, built once and shared by every λ group."""

    mesh: Any
    batch_shard: Any
    state_shape: Any  # abstract train state (stacked when vmapped)
    state_shard: Any
    init: Callable  # init(idx int32[G] or scalar) -> state
    step: Callable  # step(state, batch, step int32, lam f32[G] or scalar, idx) -> (state, metrics)
    model: Any = None
    opt_layout: str = "tree"  # of the optimizer state (jlic.train.state.opt_layout)
    state_template: Callable | None = None  # state_template(layout): abstract state, shardings, of `layout`
    migrate: Callable | None = None  # migrate(state, layout): a state of `layout` in `opt_layout`

    def restore_template(self, meta: dict[str, Any]) -> Any:
        """The abstract state (with shardings) a checkpoint with metadata `meta` was saved as; checkpoints
        without "opt_layout" predate the choice (they are "tree")."""
        return self.state_template(meta.get("opt_layout", "tree"))


def _init_program(init_fn: Callable, state_shape: Any, state_shard: Any, start: Any) -> Callable:
    """`init_fn` jitted with `state_shard` outputs, or, for a fresh init of a model with many parameter
    leaves (`jlic.models.base.jit_init`; one process), run eagerly (the same values) and then placed."""
    from jlic.models.base import jit_init

    if start is not None or jax.process_count() > 1 or jit_init(len(jax.tree.leaves(state_shape.params))):
        return jax.jit(init_fn, out_shardings=state_shard)
    return lambda idx: jax.device_put(init_fn(idx), state_shard)


def build_programs(config: Any, model: Any, group_size: int, stacked: bool) -> Programs:
    """jit-compiled init and train step (vmapped over a λ axis of `group_size` when `stacked`),
    with shardings on a ("lambda", "data") mesh; λ and model indexes are arguments, so every group reuses
    one compilation."""
    from jlic.train.state import convert_opt_state, create_train_state, opt_layout
    from jlic.train.step import make_train_step

    tcfg = train_config(config, int(model.stride))
    mesh_shape = tuple(config.mesh_shape) if config.get("mesh_shape") else None
    mesh = sharding.make_mesh(group_size if stacked else 1, int(config.batch_size), shape=mesh_shape)
    init_key, rng_key = jax.random.split(jax.random.key(int(config.seed)))
    start = initial_params(config)[1] if config.get("init_from") else None
    if start is not None and hasattr(model, "with_gains"):  # fine-tune fixed-rate weights into variable rate
        start = model.with_gains(start)
    init_one = lambda i, jit=None: create_train_state(model, jax.random.fold_in(init_key, i), tcfg, start, jit)
    loss_factory = None
    if config.sweep_mode == VARIABLE_RATE:  # one model, a level per example (lam: the whole λ vector)
        from jlic.train.variable_rate import make_loss_fn as loss_factory
    step_fn = make_train_step(model, tcfg, loss_factory)
    step_rng = lambda step, i: jax.random.fold_in(jax.random.fold_in(rng_key, step), i)
    if stacked:
        idx_shape = jax.ShapeDtypeStruct((group_size,), jnp.int32)
        state_shape = jax.eval_shape(jax.vmap(init_one), idx_shape)
        state_shard = sharding.stacked_sharding(mesh, state_shape)
        init = _init_program(jax.vmap(init_one), state_shape, state_shard, start)  # eager: traced anyway
        vstep = lambda_axis.vmap_step(step_fn)

        def train_step(state, batch, step, lam, idx):
            return vstep(state, batch, lam, jax.vmap(lambda i: step_rng(step, i))(idx))
    else:
        state_shape = jax.eval_shape(init_one, jax.ShapeDtypeStruct((), jnp.int32))
        state_shard = sharding.replicated_sharding(mesh, state_shape)
        init = _init_program(lambda i: init_one(i, False), state_shape, state_shard, start)

        def train_step(state, batch, step, lam, idx):
            return step_fn(state, batch, lam, step_rng(step, idx))

    layout = opt_layout(tcfg)

    def convert(state: Any, src: str, dst: str) -> Any:
        one = lambda s: s.replace(opt_state=convert_opt_state(s.opt_state, s.params, tcfg, src, dst))
        return (jax.vmap(one) if stacked else one)(state)

    def state_template(src: str) -> Any:
        shape = jax.eval_shape(lambda s: convert(s, layout, src), state_shape)
        shard = (sharding.stacked_sharding if stacked else sharding.replicated_sharding)(mesh, shape)
        return jax.tree.map(lambda s, sh: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sh), shape, shard)

    def migrate(state: Any, src: str) -> Any:
        if src == layout:
            return state
        return jax.jit(lambda s: convert(s, src, layout), out_shardings=state_shard)(state)

    return Programs(mesh, sharding.batch_sharding(mesh), state_shape, state_shard, init,
                    jax.jit(train_step, out_shardings=(state_shard, None)), model, layout, state_template,
                    migrate)


def _train_group(config: Any, progs: Programs, source: Any, lambdas: list[float], idx: list[int],
                 workdir: Any, logger: MetricsLogger, stacked: bool) -> Any:
    """Train the λ models `idx` together (stacked) or the single model `idx[0]`; returns the final state."""
    vr = config.sweep_mode == VARIABLE_RATE
    name = "vmap" if stacked else VARIABLE_RATE if vr else lambda_name(lambdas[idx[0]])
    group_lambdas = [lambdas[i] for i in idx]
    num_steps, batch_size = int(config.num_steps), int(config.batch_size)
    log_every, ckpt_every = int(config.log_every), int(config.checkpoint_every)
    batch_shard = progs.batch_shard
    if stacked:
        lam_shard = sharding.lambda_sharding(progs.mesh)
        lam = jax.device_put(jnp.asarray(group_lambdas, jnp.float32), lam_shard)
        idx_arr = jax.device_put(jnp.asarray(idx, jnp.int32), lam_shard)
    elif vr:
        lam, idx_arr = jnp.asarray(group_lambdas, jnp.float32), jnp.int32(0)
    else:
        lam, idx_arr = jnp.float32(group_lambdas[0]), jnp.int32(idx[0])

    mgr = CheckpointManager(workdir / "checkpoints" / name, max_to_keep=int(config.keep_checkpoints),
                            async_save=bool(config.get("async_checkpoints", True)))
    last_saved: int | None = None
    timing: _Timing | None = None
    try:
        start, data_state, pending = 0, None, []
        identity = {**run_identity(config, progs.model, group_lambdas), "mode": config.sweep_mode}
        saved = {**identity, "opt_layout": progs.opt_layout}  # not checked on resume: either layout migrates
        restored = mgr.restore_newest(progs.restore_template, expect=identity)
        if restored is not None:
            state, data_state, meta = restored
            state = progs.migrate(state, meta.get("opt_layout", "tree"))  # a checkpoint of the other layout
            start = int(meta["step"])
            pending = _window_from_json(meta.get("pending_window", []))
            names = {VARIABLE_RATE} if vr else {lambda_name(x) for x in group_lambdas}
            logger.truncate(lambda r: not (r.get("tag") == "train" and r.get("model") in names
                                           and r["step"] > start))
        else:
            state = progs.init(idx_arr)

        rows = sharding.process_rows(batch_shard, batch_size)  # this process reads only its rows
        it = train_iterator(source, crop=int(config.crop), batch_size=batch_size, seed=int(config.seed),
                            flip=bool(config.data.get("flip", True)), small=config.data.get("small", "upscale"),
                            num_threads=int(config.data.get("num_threads", 2)), state=data_state, rows=rows)
        progress = Progress(total=num_steps, initial=start, desc=name,
                            disable=not config.get("progress_bar", True) or None)
        window: list[Any] = []
        last_saved = start if start else None
        timing = _Timing(workdir / "timing.jsonl", name, enabled=jax.process_index() == 0)
        multi = jax.process_count() > 1
        for s in range(start, num_steps):
            with timing.data():
                host_batch = next(it)
            batch = sharding.global_batch(host_batch, batch_shard, batch_size)
            state, metrics = progs.step(state, batch, jnp.int32(s), lam, idx_arr)
            window.append(metrics)
            done = s + 1
            is_ckpt = done % ckpt_every == 0 or done == num_steps
            is_log = done % log_every == 0 or is_ckpt
            if is_log:
                host, pending = pending + _to_host(window), []
                for j, m in enumerate(host):
                    finite = np.asarray(m["finite"])
                    if not finite.all():
                        bad = [group_lambdas[k] for k in np.flatnonzero(finite.reshape(-1) == 0)]
                        where = (f"the last good checkpoint (step {last_saved}) is kept in {mgr.directory}"
                                 if last_saved is not None else "no checkpoint was saved")
                        raise NonFiniteLossError(
                            f"non-finite loss or gradient at step {done - len(host) + j + 1} for λ {bad} "
                            f"(loss {np.asarray(m['loss']).tolist()}); training stopped, {where}. "
                            "Lower the learning rate or check the data.")
                timing.write(done, len(host))
                mean = _mean_metrics(host)
                window = []
                for k, lmbda in enumerate([None] if vr else group_lambdas):
                    rec = {key: (v[k] if stacked else v) for key, v in mean.items()}
                    head = {"model": VARIABLE_RATE} if vr else {"model": lambda_name(lmbda), "lambda": lmbda}
                    logger.write(done, {**head, **rec})
                progress.update(done, mean)
            if is_ckpt:
                if not _all_finite(state.params):
                    raise NonFiniteLossError(f"non-finite parameters at step {done}; not saving a checkpoint")
                mgr.save(done, state, it.get_state(), saved)
                last_saved = done
                logger.flush()  # on an object store: the logs up to this checkpoint are uploaded
                timing.flush()
            if done < num_steps and (is_log or not multi) and _STOP.requested(collective=multi):
                if not is_log:  # keep the unfinished log window: the resumed run logs the same rows
                    pending, window = pending + _to_host(window), []
                if last_saved != done:
                    meta = {**saved, "pending_window": _window_to_json(pending)}
                    mgr.save(done, state, it.get_state(), meta)
                mgr.wait()
                raise Interrupted(f"stopped by SIGTERM at step {done} of {name}; checkpoint saved in "
                                  f"{mgr.directory}; rerun the same command to resume")
        progress.close()
        mgr.wait()
    except BaseException:
        with contextlib.suppress(Exception):  # a failing close must not hide why the run stopped
            mgr.close()
        with contextlib.suppress(Exception):
            if timing is not None:
                timing.close()
        raise
    mgr.close()
    timing.close()
    return state


def train(config: Any, workdir: str | Path) -> dict[float, Any]:
    """Train every λ model of `config` in `workdir` (local or e.g. `gs://`; resuming if checkpoints exist)
    and export each one to `workdir/lambda_<λ>/`; returns {λ: export directory}."""
    workdir = paths.makedirs(workdir)
    model = build_model(config)
    lambdas = [float(x) for x in config.lambdas]
    if len(set(lambdas)) != len(lambdas):
        raise ValueError(f"duplicate λ in {lambdas}")
    if config.sweep_mode == VARIABLE_RATE:
        from jlic.models.variable_rate import wrap

        lambdas = sorted(lambdas)  # level k trains λ_k
        model = wrap(model, lambdas)
    source = get_source(config.data.train, tfds_data_dir=config.data.get("tfds_data_dir"),
                        embedded_max_side=config.data.get("embedded_max_side"))
    exports: dict[float, Any] = {}
    groups = _groups(config, len(lambdas))
    stacked = config.sweep_mode == "vmap"
    progs = build_programs(config, model, len(groups[0]), stacked)
    with MetricsLogger(workdir, tensorboard=bool(config.get("tensorboard", True)),
                       enabled=jax.process_index() == 0) as logger:
        for idx in groups:
            state = _train_group(config, progs, source, lambdas, idx, workdir, logger, stacked)
            host_params = _to_host(state.params)
            if config.sweep_mode == VARIABLE_RATE:
                exports.update(_export_variable_rate(config, workdir, model, host_params, lambdas))
                continue
            for k, i in enumerate(idx):
                params = lambda_axis.take(host_params, k) if stacked else host_params
                if jax.process_index() != 0:
                    exports[lambdas[i]] = workdir / lambda_name(lambdas[i])
                    continue
                exports[lambdas[i]] = save_model(
                    workdir / lambda_name(lambdas[i]), model, params,
                    extra={"lambda": lambdas[i], "metric": config.metric, "step": int(config.num_steps)})
    return exports


def _export_variable_rate(config: Any, workdir: Any, model: Any, params: Any, lambdas: list[float]
                          ) -> dict[float, Any]:
    """One export (`workdir/variable_rate/`) for every evaluated λ: the trained levels and
    `config.eval.interpolate` fractional levels between each pair (default 1)."""
    from jlic.train.variable_rate import eval_lambdas

    path = workdir / VARIABLE_RATE
    if jax.process_index() == 0:
        save_model(path, model, params, extra={"lambdas": lambdas, "metric": config.metric,
                                               "step": int(config.num_steps)})
    between = int((config.get("eval") or {}).get("interpolate", 1) or 0)
    return {lmbda: path for lmbda in eval_lambdas(lambdas, between)}


def train_and_evaluate(config: Any, workdir: str | Path) -> dict[str, Any]:
    """The whole sweep: `config.json`, training (resumable), export, and, if `config.eval.enabled`,
    the real-bytes evaluation writing `rd.json`, `rd.png` and `report.md`. Returns what was written."""
    sharding.initialize_distributed(bool(config.get("distributed", False)), config.get("coordinator_address"),
                                    config.get("num_processes"), config.get("process_id"))
    from jlic.train.workdir import lock_workdir

    workdir = paths.makedirs(workdir)
    lock = lock_workdir(workdir)  # process 0 holds it; raises WorkdirLockedError on every process if taken
    try:
        with _STOP:
            if jax.process_index() == 0:
                write_config(workdir, config)
            exports = train(config, workdir)
            out: dict[str, Any] = {"exports": exports}
            if config.get("eval") is not None and config.eval.get("enabled", True) and jax.process_index() == 0:
                from jlic.evaluation.report import evaluate_sweep

                out.update(evaluate_sweep(config, workdir, exports))
    except paths.StorageError as e:  # storage unreachable past the retries, or refused: one line
        raise paths.StorageError(f"{e}. The run stopped; complete checkpoints: "
                                 f"{_safe_complete_checkpoints(workdir)}") from None
    except Exception as e:
        full = _disk_full_cause(e)
        if full is None:
            raise
        raise DiskFullError(errno.ENOSPC,
                            f"no space left on the device of {workdir} ({_one_line(full)}); the run "
                            f"stopped. Complete checkpoints: {_complete_checkpoints(workdir)}; they, the "
                            "exported models and metrics.jsonl are intact. Free space and rerun the same "
                            "command to resume") from None
    finally:
        if lock is not None:
            lock.release()
    return out
