"""jlic vs CompressAI, side by side in one run: train step, image coding, entropy coder, peak memory.

    python -m benchmarks.run            # full: batch 8 x 256², 4 Kodak images, 5 timed steps
    python -m benchmarks.run --quick    # smoke run: batch 2 x 128², 1 Kodak image (cropped 256x384), 2 steps
    python -m benchmarks.run --images 24 --sections codec

Sections (`--sections`, default all):

- `train`: train-step time, same architecture (bmshj2018-hyperprior, mbt2018-mean, quality 3), delegated to
  `benchmarks.train_step` (each framework in its own subprocess; its peak RSS is reported there).
- `codec`: compress / decompress seconds per Kodak image for bmshj2018-hyperprior, mbt2018-mean and mbt2018
  (quality 3) with **identical weights**: a random-init CompressAI zoo model (`update()`d) is imported into
  jlic (`jlic.interop.compressai`), so both sides do the same work and code the same symbols. Each
  (framework, model) runs in its own subprocess (`--worker`), which reports wall and CPU seconds (median per
  image after one warm-up image that includes jit compilation, reported separately), bytes, the
  reconstruction PSNR against the other framework's decoding, and its peak RSS (`ru_maxrss`).
- `coder`: entropy-coding throughput and real-vs-ideal bits on Kodak-sized latents, delegated to
  `benchmarks.coding` (jlic's constriction ANS vs CompressAI's rANS on the same symbols and tables).

Prints every ratio (jlic / CompressAI for times and memory: < 1 means jlic is faster / smaller) and appends
one JSON record to `benchmarks/results/run-<date>.jsonl`. Both frameworks use the same number of CPU
threads (`--threads`). On a shared machine the load average is recorded with the results.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.records import append_record

ROOT = Path(__file__).parents[1]
KODAK = ROOT / ".." / "shared" / "data" / "kodak"
CODEC_MODELS = ("bmshj2018-hyperprior", "mbt2018-mean", "mbt2018")
TRAIN_MODELS = ("bmshj2018-hyperprior", "mbt2018-mean")
SECTIONS = ("train", "codec", "coder")


def _peak_rss_mib() -> float:
    """Peak resident memory of this process. Linux's `VmHWM` restarts at `exec`, whereas `ru_maxrss` keeps
    the forking parent's peak (the parent here has torch and jax loaded), so it is preferred."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _kodak_images(count: int, crop: tuple[int, int] | None) -> list[tuple[str, np.ndarray]]:
    from PIL import Image

    paths = sorted(KODAK.glob("*.png"))[:count]
    if not paths:
        raise FileNotFoundError(f"no Kodak images in {KODAK.resolve()}")
    out = []
    for p in paths:
        with Image.open(p) as im:
            a = np.asarray(im.convert("RGB"))
        out.append((p.name, a[: crop[0], : crop[1]].copy() if crop else a))
    return out


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


# ------------------------------------------------------------------------------------------ codec workers


def _time_images(encode, decode, images, nbytes) -> dict[str, Any]:
    """Per image: (wall, cpu) of encode and decode; the first image once more as warm-up (compilation)."""
    rows = []
    name0, img0 = images[0]
    t0, c0 = time.perf_counter(), time.process_time()
    data = encode(img0)
    warm_enc = (time.perf_counter() - t0, time.process_time() - c0)
    t0, c0 = time.perf_counter(), time.process_time()
    decode(data)
    warm_dec = (time.perf_counter() - t0, time.process_time() - c0)
    decoded = {}
    for name, img in images:
        t0, c0 = time.perf_counter(), time.process_time()
        data = encode(img)
        t1, c1 = time.perf_counter(), time.process_time()
        out = decode(data)
        t2, c2 = time.perf_counter(), time.process_time()
        rows.append({"image": name, "bytes": nbytes(data), "encode_s": t1 - t0, "encode_cpu_s": c1 - c0,
                     "decode_s": t2 - t1, "decode_cpu_s": c2 - c1, "psnr_vs_source": _psnr(out, img)})
        decoded[name] = out
    med = {k: float(np.median([r[k] for r in rows])) for k in ("encode_s", "encode_cpu_s", "decode_s",
                                                                 "decode_cpu_s")}
    return {"per_image": rows, **med, "bytes_mean": float(np.mean([r["bytes"] for r in rows])),
            "first_encode_s": warm_enc[0], "first_decode_s": warm_dec[0], "decoded": decoded}


def _compressai_nbytes(out: dict[str, Any]) -> int:
    return sum(len(s[0]) for s in out["strings"])


