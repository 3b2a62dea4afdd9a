"""Compress/decompress seconds per Kodak image for jlic's context models vs CompressAI's autoregressive models.

Run: ``python -m benchmarks.context_decode [--image PATH] [--quality 3] [--models a,b] [--repeats 1]
[--no-compressai] [--no-record] [--xla-single-thread]``  (``--repeats`` defaults to 2)

On one 768x512 Kodak image (``kodim01.png``), on CPU, in one run:

* jlic ``mbt2018`` (wavefront decoding, ``3*(H-1)+W`` steps), ``cheng2020-anchor``, ``cheng2020-attn``,
  ``he2021-checkerboard`` (2 passes) and ``minnen2020-channelwise`` (10 passes) at the published sizes of
  ``--quality``, with **random-init parameters** (timing only; the bits are not meaningful). The first call
  (which compiles) is reported separately from the steady-state time (minimum over ``--repeats``).
* CompressAI's ``mbt2018`` and ``cheng2020-anchor`` (``compressai.zoo.*(quality, pretrained=False)``,
  random init, ``.update()``, ``.compress`` / ``.decompress``: its per-pixel Python loop), skipped with a
  message when torch/compressai cannot be imported.
* Wall-clock seconds and process CPU seconds (all threads), and the decode speed-up ratios
  CompressAI / jlic on both clocks (the machine may be shared). A JSON record is appended to
  ``benchmarks/results/context_decode-<date>.jsonl``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np
from PIL import Image

from benchmarks.records import append_record
from jlic.codec import codec
from jlic.models import registry

DEFAULT_IMAGE = Path(__file__).parents[1] / ".." / "shared" / "data" / "kodak" / "kodim01.png"
JLIC_MODELS = ("mbt2018", "cheng2020-anchor", "cheng2020-attn", "he2021-checkerboard", "minnen2020-channelwise")
PEER_MODELS = ("mbt2018", "cheng2020-anchor")


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, process CPU seconds, result) of one call."""
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w, time.process_time() - c, out


def best(fn: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    runs = [timed(fn) for _ in range(repeats)]
    return min(r[0] for r in runs), min(r[1] for r in runs), runs[-1][2]


def bench_jlic(name: str, image: np.ndarray, quality: int, repeats: int) -> dict[str, Any]:
    model = registry.get(name, quality)
    params = jax.jit(model.init, static_argnums=1)(jax.random.PRNGKey(0), (1, 64, 64, 3))
    c = codec.Codec(model, params)
    enc_first, _, (data, latents) = timed(lambda: c.compress_with_latents(image))
    dec_first, _, _ = timed(lambda: c.decompress(data))  # compiles the step function(s) and g_s
    _, decoded = c.decompress_latents(data)
    exact = all(np.array_equal(decoded[k], latents[k]) for k in ("y", "z"))
    enc_w, enc_c, _ = best(lambda: c.compress(image), repeats)
    dec_w, dec_c, out = best(lambda: c.decompress(data), repeats)
    rec = {"kwargs": dict(model.kwargs), "bytes": len(data), "exact_latents": exact,
           "encode_first_s": enc_first, "decode_first_s": dec_first,
           "encode_s": enc_w, "decode_s": dec_w, "encode_cpu_s": enc_c, "decode_cpu_s": dec_c}
    print(f"jlic {name:24s} q{quality}: encode {enc_w:7.3f} s  decode {dec_w:7.3f} s  (cpu {enc_c:.2f}/"
          f"{dec_c:.2f} s; first calls incl. compile {enc_first:.1f}/{dec_first:.1f} s)  {len(data)} bytes  "
          f"exact={exact}", flush=True)
    del out
    return rec


def bench_compressai(name: str, image: np.ndarray, quality: int, repeats: int) -> dict[str, Any] | None:
    try:
        import torch
        from compressai import zoo
    except Exception as e:  # noqa: BLE001 - any import failure means "no peer"
        print(f"compressai unavailable ({type(e).__name__}: {e}); skipping {name}")
        return None
    torch.manual_seed(0)
    net = getattr(zoo, name.replace("-", "_"))(quality=quality, pretrained=False).eval()
    net.update(force=True)
    x = torch.from_numpy(image.astype(np.float32) / 255).permute(2, 0, 1)[None]
    with torch.no_grad():
        enc_w, enc_c, out = best(lambda: net.compress(x), repeats)
        dec_w, dec_c, _ = best(lambda: net.decompress(out["strings"], out["shape"]), repeats)
    nbytes = sum(len(s[0]) for s in out["strings"])
    print(f"compressai {name:18s} q{quality}: encode {enc_w:7.3f} s  decode {dec_w:7.3f} s  (cpu {enc_c:.2f}/"
          f"{dec_c:.2f} s)  {nbytes} bytes  torch threads {torch.get_num_threads()}", flush=True)
    return {"bytes": nbytes, "encode_s": enc_w, "decode_s": dec_w, "encode_cpu_s": enc_c, "decode_cpu_s": dec_c,
            "torch_threads": torch.get_num_threads()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    p.add_argument("--quality", type=int, default=3)
    p.add_argument("--models", default=",".join(JLIC_MODELS))
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--no-compressai", action="store_true")
    p.add_argument("--no-record", action="store_true")
    p.add_argument("--xla-single-thread", action="store_true",
                   help="run XLA:CPU single-threaded (set before the backend starts): fewer thread "
                        "hand-offs per wavefront step, which matters on a loaded machine")
    args = p.parse_args(argv)
    if args.xla_single_thread:
        flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flags).strip()
    image = np.asarray(Image.open(args.image).convert("RGB"))
    print(f"image {args.image.name} {image.shape[1]}x{image.shape[0]}, jax {jax.__version__} "
          f"{jax.devices()[0].platform}, {os.cpu_count()} CPUs, random-init params", flush=True)
    jlic = {m: bench_jlic(m, image, args.quality, args.repeats) for m in args.models.split(",") if m}
    peers = {} if args.no_compressai else {m: bench_compressai(m, image, args.quality, args.repeats)
                                           for m in PEER_MODELS}
    ratios = {}
    for m, r in peers.items():
        if r is not None and m in jlic:
            ratios[m] = {"decode_speedup_wall": r["decode_s"] / jlic[m]["decode_s"],
                         "decode_speedup_cpu": r["decode_cpu_s"] / jlic[m]["decode_cpu_s"],
                         "encode_speedup_wall": r["encode_s"] / jlic[m]["encode_s"],
                         "encode_speedup_cpu": r["encode_cpu_s"] / jlic[m]["encode_cpu_s"]}
            print(f"{m}: decode {ratios[m]['decode_speedup_wall']:.1f}x faster (wall), "
                  f"{ratios[m]['decode_speedup_cpu']:.1f}x (cpu); "
                  f"encode {ratios[m]['encode_speedup_wall']:.1f}x (wall)")
    if not args.no_record:
        rec = {"benchmark": "context_decode", "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
               "machine": platform.machine(), "cpus": os.cpu_count(), "load_avg": os.getloadavg(),
               "image": args.image.name, "shape": list(image.shape), "quality": args.quality,
               "repeats": args.repeats, "params": "random init",
               "xla_flags": os.environ.get("XLA_FLAGS", ""), "jlic": jlic, "compressai": peers,
               "ratios": ratios}
        print(f"appended to {append_record('context_decode', rec)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
