"""Equal CPU budget: train several architectures for the same CPU seconds on the same data, then code Kodak.

Issue 15's comparison of mbt2018-mean, ELIC (arXiv 2203.10886), MLIC++ (arXiv 2307.15421) and Entroformer
(arXiv 2202.05492) at CPU sizes. Each model runs in its own process (so its CPU clock and memory are its own):

    for m in mbt2018-mean elic2022 mlicpp entroformer tcm dcae; do
      nice -n 10 python -m benchmarks.budget --model $m --cpu-seconds 900 --workdir runs/budget
    done
    python -m benchmarks.budget --summary runs/budget

One process: build the model at its CPU size (`SIZES`, the CPU configs' widths; latents M=40 for all but
Entroformer, whose CPU config is narrower, see `SIZES`), `model.init`, compile the train step (both timed and
*not* charged to the budget), then train on random crops of `--data` with the same batch, crop, λ, optimizer
and seed until the process has spent `--cpu-seconds` of CPU time (`time.process_time`, all threads, so it is
fair under a shared machine's load) in training steps and data loading. Then it exports the params and
evaluates every image of `--eval` with real bytes (`jlic.evaluation.report.evaluate_model`: compress, decode,
bpp from the file size, PSNR of the decoded 8-bit image) beside the estimate (`-Σ log2 p`, and the float
forward pass's PSNR). Appends one record per model to `benchmarks/results/budget-<date>.jsonl`.

What such a budget shows: which architecture learns fastest per CPU second at the very start of training on
a CPU (and the coding cost of each). What it cannot show: their ranking when trained to convergence, which
is what the papers report — 2000-6000 steps at batch 4 x 128² is ~0.01% of MLIC++'s training signal
(`../shared/reference/cpu-training-facts.md`), and larger context models are the slowest to start.

Measured 2026-12-01 (900 CPU-s each, λ 0.0067, 2-core AMD EPYC; `--summary`; records marked "run"):
run 2, the four models at the same time (load 3-10): mbt2018-mean 5505 steps, 0.292 bpp / 25.99 dB (+0.14 dB
over JPEG); elic2022 1988 steps, 0.236 bpp / 24.39 dB (+0.05); entroformer 4736 steps, 0.282 bpp / 25.81 dB
(+0.19); mlicpp 1198 steps, 0.152 bpp / 22.92 dB (below JPEG's lowest anchor rate). Run 1 (one after the
other, load 1-10, before the step's guard fix): mbt2018-mean 6208 steps, 0.296 bpp / 26.51 dB (+0.54);
elic2022 2060, 0.231 / 24.62 (+0.46); entroformer 4849, 0.295 / 25.88 (-0.06). The same settings lost ~11 %
of their steps and 0.5 dB under load: CPU seconds under contention buy less, so compare within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from experiments.configs import dcae_cpu, elic2022_cpu, entroformer_cpu, hpcm_cpu, mlicpp_cpu, tcm_cpu

SIZES: dict[str, dict[str, Any]] = {
    "mbt2018-mean": {"N": 32, "M": 40},
    "elic2022": elic2022_cpu.CPU_MODEL,
    "mlicpp": mlicpp_cpu.CPU_MODEL,
    # entroformer_cpu.py's blocks at the others' N and M (its own config is narrower), top-k 16
    "entroformer": {**entroformer_cpu.MODEL_KWARGS, "N": 32, "M": 40, "dim": 40, "topk": 16},
    "hpcm-base": hpcm_cpu.CPU_MODEL,  # its images are padded to multiples of 256 (the 1/4 level's windows)
    # issue 29: TCM (its layout at the CPU config's widths; TCM-S is the same layout at N=64, M=320) and DCAE
    "tcm": tcm_cpu.CPU_MODEL,
    "dcae": dcae_cpu.CPU_MODEL,
}


def _train(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    import jax
    import jax.numpy as jnp

    from jlic.codec.export import save_model
    from jlic.data.pipeline import get_source, train_iterator
    from jlic.models import registry
    from jlic.train.state import create_train_state
    from jlic.train.step import make_train_step

    kwargs = SIZES[args.model]
    model = registry.get(args.model, 3, **kwargs)
    config = {"lr": args.lr, "aux_lr": 1e-3, "clip_norm": 1.0, "metric": "mse",
              "image_shape": (1, model.stride, model.stride, 3)}
    key = jax.random.PRNGKey(args.seed)
    t0, c0 = time.monotonic(), time.process_time()
    # eager: the same values as a jitted init, without minutes of XLA:CPU compile (not budgeted anyway)
    state = create_train_state(model, jax.random.fold_in(key, 0), config, jit=False)
    jax.block_until_ready(state)
    init_s = (time.monotonic() - t0, time.process_time() - c0)
    n_params = sum(int(np.size(v)) for v in jax.tree.leaves(state.params))

    step = jax.jit(make_train_step(model, config), donate_argnums=0)
    it = train_iterator(get_source(args.data), crop=args.crop, batch_size=args.batch, seed=args.seed)
    lmbda = jnp.float32(args.lmbda)
    t0, c0 = time.monotonic(), time.process_time()
    state, m = step(state, jnp.asarray(next(it)), lmbda, jax.random.fold_in(key, 1))
    jax.block_until_ready(m)
    compile_s = (time.monotonic() - t0, time.process_time() - c0)

    log, steps, spent, wall = [], 1, 0.0, 0.0
    window: list[dict[str, float]] = []
    while spent < args.cpu_seconds:
        t0, c0 = time.monotonic(), time.process_time()
        batch = jnp.asarray(next(it))
        state, m = step(state, batch, lmbda, jax.random.fold_in(key, steps + 1))
        m = {k: float(v) for k, v in jax.device_get(m).items()}
        spent += time.process_time() - c0
        wall += time.monotonic() - t0
        steps += 1
        if not m["finite"]:
            raise FloatingPointError(f"{args.model}: non-finite loss at step {steps}")
        window.append(m)
        if len(window) == 50:
            log.append({"step": steps, "cpu_s": round(spent, 1),
                        **{k: float(np.mean([w[k] for w in window])) for k in ("loss", "bpp", "psnr")}})
            print(json.dumps(log[-1]), flush=True)
            window = []
    export = save_model(out / "export", model, jax.device_get(state.params),
                        extra={"lambda": args.lmbda, "steps": steps})
    return {"model": args.model, "kwargs": kwargs, "params": n_params, "init_s": init_s,
            "compile_first_step_s": compile_s, "train_steps": steps, "train_cpu_s": spent,
            "train_wall_s": wall, "cpu_s_per_step": spent / max(1, steps - 1), "log": log,
            "export": str(export)}


def _evaluate(args: argparse.Namespace, record: dict[str, Any]) -> dict[str, Any]:
    import jax
    import jax.numpy as jnp

    from jlic.codec.export import load_model
    from jlic.data.image import to_float
    from jlic.data.pipeline import eval_images
    from jlic.evaluation.report import evaluate_model
    from jlic.train.step import make_eval_step

    model, params = load_model(record["export"])
    images = eval_images(args.eval, limit=args.eval_limit)
    fwd = jax.jit(make_eval_step(model))
    est = [jax.device_get(fwd(params, jnp.asarray(to_float(im))[None], args.lmbda)) for im in images]
    t0 = time.monotonic()
    real = evaluate_model(model, params, images)
    return {"eval": args.eval, "eval_images": len(images), "eval_wall_s": time.monotonic() - t0,
            "forward_bpp": float(np.mean([e["bpp"] for e in est])),
            "forward_psnr": float(np.mean([e["psnr"] for e in est])),
            **{f"real_{k}": v for k, v in real.items()}}


ANCHORS = Path(__file__).parent / "results" / "kodak-baselines"


def psnr_over(anchor: str, bpp: float, psnr: float) -> float | None:
    """PSNR minus the `anchor` codec's (`results/kodak-baselines/<anchor>.json`, all 24 Kodak images) at the
    same bpp, interpolated linearly in log-bpp; None outside the anchor's measured range."""
    from jlic.evaluation import rdcurve

    curve = rdcurve.load(ANCHORS / f"{anchor}.json")
    order = np.argsort(curve.bpp)
    rates, quality = np.log(np.asarray(curve.bpp)[order]), np.asarray(curve.quality_db("psnr"))[order]
    if not rates[0] <= np.log(bpp) <= rates[-1]:
        return None
    return float(psnr - np.interp(np.log(bpp), rates, quality))


