"""Compile time of model init, of the train step, of encode and decode on XLA:CPU, and their run times.

    python -m benchmarks.compile                                       # the CPU configs + the control
    python -m benchmarks.compile --configs cpu --opt-layouts tree,flat  # every *_cpu config, both layouts
    python -m benchmarks.compile --configs mlicpp,elic2022 --parts code   # full-size encode/decode, Kodak
    python -m benchmarks.compile --configs registry --parts code           # every registered model
    python -m benchmarks.compile --configs elic2022_cpu --variants base,O1 --repeat 2
    python -m benchmarks.compile --configs bmshj2018_factorized:N=32 --parts init
    python -m benchmarks.compile --guard 100,200,400      # the train step's non-finite guard alone
    python -m benchmarks.compile --guard 879 --opt-layouts tree,flat   # the update alone, both layouts

Configs are `experiments/configs/<name>.py` (`name:K=V,...` overrides `model_kwargs`); `control` is the
default config's size (N=32, M=48) with `mbt2018-mean`; `model:NAME` is registered model NAME at quality 3
(its full, published size) with the default config's training settings. Groups, expanded when the run
starts so that new models and configs are picked up without editing this file: `cpu` (every
`*_cpu.py` config and `control`), `full` (every other config file that names a model), `registry` (`model:NAME`
for every name in `jlic.models.registry`). Every (config, variant) is measured in a fresh
subprocess (no persistent compilation cache, no warm in-process caches) at the config's batch size and crop,
in sequential-sweep form (one λ model, `jlic.train.loop.build_programs`):

- `init_jit_s` / `init_eager_s`: `model.init` at (1, 64, 64, 3) as one jitted program / with flax's ops
  dispatched one by one (`jlic.models.base.CompressionModel.init(..., jit=...)`), and whether the two give
  bit-identical leaves;
- `state_init_s`: the loop's train-state init (params and Adam state), as the sweep runs it;
- `lower_s`, `compile_s`: tracing + lowering, and XLA compilation, of the train step (`compile_cpu_s`: the
  process's CPU seconds of that compilation, all threads); `hlo_instructions`:
  instructions of its optimised HLO;
- `step_s`: median wall time of `--steps` steps after the first;
- part `code` (`encode_*`, `decode_*`): a `jlic.codec.codec.Codec` of the model (freshly initialised params,
  `--image`, default Kodak's kodim01, 768x512) compresses and decompresses the image twice: `*_compile_s` is
  JAX's tracing + lowering + XLA compilation during the first call (`jax.monitoring` compile events),
  `*_first_s` that call's wall, `*_run_s` the fastest later call's wall (compiled programs, warm numba
  kernels; `*_first_cpu_s`, `*_run_cpu_s`: the process's CPU seconds of the first and second call),
  `*_programs` the XLA programs compiled, `*_hlo_instructions` the instructions of their optimised HLO
  (from an `--xla_dump_to` dump, whose writing is inside the compile seconds). Untrained weights give other
  symbols than a trained model but the same tensors and the same number of coding steps.

`--cache`: each child runs twice with one fresh persistent compilation cache (`cache`: "cold", then "warm": a
new process that loads the compiled programs, as a second `jlic decompress` or a resumed sweep would).

`--opt-layouts tree,flat` measures each config with each optimizer-state layout (`jlic.train.state`:
per-leaf Adam moments, or one raveled vector per label), alternately within each round, so the before/after
ratio is taken under one load.

Variants (`--variants`, run alternately within one `--repeat` round so load drifts hit them alike): `base`
(as configured), XLA:CPU flags (`O0`, `O1`: `--xla_backend_optimization_level`, `noexp`:
`--xla_llvm_disable_expensive_passes`, `split4`: `--xla_cpu_parallel_codegen_split_count=4`), and
`laxgrad` / `tapsgrad` / `autograd` (every convolution kernel gradient by lax's VJP / as k*k dots / by
the size rule of `jlic.ops.conv.kernel_grad_rule("auto")`). `--layers B,W,G` times single convolutions'
gradients under "taps" and "lax" instead.

Prints a table and appends one JSON record per run to `benchmarks/results/compile-<date>.jsonl`, with the
model name, the CPU name, the load average before and after (the dev box is a shared 2-core AMD EPYC) and the
git commit (with `+dirty` if the work tree had changes).
"""

