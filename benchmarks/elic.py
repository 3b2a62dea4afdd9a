"""ELIC (He et al. 2022, arXiv 2203.10886) compress/decompress seconds per Kodak image: jlic vs CompressAI;
``--model mlic|mlic-plus|mlicpp``: the MLIC family (arXiv 2211.07273, 2307.15421) of CompressAI's
development line (1.2.9.dev0, `compressai.models.mlic`), run from an environment that has it; ``--model
tcm|dcae`` (arXiv 2303.14978, 2504.00496) likewise (`.venv-ctemp/bin/python`, scripts/install_peers_dev.sh).

Run: ``nice -n 10 python -m benchmarks.elic [--model elic2022] [--images kodim01.png,kodim07.png]
[--repeats 2] [--no-record]``

* The same weights on both sides: CompressAI's ``Elic2022Official()`` (N=192, M=320; or the MLIC class at
  its default size), its random init, seed 0, ``update(force=True)``, imported into jlic with
  ``jlic.interop.compressai.import_compressai``; jlic
  codes with CompressAI's own integer CDF tables (so both code the same symbols with the same
  probabilities). Full 768x512 Kodak images (no padding needed).
* jlic and CompressAI run alternately, image by image and repeat by repeat, in one process, so a load
  change on a shared machine hits both. jlic's first calls (which compile the jitted steps) are reported
  separately; steady-state figures are the minimum over ``--repeats``.
* Reported: wall and process-CPU seconds (all threads), bytes of both, whether jlic's decoded latents equal
  the encoded ones, the largest pixel difference between the two decoded images, and the ratios jlic /
  CompressAI (goal: decode <= 0.5). A JSON record is appended to ``benchmarks/results/elic-<date>.jsonl``
  (``<model>_coding-<date>.jsonl`` for the others).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np
from PIL import Image

from benchmarks.records import append_record

KODAK = Path(__file__).parents[1] / ".." / "shared" / "data" / "kodak"


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, process CPU seconds, result) of one call."""
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w, time.process_time() - c, out


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        return platform.processor() or "unknown"