def _jlic_codec_worker(args: argparse.Namespace) -> dict[str, Any]:
    import jax

    from jlic.codec.codec import Codec
    from jlic.codec.export import load_model
    from jlic.entropy import bitstream

    model, params = load_model(args.checkpoint)
    codec = Codec(model, params)
    images = _kodak_images(args.images, args.crop)
    # Bytes of the entropy-coded streams (the .jlic header, ~40 bytes, is excluded: CompressAI has none).
    res = _time_images(codec.compress, codec.decompress, images,
                       lambda data: sum(len(s) for s in bitstream.unpack(data).streams))
    res.update(framework="jlic", jax=jax.__version__, backend=jax.default_backend())
    return res


def _compressai_codec_worker(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from compressai import zoo

    torch.set_num_threads(args.threads)
    net = getattr(zoo, args.model.replace("-", "_"))(quality=args.quality, pretrained=False).eval()
    net.load_state_dict(torch.load(args.checkpoint, map_location="cpu", weights_only=True))

    def encode(img: np.ndarray):
        x = torch.from_numpy(img.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
        with torch.no_grad():
            return net.compress(x)

    def decode(out) -> np.ndarray:
        with torch.no_grad():
            x_hat = net.decompress(out["strings"], out["shape"])["x_hat"]
        return np.round(x_hat[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255).astype(np.uint8)

    res = _time_images(encode, decode, _kodak_images(args.images, args.crop), _compressai_nbytes)
    res.update(framework="compressai", torch=torch.__version__, torch_threads=torch.get_num_threads())
    return res


def _worker_main(args: argparse.Namespace) -> int:
    fn = _jlic_codec_worker if args.worker == "jlic" else _compressai_codec_worker
    res = fn(args)
    decoded = res.pop("decoded")
    np.savez_compressed(args.decoded_out, **{k: v for k, v in decoded.items()})
    res["peak_rss_mib"] = _peak_rss_mib()
    print(json.dumps(res), flush=True)
    return 0


def _run_worker(framework: str, model: str, checkpoint: Path, decoded_out: Path,
                args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.run", "--worker", framework, "--model", model,
           "--checkpoint", str(checkpoint), "--decoded-out", str(decoded_out), "--images", str(args.images),
           "--quality", str(args.quality), "--threads", str(args.threads)]
    if args.crop:
        cmd += ["--crop", f"{args.crop[0]}x{args.crop[1]}"]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads),
           "XLA_FLAGS": os.environ.get("XLA_FLAGS", "")}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"framework": framework, "error": (proc.stderr or proc.stdout)[-3000:]}
    return json.loads(lines[-1])


def _export_weights(model: str, quality: int, folder: Path) -> tuple[Path, Path]:
    """A random-init CompressAI zoo model (seed 0, `update()`d): its state_dict file and the jlic import."""
    import torch
    from compressai import zoo

    from jlic.codec.export import save_model
    from jlic.interop.compressai import import_compressai

    torch.manual_seed(0)
    net = getattr(zoo, model.replace("-", "_"))(quality=quality, pretrained=False).eval()
    net.update(force=True)
    pth = folder / f"{model}.pth"
    torch.save(net.state_dict(), pth)
    imp = import_compressai(model, pth, quality)
    ckpt = save_model(folder / f"{model}-jlic", imp.model, imp.params)
    return pth, ckpt


def _print_codec(model: str, fw: str, v: dict[str, Any]) -> None:
    if "error" in v:
        print(f"codec {model:22s} {fw:10s} FAILED: {v['error'].strip().splitlines()[-1:]}", flush=True)
        return
    print(f"codec {model:22s} {fw:10s} encode {v['encode_s']:7.3f} s (cpu {v['encode_cpu_s']:6.2f})  "
          f"decode {v['decode_s']:7.3f} s (cpu {v['decode_cpu_s']:6.2f})  {v['bytes_mean']:8.0f} B  "
          f"first enc/dec {v['first_encode_s']:.1f}/{v['first_decode_s']:.1f} s  "
          f"peak RSS {v['peak_rss_mib']:.0f} MiB", flush=True)


def run_codec(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="jlic-bench-") as tmp:
        tmp = Path(tmp)
        for model in args.codec_models:
            pth, ckpt = _export_weights(model, args.quality, tmp)
            r = {"jlic": _run_worker("jlic", model, ckpt, tmp / "jlic.npz", args),
                 "compressai": _run_worker("compressai", model, pth, tmp / "compressai.npz", args)}
            for fw in ("jlic", "compressai"):
                _print_codec(model, fw, r[fw])
            j, c = r["jlic"], r["compressai"]
            if "error" not in j and "error" not in c:
                with np.load(tmp / "jlic.npz") as a, np.load(tmp / "compressai.npz") as b:
                    cross = float(np.mean([_psnr(a[k], b[k]) for k in a.files]))
                clocks = (("wall", "_s"), ("cpu", "_cpu_s"))
                ratios = {f"{k}_{clock}": j[f"{k}{suffix}"] / c[f"{k}{suffix}"]
                          for k in ("encode", "decode") for clock, suffix in clocks}
                ratios["bytes"] = j["bytes_mean"] / c["bytes_mean"]
                ratios["peak_rss"] = j["peak_rss_mib"] / c["peak_rss_mib"]
                r["ratios_jlic_over_compressai"] = ratios
                r["psnr_jlic_vs_compressai_decoding"] = cross
                shown = ", ".join(f"{k} {v:.3f}" for k, v in ratios.items())
                print(f"codec {model:22s} jlic/CompressAI: {shown}; PSNR(jlic decoding, CompressAI decoding) "
                      f"{cross:.1f} dB", flush=True)
            results[model] = r
    return results


