"""Equal compute: one variable-rate model (4·T steps) vs four fixed-λ models (T steps each), BD-rate on Kodak.

Both workdirs come from `python -m experiments.sweep` with the same architecture, data, batch and λ list:

    T=750; L="(0.0001,0.0003,0.001,0.003)"; COMMON="--config.lambdas=$L \\
      --config.data.train=folder:../shared/data/bsds200 --config.eval.data=folder:../shared/data/kodak \\
      --config.eval.limit=6 --config.eval.live_codecs=() --config.log_every=50 --config.checkpoint_every=250"
    nice -n 10 python -m experiments.sweep --config experiments/configs/variable_rate.py --workdir runs/vr \\
      --config.num_steps=$((4*T)) $COMMON
    nice -n 10 python -m experiments.sweep --config experiments/configs/default.py --workdir runs/fixed \\
      --config.sweep_mode=vmap --config.num_steps=$T $COMMON
    python -m benchmarks.variable_rate runs/vr runs/fixed

Prints the BD-rate (and BD-PSNR) of the variable-rate curve against the fixed-λ curve, for all its points
(trained and interpolated levels) and for its trained levels only (jlic.metrics.bdrate, pchip with fewer than
four points per curve, else cubic), and appends a record to `benchmarks/results/variable_rate-<date>.jsonl`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from benchmarks.records import append_record, cpu_name
from jlic.evaluation import rdcurve
from jlic.metrics.bdrate import bd_psnr, bd_rate


def _bd(test: rdcurve.RDCurve, anchor: rdcurve.RDCurve) -> dict[str, float]:
    method = "cubic" if min(len(test), len(anchor)) >= 4 else "pchip"
    args = (anchor.bpp, anchor.quality_db("psnr"), test.bpp, test.quality_db("psnr"))
    return {"bd_rate_pct": float(bd_rate(*args, method=method)),
            "bd_psnr_db": float(bd_psnr(*args, method=method)), "method": method}


def trained_levels(curve: rdcurve.RDCurve) -> rdcurve.RDCurve:
    """The points of a variable-rate curve at integer levels."""
    keep = [i for i, lv in enumerate(curve.results["level"]) if float(lv) == int(lv)]
    return rdcurve.RDCurve(curve.name, {k: [v[i] for i in keep] for k, v in curve.results.items()})


def compare(vr_dir: Path, fixed_dir: Path) -> dict:
    vr, fixed = rdcurve.load(vr_dir / "rd.json"), rdcurve.load(fixed_dir / "rd.json")
    cfg_vr = json.loads((vr_dir / "config.json").read_text())
    cfg_fx = json.loads((fixed_dir / "config.json").read_text())
    points = {}
    for name, c in (("variable_rate", vr), ("fixed", fixed)):
        keys = [k for k in ("lambda", "level", "bpp", "psnr-rgb") if k in c.results]
        points[name] = [{k: c.results[k][i] for k in keys} for i in range(len(c))]
    return {"cpu": cpu_name(), "machine": "2 cores shared with 5 other helpers (loaded)",
            "T": int(cfg_fx["num_steps"]), "vr_steps": int(cfg_vr["num_steps"]), "batch": cfg_vr["batch_size"],
            "crop": cfg_vr["crop"], "model": cfg_vr["model"], "model_kwargs": cfg_vr["model_kwargs"],
            "train": cfg_vr["data"]["train"], "eval": cfg_vr["eval"]["data"],
            "eval_limit": cfg_vr["eval"]["limit"],
            "all_points": _bd(vr, fixed), "trained_levels": _bd(trained_levels(vr), fixed), "points": points}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("vr", type=Path, help="workdir of the variable_rate sweep")
    p.add_argument("fixed", type=Path, help="workdir of the fixed-λ sweep")
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args(argv)
    rec = compare(args.vr, args.fixed)
    for name, pts in rec["points"].items():
        print(name)
        for q in sorted(pts, key=lambda q: q["bpp"]):
            print("  " + "  ".join(f"{k} {v:.4g}" for k, v in q.items()))
    for key in ("all_points", "trained_levels"):
        r = rec[key]
        print(f"BD-rate of the variable-rate curve ({key}) vs fixed-λ: {r['bd_rate_pct']:+.2f}% "
              f"(BD-PSNR {r['bd_psnr_db']:+.3f} dB, {r['method']})")
    if not args.no_record:
        print(append_record("variable_rate", rec, default=lambda x: np.asarray(x).tolist()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