from __future__ import annotations

import argparse
import ast
import functools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from benchmarks.records import append_record, cpu_name

CONFIGS = ("cpu",)


def _kodim01() -> str:
    """`../shared/data/kodak/kodim01.png` beside the repository (or beside the folder of its worktree)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for up in (os.path.dirname(root), os.path.dirname(os.path.dirname(root))):
        path = os.path.join(up, "shared", "data", "kodak", "kodim01.png")
        if os.path.exists(path):
            return path
    return os.path.join(os.path.dirname(root), "shared", "data", "kodak", "kodim01.png")
VARIANTS: dict[str, dict[str, str]] = {
    "base": {},
    "O0": {"XLA_FLAGS": "--xla_backend_optimization_level=0"},
    "O1": {"XLA_FLAGS": "--xla_backend_optimization_level=1"},
    "noexp": {"XLA_FLAGS": "--xla_llvm_disable_expensive_passes=true"},
    "split4": {"XLA_FLAGS": "--xla_cpu_parallel_codegen_split_count=4"},
    "laxgrad": {"JLIC_BENCH_CONV_GRAD": "lax"},
    "tapsgrad": {"JLIC_BENCH_CONV_GRAD": "taps"},  # every kernel gradient as k*k dots (the default)
    "autograd": {"JLIC_BENCH_CONV_GRAD": "auto"},  # lax's below jlic.ops.conv._LAX_GRAD_MACS
}


def _config(spec: str, opt_layout: str | None = None) -> Any:
    import importlib

    from experiments.configs import default

    is_model = spec.startswith("model:")
    name, _, overrides = spec.removeprefix("model:").partition(":")
    if is_model:
        c = default.get_config()
        c.model, c.model_kwargs, c.lambdas = name, {}, (0.0067,)
    elif name == "control":
        c = default.get_config()
        c.model = "mbt2018-mean"
        c.batch_size, c.crop = 4, 64
    else:
        c = importlib.import_module(f"experiments.configs.{name}").get_config()
    for kv in filter(None, overrides.split(",")):
        k, v = kv.split("=")
        c.model_kwargs[k] = type(c.model_kwargs[k])(v) if k in c.model_kwargs else ast.literal_eval(v)
    c.sweep_mode = "sequential"
    if opt_layout:
        c.opt_layout = opt_layout
    return c


def expand_specs(specs: str) -> list[str]:
    """Config specs with the groups `cpu`, `full` and `registry` (see the module docstring) expanded."""
    from pathlib import Path

    files = sorted(p.stem for p in (Path(__file__).parents[1] / "experiments" / "configs").glob("*.py"))
    configs = [f for f in files if f not in ("__init__", "default", "variable_rate")]
    out: list[str] = []
    for spec in filter(None, specs.split(",")):
        if spec == "cpu":
            out += [f for f in configs if f.endswith("_cpu")] + ["control"]
        elif spec == "full":
            out += [f for f in configs if not f.endswith("_cpu") and _names_model(f)]
        elif spec == "registry":
            from jlic.models import registry

            out += [f"model:{n}" for n in registry.names()]
        else:
            out.append(spec)
    return list(dict.fromkeys(out))


def _names_model(name: str) -> bool:
    """Whether config `name` trains a registered model (not e.g. the overfit codecs' configs)."""
    import importlib

    from jlic.models import registry

    c = importlib.import_module(f"experiments.configs.{name}").get_config()
    return bool(c.get("model", None)) and c.model in registry.names()


def git_commit() -> str:
    """HEAD of the repository this file is in, `+dirty` if tracked files changed ("unknown" without git)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def _hlo_instructions(text: str) -> int:
    skip = ("//", "HloModule")
    return sum(1 for line in text.splitlines() if " = " in line and not line.lstrip().startswith(skip))


class _CompileClock:
    """Seconds of JAX tracing, lowering and XLA compilation, and the programs compiled, since `reset`
    (`jax.monitoring` duration events)."""

    EVENTS = ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration",
              "/jax/core/compile/backend_compile_duration")

    def __init__(self) -> None:
        import jax

        self.seconds, self.programs = 0.0, 0
        jax.monitoring.register_event_duration_secs_listener(self._on)

    def _on(self, event: str, duration: float, **_: Any) -> None:
        if event in self.EVENTS:
            self.seconds += duration
            self.programs += event == self.EVENTS[2]

    def reset(self) -> None:
        self.seconds, self.programs = 0.0, 0


def _dumped_instructions(dump: str, seen: set[str]) -> int:
    """Instructions of the optimised HLO modules dumped to `dump` since the files in `seen` (updated)."""
    names = [f for f in os.listdir(dump) if f.endswith("after_optimizations.txt") and f not in seen]
    seen.update(names)
    total = 0
    for f in names:
        with open(os.path.join(dump, f)) as fh:
            total += _hlo_instructions(fh.read())
    return total


def _code(config: Any, model: Any, image_path: str, repeat: int) -> dict[str, Any]:
    """Compile and run seconds of encode and decode of one image (see the module docstring)."""
    import jax

    from jlic.codec.codec import Codec
    from jlic.data.image import read_image

    dump = os.environ.get("JLIC_BENCH_DUMP")
    seen: set[str] = set(os.listdir(dump)) if dump else set()
    image = read_image(image_path)
    t = time.perf_counter()
    params = jax.block_until_ready(model.init(jax.random.PRNGKey(0), (1, model.stride, model.stride, 3)))
    rec: dict[str, Any] = {"init_s": round(time.perf_counter() - t, 2), "image": os.path.basename(image_path),
                           "image_shape": list(image.shape), "param_leaves": len(jax.tree.leaves(params))}
    clock = _CompileClock()
    t = time.perf_counter()
    codec = Codec(model, params)
    rec["codec_s"] = round(time.perf_counter() - t, 2)
    if dump:
        _dumped_instructions(dump, seen)  # the tables' programs are not the encoder's
    data = b""
    for part in ("encode", "decode"):
        walls = []
        for i in range(1 + repeat):
            clock.reset()
            t, c = time.perf_counter(), time.process_time()
            if part == "encode":
                data = codec.compress(image)
            else:
                out = codec.decompress(data)
            walls.append(time.perf_counter() - t)
            if i <= 1:
                rec[f"{part}_{('first', 'run')[i]}_cpu_s"] = round(time.process_time() - c, 2)
            if i == 0:
                rec[f"{part}_compile_s"] = round(clock.seconds, 2)
                rec[f"{part}_programs"] = clock.programs
                if dump:
                    rec[f"{part}_hlo_instructions"] = _dumped_instructions(dump, seen)
        rec[f"{part}_first_s"] = round(walls[0], 2)
        rec[f"{part}_run_s"] = round(min(walls[1:]), 3)
        print(json.dumps(rec), flush=True)
    rec["bytes"] = len(data)
    rec["decoded_equal_shape"] = list(out.shape) == list(image.shape)
    rec["decode_compile_over_run"] = round(rec["decode_compile_s"] / rec["decode_run_s"], 2)
    return rec


def _child(spec: str, parts: list[str], steps: int, opt_layout: str | None = None,
           image: str | None = None) -> dict[str, Any]:
    """One measurement in this (fresh) process, its convolution gradients traced with the variant's rule."""
    from jlic.ops import conv

    with conv.kernel_grad_rule(os.environ.get("JLIC_BENCH_CONV_GRAD") or conv.DEFAULT_KERNEL_GRAD_RULE):
        return _measure(spec, parts, steps, opt_layout, image)


def _measure(spec: str, parts: list[str], steps: int, opt_layout: str | None = None,
             image: str | None = None) -> dict[str, Any]:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from jlic.train import loop

    config = _config(spec, opt_layout)
    model = loop.build_model(config)
    rec: dict[str, Any] = {"model": model.name}
    if "code" in parts:
        rec.update(_code(config, model, image or _kodim01(), max(1, min(steps, 3))))
    if "init" in parts:
        key = jax.random.PRNGKey(0)
        leaves = {}
        for jit in (False, True):
            t = time.perf_counter()
            p = jax.block_until_ready(model.init(key, (1, 64, 64, 3), jit=jit))
            rec["init_jit_s" if jit else "init_eager_s"] = round(time.perf_counter() - t, 2)
            leaves[jit] = [np.asarray(x) for x in jax.tree.leaves(p)]
        pairs = zip(leaves[False], leaves[True], strict=True)
        rec["init_identical"] = all(np.array_equal(a, b) for a, b in pairs)
        rec["param_leaves"] = len(leaves[True])
        print(json.dumps(rec), flush=True)
    if "step" in parts:
        t = time.perf_counter()
        progs = loop.build_programs(config, model, 1, stacked=False)
        state = jax.block_until_ready(progs.init(jnp.int32(0)))
        rec["state_init_s"] = round(time.perf_counter() - t, 2)
        print(json.dumps(rec), flush=True)
        rng = np.random.default_rng(0)
        batch = jnp.asarray(rng.uniform(0, 1, (config.batch_size, config.crop, config.crop, 3)), jnp.float32)
        args = (state, batch, jnp.int32(0), jnp.float32(config.lambdas[0]), jnp.int32(0))
        t, c = time.perf_counter(), time.process_time()
        lowered = progs.step.lower(*args)
        rec["lower_s"] = round(time.perf_counter() - t, 2)
        t, c = time.perf_counter(), time.process_time()
        compiled = lowered.compile()
        rec["compile_s"] = round(time.perf_counter() - t, 2)
        rec["compile_cpu_s"] = round(time.process_time() - c, 2)  # all threads; less load-dependent than wall
        rec["hlo_instructions"] = _hlo_instructions(compiled.as_text())
        rec["param_leaves"] = len(jax.tree.leaves(state.params))
        rec["opt_state_leaves"] = len(jax.tree.leaves(state.opt_state))
        rec["opt_layout"] = progs.opt_layout
        print(json.dumps(rec), flush=True)
        times = []
        for i in range(steps + 1):
            t = time.perf_counter()
            state, metrics = compiled(state, batch, jnp.int32(i), args[3], args[4])
            jax.block_until_ready(metrics)
            times.append(time.perf_counter() - t)
        rec["step_s"] = round(float(np.median(times[1:])), 4)
        rec["loss"] = float(metrics["loss"])
    return rec


# (kernel, stride, transposed, in, out, input side) of the convolutions of the CPU configs at batch 4, 64²
LAYERS = ((5, 2, False, 3, 32, 64), (5, 2, False, 32, 32, 32), (3, 1, False, 32, 32, 32),
          (3, 1, False, 32, 32, 16), (1, 1, False, 32, 32, 16), (3, 2, False, 32, 32, 32),
          (5, 2, True, 32, 32, 16), (5, 2, True, 32, 3, 32), (3, 2, True, 32, 32, 16))


def _vdot(op: Any, stride: int, g: Any, x: Any, w: Any) -> Any:
    import jax.numpy as jnp

    return jnp.vdot(op(x, w, stride), g)


def _layers(batch: int, steps: int, widen: int = 1, grow: int = 1) -> list[dict[str, Any]]:
    """Compile and run seconds of one convolution's input + kernel gradient, per kernel gradient rule,
    alternately; `widen` multiplies the channel counts (not the 3 of an image), `grow` the sides."""
    import jax
    import numpy as np

    from jlic.ops import conv

    out = []
    for k, s, transposed, ci, co, side in LAYERS:
        ci, co, side = (ci if ci == 3 else ci * widen), (co if co == 3 else co * widen), side * grow
        op = conv.conv_transpose2d if transposed else conv.conv2d
        x = jax.random.normal(jax.random.key(0), (batch, side, side, ci))
        w = jax.random.normal(jax.random.key(1), (k, k, ci, co)) * 0.1
        g = jax.random.normal(jax.random.key(2), jax.eval_shape(functools.partial(op, stride=s), x, w).shape)
        rec = {"k": k, "s": s, "transposed": transposed, "in": ci, "out": co, "side": side, "batch": batch}
        for rule in ("taps", "lax", "taps", "lax"):
            f = jax.jit(jax.grad(functools.partial(_vdot, op, s), argnums=(1, 2)))
            t = time.perf_counter()
            with conv.kernel_grad_rule(rule):  # the rule is read while tracing
                c = f.lower(g, x, w).compile()
            tc = time.perf_counter() - t
            jax.block_until_ready(c(g, x, w))
            times = []
            for _ in range(steps):
                t = time.perf_counter()
                jax.block_until_ready(c(g, x, w))
                times.append(time.perf_counter() - t)
            rec.setdefault(f"{rule}_compile_s", []).append(round(tc, 3))
            rec.setdefault(f"{rule}_run_ms", []).append(round(1e3 * float(np.median(times)), 3))
        out.append(rec)
        print(json.dumps(rec), flush=True)
    return out


def _guard(counts: list[int], layouts: list[str]) -> Iterator[dict[str, Any]]:
    """Compile seconds of the optimizer update plus the non-finite guard of the train step on `n` synthetic
    (3, 3, 16, 24..30) leaves: `jlic.train.step.keep_if_finite` (one `isfinite` of the gradient norm) with
    each optimizer-state layout of `layouts` (`norm_<layout>_*`), against the per-leaf `isfinite` stack it
    replaced (2026-12-01, `per_leaf_*`, tree layout), each followed by the per-leaf `where` keep; `*_cpu_s`:
    the process's CPU seconds, `*_hlo`: optimised HLO instructions. Yields one record per count (recorded
    at once, so a stopped run keeps what it measured)."""
    import jax
    import jax.numpy as jnp
    import optax

    from jlic.train.state import make_optimizer
    from jlic.train.step import keep_if_finite

    for n in counts:
        params = {f"p{i}": jax.ShapeDtypeStruct((3, 3, 16, 24 + i % 7), jnp.float32) for i in range(n)}
        rec = {"part": "guard", "leaves": n}
        for guard, layout in [("norm", x) for x in layouts if x != "per_leaf"] + [("per_leaf", "tree")] * (
                "per_leaf" in layouts):
            opt = make_optimizer({"lr": 1e-3, "aux_lr": 1e-3, "clip_norm": 1.0}, layout)
            state = jax.eval_shape(opt.init, params)

            def update(g, o, p, guard=guard, opt=opt):
                u, o2 = opt.update(g, o, p)
                p2 = optax.apply_updates(p, u)
                if guard == "norm":
                    return keep_if_finite(jnp.float32(0.0), g, (p2, o2), (p, o))[0]
                finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(g)]))
                return jax.tree.map(lambda a, b: jnp.where(finite, a, b), (p2, o2), (p, o))

            lowered = jax.jit(update).lower(params, state, params)
            name = f"norm_{layout}" if guard == "norm" else guard
            t, c = time.perf_counter(), time.process_time()
            compiled = lowered.compile()
            rec[f"{name}_compile_s"] = round(time.perf_counter() - t, 2)
            rec[f"{name}_compile_cpu_s"] = round(time.process_time() - c, 2)
            rec[f"{name}_hlo"] = _hlo_instructions(compiled.as_text())
        yield rec