def build(name: str = "elic2022", seed: int = 0):
    """CompressAI's model `name` at its default size (random init, tables updated) and its jlic import."""
    import importlib

    import torch

    from jlic.interop.compressai import COMPRESSAI_CLASSES, import_compressai

    module, _, cls_name = ("sensetime.Elic2022Official" if name == "elic2022"
                           else COMPRESSAI_CLASSES[name]).rpartition(".")
    torch.manual_seed(seed)
    net = getattr(importlib.import_module(f"compressai.models.{module}"), cls_name)().eval()
    net.update(force=True)
    return net, import_compressai(name, net)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="elic2022",
                   choices=("elic2022", "mlic", "mlic-plus", "mlicpp", "stf", "stf-wacnn", "tcm", "dcae"))
    p.add_argument("--images", default="kodim01.png,kodim07.png", help="Kodak file names (comma-separated)")
    p.add_argument("--kodak", type=Path, default=KODAK)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args(argv)

    import torch

    from jlic.codec.codec import Codec

    net, imp = build(args.model)
    codec = Codec(imp.model, imp.params, imp.tables)
    names = [n for n in args.images.split(",") if n]
    images = {n: np.asarray(Image.open(args.kodak / n).convert("RGB")) for n in names}
    load_before = os.getloadavg()
    print(f"{args.model} {dict(imp.model.kwargs)}, {cpu_name()}, {os.cpu_count()} CPUs, load {load_before}, "
          f"jax {jax.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads)", flush=True)

    first = {}
    w, _, (data, latents) = timed(lambda: codec.compress_with_latents(images[names[0]]))
    first["encode_s"] = w
    w, _, _ = timed(lambda: codec.decompress(data))
    first["decode_s"] = w
    print(f"jlic first calls (compile included): encode {first['encode_s']:.1f} s, "
          f"decode {first['decode_s']:.1f} s", flush=True)

    per_image: dict[str, Any] = {}
    for name, image in images.items():
        x = torch.from_numpy(image.astype(np.float32) / 255).permute(2, 0, 1)[None]
        runs: dict[str, list[tuple[float, float]]] = {k: [] for k in ("jlic_enc", "jlic_dec", "cai_enc",
                                                                      "cai_dec")}
        for _ in range(args.repeats):
            w, c, (data, latents) = timed(lambda image=image: codec.compress_with_latents(image))
            runs["jlic_enc"].append((w, c))
            w, c, decoded = timed(lambda data=data: codec.decompress(data))
            runs["jlic_dec"].append((w, c))
            with torch.no_grad():
                w, c, coded = timed(lambda x=x: net.compress(x))
                runs["cai_enc"].append((w, c))
                w, c, ref = timed(lambda coded=coded: net.decompress(coded["strings"], coded["shape"]))
                runs["cai_dec"].append((w, c))
        _, lat = codec.decompress_latents(data)
        exact = all(np.array_equal(lat[k], latents[k]) for k in ("y", "z", "y_hat"))
        ref_img = np.round(np.clip(ref["x_hat"][0].numpy().transpose(1, 2, 0), 0, 1) * 255).astype(np.int16)
        best = {k: (min(r[0] for r in v), min(r[1] for r in v)) for k, v in runs.items()}
        rec = {
            "jlic": {"bytes": len(data), "encode_s": best["jlic_enc"][0], "decode_s": best["jlic_dec"][0],
                     "encode_cpu_s": best["jlic_enc"][1], "decode_cpu_s": best["jlic_dec"][1],
                     "exact_latents": exact},
            "compressai": {"bytes": sum(len(s[0]) for s in coded["strings"]), "encode_s": best["cai_enc"][0],
                           "decode_s": best["cai_dec"][0], "encode_cpu_s": best["cai_enc"][1],
                           "decode_cpu_s": best["cai_dec"][1]},
            "max_pixel_diff": int(np.abs(decoded.astype(np.int16) - ref_img).max()),
            "all_runs_s": {k: [r[0] for r in v] for k, v in runs.items()},
        }
        j, c = rec["jlic"], rec["compressai"]
        rec["ratios"] = {"decode_wall": j["decode_s"] / c["decode_s"],
                         "encode_wall": j["encode_s"] / c["encode_s"],
                         "decode_cpu": j["decode_cpu_s"] / c["decode_cpu_s"],
                         "encode_cpu": j["encode_cpu_s"] / c["encode_cpu_s"]}
        per_image[name] = rec
        print(f"{name}: jlic encode {j['encode_s']:.2f} s decode {j['decode_s']:.2f} s ({j['bytes']} B, exact="
              f"{exact}) | CompressAI encode {c['encode_s']:.2f} s decode {c['decode_s']:.2f} s "
              f"({c['bytes']} B) | "
              f"jlic/CompressAI decode {rec['ratios']['decode_wall']:.2f}x wall, "
              f"{rec['ratios']['decode_cpu']:.2f}x cpu; encode {rec['ratios']['encode_wall']:.2f}x wall; "
              f"max pixel diff {rec['max_pixel_diff']}", flush=True)

    mean = {k: float(np.mean([r["ratios"][k] for r in per_image.values()]))
            for k in ("decode_wall", "encode_wall", "decode_cpu", "encode_cpu")}
    print(f"mean ratio jlic/CompressAI: decode {mean['decode_wall']:.2f}x (wall), "
          f"{mean['decode_cpu']:.2f}x (cpu); "
          f"encode {mean['encode_wall']:.2f}x (wall), {mean['encode_cpu']:.2f}x (cpu); goal decode <= 0.5x",
          flush=True)
    if not args.no_record:
        bench = "elic" if args.model == "elic2022" else f"{args.model.replace('-', '_')}_coding"
        rec = {"benchmark": bench, "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
               "cpu": cpu_name(), "cpus": os.cpu_count(), "load_avg_before": load_before,
               "load_avg_after": os.getloadavg(),
               "note": "shared machine under load (other jobs running); jlic and CompressAI alternate",
               "model": f"{args.model} {dict(imp.model.kwargs)} (CompressAI's class, random init, imported)",
               "tables": "CompressAI's (imported)", "repeats": args.repeats,
               "torch_threads": torch.get_num_threads(),
               "jax": jax.__version__, "torch": torch.__version__, "jlic_first_call_s": first,
               "images": per_image, "mean_ratios": mean}
        print(f"appended to {append_record(bench, rec)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
