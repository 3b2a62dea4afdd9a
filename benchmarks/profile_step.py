"""Where the time of one jlic train step goes: a `jax.profiler` trace of the compiled step, per layer and op.

    pip install -e ".[profile]"        # xprof, to read the trace
    python -m benchmarks.profile_step                          # bmshj2018-hyperprior q3, batch 8, 256x256
    python -m benchmarks.profile_step --model mbt2018 --top 30 --compressai
    python -m benchmarks.profile_step --vmap 4                 # the step of 4 vmapped λ models

The step is the one `benchmarks.train_step` times (`jlic.train.step.make_train_step`, one jitted program).
After two warm-up steps, `--steps` steps run under `jax.profiler.trace`; xprof turns the trace into events,
one per executed HLO op, and each op is named after the jax operation it came from (its `op_name` metadata in
the compiled HLO): the flax module path (`g_a/layer_2`), forward or backward (`transpose(jvp(...))`), and the
primitive. XLA:CPU runs independent ops concurrently, so per-op times overlap: the table gives each group's
summed op time and the step's busy time (union of op intervals); their quotient is the mean concurrency.

Caveat: XLA:CPU runs plain `dot` thunks (the kernel-gradient matrix products of `jlic.ops.conv`) asynchronously
on its Eigen pool, and the trace times only their dispatch (~0.2 ms): their work is charged to whatever op
runs at the same time (mostly the next convolution). Compare layers by their summed fwd+bwd time, not by
primitive; `python -m benchmarks.train_step --breakdown MODEL` times isolated ops instead.

With `--compressai` (the `peers` extra), the same CompressAI step runs under `torch.profiler` and its top
ATen ops by self CPU time are printed next to it. A JSON record is appended to
`benchmarks/results/profile_step-<date>.jsonl`.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import glob
import json
import os
import re
import tempfile
import time
from typing import Any

import numpy as np

from benchmarks.records import append_record
from benchmarks.train_step import compressai_step, jlic_step


def _op_names(hlo_text: str) -> dict[str, tuple[str, str]]:
    """HLO instruction name -> (the jax `op_name` metadata it carries, its shape), from the compiled text."""
    out = {}
    for m in re.finditer(r"^\s*(?:ROOT )?%([\w.\-]+) = (\S+) (.*)$", hlo_text, re.M):
        op_name = re.search(r'op_name="([^"]*)"', m.group(3))
        out[m.group(1)] = (op_name.group(1) if op_name else "", m.group(2))
    return out


def _group(op_name: str) -> tuple[str, str, str]:
    """`jit(step)/transpose(jvp(ScaleHyperprior))/g_s/layer_4/conv_general_dilated` -> (layer, pass, prim)."""
    parts = [p for p in op_name.split("/") if p]
    prim = parts[-1] if parts else "?"
    backward = any("transpose(" in p for p in parts)
    in_model = [p for p in parts[1:-1] if not re.match(r"^(jvp|transpose|jit|vmap|pjit|remat|checkpoint)\(", p)]
    layer = "/".join(in_model) or ("optimizer/loss" if parts else "?")
    return layer, ("bwd" if backward else "fwd") if in_model else "-", prim


def _trace_events(logdir: str) -> list[dict[str, Any]]:
    try:
        from xprof.convert import raw_to_tool_data
    except ImportError as e:  # pragma: no cover - depends on the extra
        raise SystemExit("profile_step reads the trace with xprof: pip install -e '.[profile]'") from e
    paths = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
    if not paths:
        raise SystemExit(f"no trace was written under {logdir}")
    data, _ = raw_to_tool_data.xspace_to_tool_data([paths[0]], "trace_viewer", {})
    return [e for e in json.loads(data)["traceEvents"] if e.get("ph") == "X" and "hlo_op" in e.get("args", {})]


def _busy_us(events: list[dict[str, Any]]) -> float:
    """Length of the union of the events' intervals (µs)."""
    busy, end = 0.0, -np.inf
    for e in sorted(events, key=lambda e: e["ts"]):
        s, t = e["ts"], e["ts"] + e["dur"]
        if t > end:
            busy += t - max(s, end)
            end = t
    return busy