def _summary(workdir: Path) -> None:
    rows = [json.loads(p.read_text()) for p in sorted(workdir.glob("*/record.json"))]
    head = ("model", "params", "steps", "cpu s/step", "compile s", "est bpp", "real bpp", "PSNR", "fwd PSNR",
            "vs JPEG dB", "vs WebP dB", "enc s", "dec s")
    print(" | ".join(head))
    for r in rows:
        over = [psnr_over(a, r["real_bpp"], r["real_psnr-rgb"]) for a in ("jpeg", "webp")]
        print(" | ".join(str(x) for x in (
            r["model"], f"{r['params'] / 1e6:.3f} M", r["train_steps"], f"{r['cpu_s_per_step']:.2f}",
            f"{r['compile_first_step_s'][0]:.0f}", f"{r['real_bpp-estimated']:.3f}", f"{r['real_bpp']:.3f}",
            f"{r['real_psnr-rgb']:.2f}", f"{r['forward_psnr']:.2f}",
            *("-" if o is None else f"{o:+.2f}" for o in over), f"{r['real_encoding_time']:.2f}",
            f"{r['real_decoding_time']:.2f}")))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=sorted(SIZES))
    p.add_argument("--cpu-seconds", type=float, default=900.0)
    p.add_argument("--lmbda", type=float, default=0.0067)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default="folder:../shared/data/bsds200")
    p.add_argument("--eval", default="folder:../shared/data/kodak")
    p.add_argument("--eval-limit", type=int, default=None)
    p.add_argument("--workdir", default="runs/budget")
    p.add_argument("--summary", metavar="WORKDIR", help="print the table of a finished workdir and exit")
    args = p.parse_args(argv)
    if args.summary:
        _summary(Path(args.summary))
        return 0
    if not args.model:
        p.error("--model is required (or --summary)")
    from benchmarks.records import append_record, cpu_name

    out = Path(args.workdir) / args.model
    out.mkdir(parents=True, exist_ok=True)
    record = {"cpu": cpu_name(), "cores": os.cpu_count(), "load_before": os.getloadavg(),
              "settings": {k: v for k, v in vars(args).items() if k != "summary"}}
    record.update(_train(args, out))
    record["load_after_train"] = os.getloadavg()
    record.update(_evaluate(args, record))
    (out / "record.json").write_text(json.dumps(record, indent=1))
    append_record("budget", record)
    print(json.dumps({k: v for k, v in record.items() if k != "log"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