def _default_rule() -> str:
    from jlic.ops import conv

    return conv.DEFAULT_KERNEL_GRAD_RULE


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _run_child(spec: str, variant: str, layout: str | None, args: Any, r: int, cache: str | None = None
               ) -> dict[str, Any]:
    """One (config, variant, optimizer layout) in a fresh subprocess; its record. `cache`: a persistent
    compilation cache directory for the child (default: none)."""
    import tempfile

    import jax

    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    env.update(VARIANTS[variant])
    if cache:  # jax reads its options from the environment; 0 s: every program is written
        env.update({"JAX_COMPILATION_CACHE_DIR": cache, "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"})
    load0, t = _load(), time.perf_counter()
    cmd = [sys.executable, "-m", "benchmarks.compile", "--child", spec, "--parts", args.parts,
           "--steps", str(args.steps)]
    cmd += ["--child-layout", layout] if layout else []
    cmd += ["--image", args.image] if args.image else []
    with tempfile.TemporaryDirectory(prefix="jlic-hlo-") as dump:
        if "code" in args.parts.split(","):  # the optimised HLO of the coding programs, counted by the child
            env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} --xla_dump_to={dump} --xla_dump_hlo_as_text".strip()
            env["JLIC_BENCH_DUMP"] = dump
        try:
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
            stdout, res = out.stdout, {}
            if out.returncode != 0:
                err = out.stderr.strip().splitlines()
                res = {"error": err[-1] if err else f"rc {out.returncode}"}
        except subprocess.TimeoutExpired as e:
            stdout = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            res = {"error": f"timed out after {args.timeout:.0f} s"}
    done = [line for line in stdout.splitlines() if line.startswith("{")]
    res = {**(json.loads(done[-1]) if done else {}), **res}  # what finished before a timeout
    rule = VARIANTS[variant].get("JLIC_BENCH_CONV_GRAD", _default_rule())
    return {"config": spec, "variant": variant, "env": VARIANTS[variant], "round": r, "parts": args.parts,
            "kernel_grad_rule": rule, **res, "wall_s": round(time.perf_counter() - t, 1), "load_before": load0,
            "load_after": _load(), "cpu": cpu_name(), "cores": os.cpu_count(), "jax": jax.__version__,
            "batch_crop": "config", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--variants", default="base")
    ap.add_argument("--parts", default="init,step", help="any of init, step, code (encode + decode)")
    ap.add_argument("--opt-layouts", default="", help="tree,flat: measure each config with each "
                    "optimizer-state layout (default: the config's)")
    ap.add_argument("--image", help="image of part code (default: Kodak's kodim01)")
    ap.add_argument("--cache", action="store_true", help="run each child twice with one fresh persistent "
                    "compilation cache: cold (writes it), then warm (a new process that loads the programs)")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per subprocess")
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--layers", help="BATCH,WIDEN,GROW: per-convolution kernel-gradient rules instead "
                    "(4,1,1: the CPU configs' convolutions)")
    ap.add_argument("--guard", help="N,N,...: compile seconds of the update + non-finite guard on N leaves, "
                    "one isfinite of the norm against one per leaf")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--child-layout", help=argparse.SUPPRESS)
    args = ap.parse_args()
    parts = args.parts.split(",")
    if args.guard:
        load0 = _load()
        layouts = [x for x in args.opt_layouts.split(",") if x] or ["tree", "flat", "per_leaf"]
        for rec in _guard([int(v) for v in args.guard.split(",")], layouts):
            rec.update({"load_before": load0, "load_after": _load(), "cpu": cpu_name(), "commit": git_commit(),
                        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
            print(json.dumps(rec), flush=True)
            if not args.no_record:
                append_record("compile", rec)
        return
    if args.layers:
        load0 = _load()
        batch, widen, grow = (int(v) for v in args.layers.split(","))
        for rec in _layers(batch, max(args.steps, 10), widen, grow):
            rec.update({"part": "layer", "load_before": load0, "load_after": _load(), "cpu": cpu_name(),
                        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
            if not args.no_record:
                append_record("compile", rec)
        return
    if args.child:
        print(json.dumps(_child(args.child, parts, args.steps, args.child_layout, args.image)))
        return
    import tempfile

    rows, commit = [], git_commit()
    specs = expand_specs(args.configs)
    layouts = [x for x in args.opt_layouts.split(",") if x] or [None]
    for r in range(args.repeat):
        for spec in specs:
            for variant in args.variants.split(","):
                for layout in layouts:
                    commit = git_commit()
                    with tempfile.TemporaryDirectory(prefix="jlic-cache-") as cache:
                        for state in ("cold", "warm") if args.cache else (None,):
                            rec = _run_child(spec, variant, layout, args, r, cache if state else None)
                            rec.update({"commit": commit, **({"cache": state} if state else {})})
                            commit = git_commit()  # the code the next child imports
                            rows.append(rec)
                            if not args.no_record:
                                append_record("compile", rec)
                            print(json.dumps(rec), flush=True)
    cols = ("config", "variant", "opt_layout", "cache", "init_eager_s", "init_jit_s", "state_init_s",
            "compile_s", "compile_cpu_s", "hlo_instructions", "step_s", "encode_compile_s", "encode_run_s",
            "decode_compile_s", "decode_run_s", "load_before")
    print("\n" + " | ".join(cols))
    for rec in rows:
        cells = [rec.get(c, rec.get("error", "") if c == "compile_s" else "") for c in cols]
        print(" | ".join(str(v) for v in cells))


if __name__ == "__main__":
    main()
