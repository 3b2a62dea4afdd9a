"""Wall time per train step per λ model: all λ vmapped in one program vs one model at a time.

    python -m benchmarks.sweep                                  # small hyperprior, 3 λ, batch 8x64²
    python -m benchmarks.sweep --model bmshj2018-hyperprior --N 128 --M 192 --lambdas 4 --batch 8 --crop 256

Both modes run the same compiled programs the runner uses (`jlic.train.loop.build_programs`) on the same
batch, after a warm-up; compile time is reported separately. Prints the ratio and appends a JSON record to
`benchmarks/results/sweep.jsonl`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments.configs import default
from jlic.train import loop


def _time_mode(cfg, model, n: int, stacked: bool, batch: np.ndarray, steps: int) -> dict[str, float]:
    progs = loop.build_programs(cfg, model, n if stacked else 1, stacked)
    x = jax.device_put(batch, progs.batch_shard)
    if stacked:
        lam, idx = jnp.asarray(np.geomspace(1e-3, 1e-1, n), jnp.float32), jnp.arange(n, dtype=jnp.int32)
    else:
        lam, idx = jnp.float32(1e-2), jnp.int32(0)
    t0 = time.perf_counter()
    state = jax.block_until_ready(progs.init(idx))
    step = progs.step.lower(state, x, jnp.int32(0), lam, idx).compile()
    compile_s = time.perf_counter() - t0
    state, m = step(state, x, jnp.int32(0), lam, idx)  # warm-up
    jax.block_until_ready(state)
    t0 = time.perf_counter()
    for s in range(1, steps + 1):
        state, m = step(state, x, jnp.int32(s), lam, idx)
    jax.block_until_ready((state, m))
    per_step = (time.perf_counter() - t0) / steps
    models = n if stacked else 1
    return {"compile_s": compile_s, "step_s": per_step, "step_s_per_model": per_step / models}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="bmshj2018-hyperprior")
    p.add_argument("--N", type=int, default=32)
    p.add_argument("--M", type=int, default=48)
    p.add_argument("--lambdas", type=int, default=3)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=64)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "sweep.jsonl"))
    args = p.parse_args(argv)

    cfg = default.get_config()
    cfg.model, cfg.model_kwargs = args.model, {"N": args.N, "M": args.M}
    cfg.batch_size, cfg.crop = args.batch, args.crop
    model = loop.build_model(cfg)
    batch = np.random.default_rng(0).random((args.batch, args.crop, args.crop, 3), dtype=np.float32)
    vmap = _time_mode(cfg, model, args.lambdas, True, batch, args.steps)
    seq = _time_mode(cfg, model, args.lambdas, False, batch, args.steps)
    record = {
        "benchmark": "sweep", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": args.model, "N": args.N, "M": args.M, "lambdas": args.lambdas, "batch": args.batch,
        "crop": args.crop, "steps": args.steps, "vmap": vmap, "sequential": seq,
        "speedup_per_model": seq["step_s_per_model"] / vmap["step_s_per_model"],
        "device": str(jax.devices()[0].device_kind), "num_devices": len(jax.devices()),
        "platform": platform.platform(), "cpu_count": os.cpu_count(), "load_avg": os.getloadavg()[0],
        "jax": jax.__version__,
    }
    print(f"{args.model} N={args.N} M={args.M}, {args.lambdas} λ, batch {args.batch}x{args.crop}²:")
    for name, r in (("vmap", vmap), ("sequential", seq)):
        print(f"  {name:<11} {r['step_s'] * 1e3:8.1f} ms/step, {r['step_s_per_model'] * 1e3:8.1f} ms/step/model"
              f" (compile {r['compile_s']:.1f} s)")
    print(f"  vmap speedup per λ model: {record['speedup_per_model']:.2f}x")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a") as f:
        f.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
