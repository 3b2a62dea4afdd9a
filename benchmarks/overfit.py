"""Decode time and decoder MAC/pixel of overfitted (Cool-chic) `.jlic` files on CPU.

Run: ``python -m benchmarks.overfit [FILES ...] [--repeats 3] [--no-record]``  (default files:
``runs/coolchic/lambda_*/*.jlic``, written by ``python -m experiments.sweep --config
experiments/configs/coolchic.py``).

For each file: one untimed decode (jit compilation of the synthesis for that image size), then ``--repeats``
timed decodes from the bytes; reported is the minimum wall time and its split into container + weights,
latents (one numba loop: context, integer ARM, rANS; `jlic.overfit.latent_coding`) and upsampling + synthesis
(jitted JAX, `coolchic.decode_image_inference`), with process CPU
seconds beside it, and the decoder's MAC/pixel (`jlic.models.coolchic.macs_per_pixel`). There is no peer: no
CompressAI / tensorflow-compression model is an overfitted codec. A JSON record is appended to
``benchmarks/results/overfit-<date>.jsonl``.
"""

from __future__ import annotations

import argparse
import glob
import os
import time
from pathlib import Path

import numpy as np

from benchmarks.records import append_record, cpu_name
from jlic.models import coolchic
from jlic.overfit import codec
from jlic.overfit import weights as W


def decode_parts(data: bytes) -> tuple[np.ndarray, dict[str, float]]:
    """Decode with a wall-clock and process-CPU split of the three stages."""
    c0, t0 = time.process_time(), time.perf_counter()
    box, config, exps, ints, arm, aexp = codec.decode_weights(data)
    h, w = box.height, box.width
    c1, t1 = time.process_time(), time.perf_counter()
    shapes = coolchic.grid_shapes(h, w, config.num_grids)
    latents = codec.decode_latents(box.streams[2], shapes, config, arm, aexp)
    c2, t2 = time.process_time(), time.perf_counter()
    img = codec.reconstruct(W.Quantized(config, h, w, latents, ints, exps))
    c3, t3 = time.process_time(), time.perf_counter()
    return img, {"header_weights_s": t1 - t0, "latents_s": t2 - t1, "synthesis_s": t3 - t2, "total_s": t3 - t0,
                 "header_weights_cpu_s": c1 - c0, "latents_cpu_s": c2 - c1, "synthesis_cpu_s": c3 - c2}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("files", nargs="*")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args(argv)
    files = args.files or sorted(glob.glob("runs/coolchic/lambda_*/*.jlic"))
    if not files:
        print("no .jlic files: run the coolchic sweep first or pass files")
        return 2
    rows = []
    for f in files:
        data = Path(f).read_bytes()
        ref = codec.decode(data)  # compile
        best, cpu = None, None
        for _ in range(args.repeats):
            c0 = time.process_time()
            img, parts = decode_parts(data)
            c1 = time.process_time()
            if not np.array_equal(img, ref):
                raise RuntimeError(f"{f}: decodes differ between runs")
            if best is None or parts["total_s"] < best["total_s"]:
                best, cpu = parts, c1 - c0
        box, config, _, _ = codec.read_header(data)
        macs = coolchic.macs_per_pixel(config, box.height, box.width)
        latents = sum(h * w for h, w in coolchic.grid_shapes(box.height, box.width, config.num_grids))
        row = {"file": f, "model": box.model_name, "shape": [box.height, box.width], "bytes": len(data),
               "bpp": len(data) * 8 / (box.height * box.width), **{k: round(v, 4) for k, v in best.items()},
               "cpu_s": round(cpu, 4), "latents": latents,
               "macs_per_pixel": {k: round(v, 1) for k, v in macs.items()}}
        rows.append(row)
        print(f"{f}: {row['bpp']:.3f} bpp, decode {best['total_s'] * 1e3:.0f} ms (latents "
              f"{best['latents_s'] * 1e3:.0f}, synthesis {best['synthesis_s'] * 1e3:.0f}, header+weights "
              f"{best['header_weights_s'] * 1e3:.0f}), CPU {cpu * 1e3:.0f} ms (latents "
              f"{best['latents_cpu_s'] * 1e3:.0f}, "
              f"synthesis {best['synthesis_cpu_s'] * 1e3:.0f}), {macs['total']:.0f} MAC/px, "
              f"{latents} latents decoded one by one")
    if not args.no_record:
        load = os.getloadavg()[0]
        path = append_record("overfit", {
            "benchmark": "overfit decode", "cpu": cpu_name(), "cores": os.cpu_count(), "load_avg_1min": load,
            "note": "machine shared with other jobs (load average above); min over repeats after one untimed "
                    "decode", "repeats": args.repeats, "files": rows})
        print(f"record: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