# ----------------------------------------------------------------------------------- delegated sections


def run_train(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks import train_step

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "train.json"
        argv = ["--models", *args.train_models, "--batch", str(args.batch), "--size", str(args.size),
                "--steps", str(args.steps), "--quality", str(args.quality), "--threads", str(args.threads),
                "--vmap", "0", "--out", str(out)]
        print("train: python -m benchmarks.train_step " + " ".join(argv), flush=True)
        train_step.main(argv)
        record = json.loads(out.read_text())[-1]
    return record


def run_coder(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks import coding

    argv = ["--repeats", str(args.coder_repeats)]
    print("coder: python -m benchmarks.coding " + " ".join(argv), flush=True)
    return coding.run(argv)


def _summary(record: dict[str, Any]) -> dict[str, float]:
    """Flat {name: ratio} of every jlic / CompressAI figure in the record."""
    out: dict[str, float] = {}
    for model, r in record.get("train", {}).get("results", {}).items():
        if "ratio_jlic_over_compressai" in r:
            out[f"train_step {model} time"] = r["ratio_jlic_over_compressai"]
            j, c = r["jlic"], r["compressai"]
            out[f"train_step {model} peak_rss"] = j["peak_rss_mib"] / c["peak_rss_mib"]
    for model, r in record.get("codec", {}).items():
        for k, v in r.get("ratios_jlic_over_compressai", {}).items():
            out[f"codec {model} {k}"] = v
    coder = record.get("coder", {}).get("ratios_jlic_ans_vs_compressai")
    if coder:
        out["coder encode time"] = 1.0 / coder["encode_speedup"]
        out["coder decode time"] = 1.0 / coder["decode_speedup"]
        out["coder bytes"] = coder["size_ratio"]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    p.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    p.add_argument("--images", type=int, default=None, help="Kodak images for the codec section (default 4)")
    p.add_argument("--quality", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--size", type=int, default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--codec-models", nargs="+", default=list(CODEC_MODELS))
    p.add_argument("--train-models", nargs="+", default=list(TRAIN_MODELS))
    p.add_argument("--no-record", action="store_true")
    # worker mode (internal)
    p.add_argument("--worker", choices=["jlic", "compressai"], help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--checkpoint", help=argparse.SUPPRESS)
    p.add_argument("--decoded-out", help=argparse.SUPPRESS)
    p.add_argument("--crop", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.crop = tuple(int(v) for v in args.crop.split("x")) if args.crop else None
    if args.worker:
        args.images = args.images or 1
        return _worker_main(args)

    quick = args.quick
    args.images = args.images or (1 if quick else 4)
    args.batch = args.batch or (2 if quick else 8)
    args.size = args.size or (128 if quick else 256)
    args.steps = args.steps or (2 if quick else 5)
    args.coder_repeats = 2 if quick else 5
    args.crop = (256, 384) if quick else None
    sections = [s for s in args.sections.split(",") if s]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        p.error(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")

    record: dict[str, Any] = {
        "benchmark": "run", "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.run " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": platform.machine(), "cpus": os.cpu_count(), "threads": args.threads, "quick": quick,
        "quality": args.quality, "images": args.images, "crop": args.crop,
    }
    t0 = time.perf_counter()
    if "train" in sections:
        record["train"] = run_train(args)
    if "codec" in sections:
        record["codec"] = run_codec(args)
    if "coder" in sections:
        record["coder"] = run_coder(args)
    record["load_avg_at_end"] = os.getloadavg()
    record["total_s"] = time.perf_counter() - t0
    record["ratios_jlic_over_compressai"] = summary = _summary(record)
    print("\nratios jlic / CompressAI (< 1: jlic faster or smaller):")
    for k, v in summary.items():
        print(f"  {k:48s} {v:7.3f}")
    print(f"load average at end {record['load_avg_at_end'][0]:.1f} on {os.cpu_count()} CPUs")
    if not args.no_record:
        print(f"appended to {append_record('run', record, default=float)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
