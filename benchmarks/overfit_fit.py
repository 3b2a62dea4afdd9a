"""Seconds per fit iteration of the overfitted codecs on a full Kodak image, against the FLOP bound and against
Cool-chic 5.0.1 run from its own source on the same CPU, in one run.

    python -m benchmarks.overfit_fit                                   # coolchic preset, kodim01, 20 iterations
    python -m benchmarks.overfit_fit --presets coolchic,coolchic-hop,coolchic-vlop,c3 --reference
    benchmarks/coolchic_env.sh ../venv-coolchic ../coolchic-src        # once: Cool-chic 5.0.1 + CPU torch
    python -m benchmarks.overfit_fit --coolchic ../venv-coolchic ../coolchic-src --coolchic-iterations 20

jlic: one compiled fit step (`jlic.overfit.fit.make_step`, soft-rounding phase, the one that runs 90% of a fit)
after one untimed call, then `--iterations` steps; process CPU seconds and wall seconds per iteration.
`--reference` times the same step with the reference decoder (`coolchic.decode_image` / `rate_bits`, XLA's own
transposes: the fit before the training form) in the same process.

The bound: a fit iteration is the decoder's forward plus its backward, about 3x the forward's
`2 x MAC/pixel x pixels` FLOP (`coolchic.macs_per_pixel`), at `--gflops-per-core` (50: about what this 2-core
EPYC sustains per core in jlic's own conv train step, issue 30): CPU seconds = FLOP / 50e9. Printed: the bound,
the achieved GFLOP/s per CPU-second, and the ratio (CPU time / bound).

Cool-chic: `benchmarks/coolchic_peer.py` inside the Cool-chic venv times its `train` (warm-up skipped) for
`--coolchic-iterations` on the same image with `--coolchic-cfg` (default its `mop` decoder: synthesis
16-1-linear-relu, 3-1-linear, 3-3-residual-relu, 3-3-residual, like jlic's `coolchic` preset, plus its ARM
10,2 with inter-feature context and hyperlatents: it reports its own MAC/pixel, recorded). Its CPU seconds per
iteration include one validation pass at the end of the phase.
A JSON record is appended to `benchmarks/results/overfit_fit-<date>.jsonl`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.records import append_record, cpu_name
from jlic.data.image import read_image
from jlic.models import coolchic
from jlic.overfit import fit

KODIM01 = "../shared/data/kodak/kodim01.png"


def time_fit_step(image: np.ndarray, preset: str, iterations: int, reference: bool = False) -> dict[str, Any]:
    """CPU and wall seconds per soft-phase fit step of `preset` on `image` (after one untimed call)."""
    cfg = coolchic.get_config(preset)
    fc = fit.FitConfig(**fit.PRESET_FIT.get(preset, {}))
    h, w = image.shape[:2]
    x = jnp.asarray(image, jnp.float32) / 255.0
    key = jax.random.key(0)
    params = coolchic.init_params(key, cfg, h, w)
    if reference:
        orig = (coolchic.decode_image_train, coolchic.rate_bits_train)
        coolchic.decode_image_train, coolchic.rate_bits_train = coolchic.decode_image, coolchic.rate_bits
        fit.make_step.cache_clear()
    try:
        opt, step = fit.make_step(cfg, fc, "soft")
        state = opt.init(params)
        c0 = time.process_time()
        params, state, m = step(params, state, x, jnp.float32(1e-3), key, jnp.float32(0.0), jnp.float32(fc.lr))
        jax.block_until_ready(params)
        first = time.process_time() - c0
        c0, t0 = time.process_time(), time.perf_counter()
        for i in range(iterations):
            params, state, m = step(params, state, x, jnp.float32(1e-3), jax.random.fold_in(key, i),
                                    jnp.float32(i / iterations), jnp.float32(fc.lr))
        jax.block_until_ready(params)
        cpu, wall = (time.process_time() - c0) / iterations, (time.perf_counter() - t0) / iterations
    finally:
        if reference:
            coolchic.decode_image_train, coolchic.rate_bits_train = orig
            fit.make_step.cache_clear()
    return {"preset": preset, "form": "reference" if reference else "training", "iterations": iterations,
            "cpu_s_per_it": cpu, "wall_s_per_it": wall, "compile_and_first_cpu_s": first,
            "final_loss": float(m["loss"])}


def rd_check(image: np.ndarray, size: int, iterations: int, lmbda: float = 0.0067) -> list[dict[str, Any]]:
    """Fit + quantize + encode + decode a centre crop with the training form and with the reference form
    (same seed, same schedule): real bytes and PSNR of each, to show the form leaves RD unchanged."""
    from jlic.overfit import sweep

    crop = sweep.center_crop(image, size)
    out = []
    for ref in (False, True):
        orig = (coolchic.decode_image_train, coolchic.rate_bits_train)
        if ref:
            coolchic.decode_image_train, coolchic.rate_bits_train = coolchic.decode_image, coolchic.rate_bits
        fit.make_step.cache_clear()
        try:
            data, rec = sweep.code_image(crop, lmbda, "coolchic", coolchic.get_config("coolchic"),
                                         fit.FitConfig(iterations=iterations))
        finally:
            coolchic.decode_image_train, coolchic.rate_bits_train = orig
            fit.make_step.cache_clear()
        m = sweep.measure_decode(data, crop)
        out.append({"form": "reference" if ref else "training", "size": list(crop.shape[:2]),
                    "iterations": iterations, "lambda": lmbda, "bytes": len(data), "bpp": rec["bpp"],
                    "psnr": m.get("psnr-rgb"), "ms_ssim": m.get("ms-ssim-rgb"),
                    "fit_seconds": rec["fit_seconds"],
                    "encoding_cpu_seconds": rec["encoding_cpu_seconds"]})
        print(f"rd check {out[-1]['form']:9s}: {crop.shape[1]}x{crop.shape[0]} crop, {iterations} iterations: "
              f"{len(data)} bytes, {rec['bpp']:.4f} bpp, {m.get('psnr-rgb', float('nan')):.3f} dB")
    return out


def coolchic_peer(venv: str, src: str, image: str, iterations: int, cfg: str, lmbda: float) -> dict[str, Any]:
    """Run `benchmarks/coolchic_peer.py` in Cool-chic's venv; its JSON line."""
    work = Path("runs/coolchic_peer")
    work.mkdir(parents=True, exist_ok=True)
    driver = str(Path(__file__).with_name("coolchic_peer.py"))
    cmd = [os.path.join(venv, "bin", "python"), driver, src, os.path.abspath(image), str(iterations), cfg,
           str(lmbda), str(work.resolve())]
    out = subprocess.run(cmd,
                         cwd=src, capture_output=True, text=True, check=False)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("COOLCHIC_PEER ")]
    if out.returncode or not lines:
        raise RuntimeError(f"Cool-chic peer failed ({out.returncode}): {out.stderr[-2000:]}")
    rec = json.loads(lines[-1].split(" ", 1)[1])
    its = sum(p["iterations"] for p in rec["phases"])
    rec.update(cfg=cfg, iterations=its, cpu_s_per_it=sum(p["cpu_s"] for p in rec["phases"]) / its,
               wall_s_per_it=sum(p["wall_s"] for p in rec["phases"]) / its)
    return rec


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--image", default=KODIM01)
    p.add_argument("--presets", default="coolchic")
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--reference", action="store_true", help="also time the reference (pre training-form) step")
    p.add_argument("--gflops-per-core", type=float, default=50.0)
    p.add_argument("--coolchic", nargs=2,
                   metavar=("VENV", "SRC"), help="also run Cool-chic 5 (coolchic_env.sh)")
    p.add_argument("--coolchic-iterations", type=int, default=20)
    p.add_argument("--coolchic-cfg", default="cfg/dec/intra/mop.cfg")
    p.add_argument("--rd-check", nargs=2, type=int, metavar=("SIZE", "ITERATIONS"),
                   help="also fit a SIZE² centre crop for ITERATIONS with both forms: bytes and PSNR")
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args(argv)
    image = np.asarray(read_image(args.image))
    h, w = image.shape[:2]
    load0 = os.getloadavg()
    rows: list[dict[str, Any]] = []
    rd = rd_check(image, *args.rd_check) if args.rd_check else None
    for preset in (args.presets.split(",") if args.presets else []):
        macs = coolchic.macs_per_pixel(coolchic.get_config(preset), h, w)["total"]
        flop = 3 * 2 * macs * h * w
        bound = flop / (args.gflops_per_core * 1e9)
        for ref in ([False, True] if args.reference else [False]):
            r = time_fit_step(image, preset, args.iterations, ref)
            r.update(mac_per_pixel=macs, flop_per_it=flop, bound_cpu_s_per_it=bound,
                     achieved_gflops_per_cpu_s=flop / r["cpu_s_per_it"] / 1e9,
                     ratio_to_bound=r["cpu_s_per_it"] / bound)
            rows.append(r)
            print(f"jlic {preset:14s} {r['form']:9s}: {r['cpu_s_per_it'] * 1e3:6.0f} CPU-ms/it "
                  f"({r['wall_s_per_it'] * 1e3:.0f} wall-ms), bound {bound * 1e3:.0f} CPU-ms "
                  f"({macs:.0f} MAC/px), {r['achieved_gflops_per_cpu_s']:.1f} GFLOP/CPU-s, "
                  f"{r['ratio_to_bound']:.1f}x the bound")
    peer = None
    if args.coolchic:
        peer = coolchic_peer(*args.coolchic, args.image, args.coolchic_iterations, args.coolchic_cfg, 1e-3)
        print(f"Cool-chic 5 ({args.coolchic_cfg}, {peer.get('mac_per_pixel', 0):.0f} MAC/px, torch "
              f"{peer['torch']}, {peer['threads']} threads): {peer['cpu_s_per_it'] * 1e3:.0f} CPU-ms/it "
              f"({peer['wall_s_per_it'] * 1e3:.0f} wall-ms) over {peer['iterations']} iterations")
        for r in rows:
            if r["form"] == "training":
                r["cpu_vs_coolchic"] = r["cpu_s_per_it"] / peer["cpu_s_per_it"]
                print(f"  jlic {r['preset']} / Cool-chic, CPU per iteration: {r['cpu_vs_coolchic']:.3f}")
    if not args.no_record:
        path = append_record("overfit_fit", {
            "benchmark": "overfit fit iteration", "image": args.image, "shape": [h, w], "cpu": cpu_name(),
            "cores": os.cpu_count(), "load_avg_before": load0, "load_avg_after": os.getloadavg(),
            "gflops_per_core": args.gflops_per_core, "command": "python -m benchmarks.overfit_fit " + " ".join(
                sys.argv[1:] if argv is None else argv), "note": "machine shared with other jobs (load above)",
            "jlic": rows, "coolchic": peer, "rd_check": rd})
        print(f"record: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