def profile_jlic(args: argparse.Namespace) -> dict[str, Any]:
    import jax

    step, state, x, lmbda, keys = jlic_step(args, max(args.vmap, 1))
    compiled = jax.jit(step, donate_argnums=0).lower(state, x, lmbda, keys(0)).compile()
    names = _op_names(compiled.as_text())
    for i in range(2):
        state, _ = compiled(state, x, lmbda, keys(i))
    jax.block_until_ready(state)
    with tempfile.TemporaryDirectory() as logdir:
        with jax.profiler.trace(logdir):
            t0 = time.perf_counter()
            for i in range(args.steps):
                state, _ = compiled(state, x, lmbda, keys(100 + i))
                jax.block_until_ready(state)
        wall = (time.perf_counter() - t0) / args.steps
        events = [e for e in _trace_events(logdir) if e["args"].get("hlo_module", "").endswith("step")]

    by_group: dict[tuple[str, str, str], float] = collections.defaultdict(float)
    by_layer: dict[tuple[str, str], float] = collections.defaultdict(float)
    by_prim: dict[str, float] = collections.defaultdict(float)
    by_op: dict[str, float] = collections.defaultdict(float)
    for e in events:
        layer, pas, prim = _group(names.get(e["args"]["hlo_op"], ("", ""))[0])
        ms = e["dur"] / 1e3 / args.steps
        by_op[e["args"]["hlo_op"]] += ms
        by_group[layer, pas, prim] += ms
        by_layer[layer, pas] += ms
        by_prim[prim] += ms
    total = sum(by_group.values())
    busy = _busy_us(events) / 1e3 / args.steps
    span = (max(e["ts"] + e["dur"] for e in events) - min(e["ts"] for e in events)) / 1e3 / args.steps
    top = lambda d, n: sorted(d.items(), key=lambda kv: -kv[1])[:n]
    what = f"{args.vmap} vmapped λ models" if args.vmap > 1 else "one model"
    print(f"jlic {args.model} q{args.quality} ({what}), batch {args.batch}x{args.size}², {args.steps} traced "
          f"steps: {wall * 1e3:.0f} ms/step wall (traced), first op to last {span:.0f} ms/step, "
          f"ops busy {busy:.0f} ms/step, "
          f"summed op time {total:.0f} ms/step (mean concurrency {total / max(busy, 1e-9):.2f})")
    print("  by layer and pass (summed op ms/step, share of summed):")
    for (layer, pas), ms in top(by_layer, args.top):
        print(f"    {ms:8.1f}  {100 * ms / total:5.1f}%  {pas:3s} {layer}")
    print("  by primitive:")
    for prim, ms in top(by_prim, 12):
        print(f"    {ms:8.1f}  {100 * ms / total:5.1f}%  {prim}")
    print("  by layer, pass and primitive:")
    for (layer, pas, prim), ms in top(by_group, args.top):
        print(f"    {ms:8.1f}  {100 * ms / total:5.1f}%  {pas:3s} {layer:28s} {prim}")
    if args.ops:
        print("  single HLO ops (name, shape, jax op_name):")
        ops = {k: v for k, v in by_op.items() if args.match in names.get(k, ("", ""))[0]}
        for op, ms in top(ops, args.ops):
            op_name, shape = names.get(op, ("", "?"))
            print(f"    {ms:8.1f}  {op:28s} {shape:28s} {op_name[-90:]}")
    return {
        "wall_ms_per_step": wall * 1e3, "span_ms_per_step": span, "busy_ms_per_step": busy,
        "summed_op_ms_per_step": total,
        "by_layer": {f"{p} {layer}": ms for (layer, p), ms in top(by_layer, 200)},
        "by_primitive": dict(top(by_prim, 200)), "jax": jax.__version__,
    }


def profile_compressai(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    step = compressai_step(args)
    step()
    t0 = time.perf_counter()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(args.steps):
            step()
    wall = (time.perf_counter() - t0) / args.steps
    rows = sorted(prof.key_averages(), key=lambda r: -r.self_cpu_time_total)[:args.top]
    print(f"CompressAI {args.model}: {wall * 1e3:.0f} ms/step wall (profiled); top ATen ops by self CPU time:")
    out = {}
    for r in rows:
        ms = r.self_cpu_time_total / 1e3 / args.steps
        out[r.key] = ms
        print(f"    {ms:8.1f}  {r.key}")
    return {"wall_ms_per_step": wall * 1e3, "top_self_ms_per_step": out, "torch": torch.__version__}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="bmshj2018-hyperprior")
    p.add_argument("--quality", type=int, default=3)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--lmbda", type=float, default=0.0067)
    p.add_argument("--steps", type=int, default=2, help="traced steps (after two warm-up steps)")
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--ops", type=int, default=0, help="also list this many single HLO ops")
    p.add_argument("--match", default="", help="list only ops whose jax op_name contains this")
    p.add_argument("--vmap", type=int, default=0, help="profile the step of this many vmapped λ models")
    p.add_argument("--compressai", action="store_true", help="also profile CompressAI's step (torch.profiler)")
    args = p.parse_args(argv)
    record: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.profile_step " + " ".join(argv if argv is not None else []),
        "model": args.model, "quality": args.quality, "batch": args.batch, "size": args.size, "vmap": args.vmap,
        "steps": args.steps, "cpu_count": os.cpu_count(), "jlic": profile_jlic(args)}
    if args.compressai:
        record["compressai"] = profile_compressai(args)
    record["loadavg_at_end"] = os.getloadavg()
    path = append_record("profile_step", record)
    print(f"appended to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
