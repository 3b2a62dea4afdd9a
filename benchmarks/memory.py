"""Peak memory (RSS) and seconds of `compress` / `decompress` at growing image sizes, one subprocess per case.

    nice -n 10 python -m benchmarks.memory                       # 3 models x 768x512, 2048², 4096²
    python -m benchmarks.memory --models mbt2018 --sizes 512x768 --limit-gib 4

Each (model, size, operation) runs in a fresh process that loads an exported model (random-init
parameters, exported once by this driver: the activations, and so the memory, do not depend on the
values; the entropy-coding share of the time does, trained models code more bits), reads its RSS after
loading (`base_rss`), runs the operation once (`first_s`, jit compilation included) and, below 2048² px,
again (`second_s`), then reports its peak RSS (`VmHWM`). `compress` writes the `.jlic` file that the
`decompress` case of the same size reads. The driver never starts a case whose peak, extrapolated
linearly in pixels from the previous size of the same model and operation, exceeds `--limit-gib`, and
kills any case whose RSS passes it (polling `/proc/<pid>/status`). The record also holds the decoder
memory bound of `jlic.codec.limits` for each size, to compare with the measured decompress peak.

Images over `--tile-above` pixels (default 2048², as `python -m jlic compress`) are coded in tiles of about
`--tile` pixels a side (`jlic.codec.tiles`; `--tile 0`: never); each case records its grid (`tiles`) and
the bound of that grid. The linear extrapolation only runs between untiled sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.records import cpu_name

DEFAULT_MODELS = ("bmshj2018-hyperprior", "mbt2018", "he2021-checkerboard")
DEFAULT_SIZES = ("512x768", "2048x2048", "4096x4096")
GIB = 1 << 30


def _status_kib(field: str, pid: str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _image(h: int, w: int) -> Any:
    import numpy as np

    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(0)
    base = np.stack([np.sin(xx / 37.0), np.cos(yy / 23.0), np.sin((xx + yy) / 51.0)], -1) * 0.35 + 0.5
    noise = 0.05 * rng.standard_normal((h, w, 3), dtype=np.float32)
    return (np.clip(base + noise, 0, 1) * 255).astype(np.uint8)


def child(args: argparse.Namespace) -> None:
    """One case in this process; prints one JSON line."""
    from jlic.commands.coding import load_codec

    h, w = (int(v) for v in args.size.split("x"))
    codec = load_codec(args.model_dir)
    codec.tile, codec.tile_above = args.tile, args.tile_above
    out: dict[str, Any] = {}
    if args.op == "compress":
        image = _image(h, w)
        base = _status_kib("VmRSS")
        t = time.perf_counter()
        data = codec.compress(image)
        out["first_s"] = time.perf_counter() - t
        if h * w < 2048 * 2048:
            t = time.perf_counter()
            codec.compress(image)
            out["second_s"] = time.perf_counter() - t
        Path(args.data).write_bytes(data)
        out["bytes"] = len(data)
    else:
        data = Path(args.data).read_bytes()
        base = _status_kib("VmRSS")
        t = time.perf_counter()
        image = codec.decompress(data)
        out["first_s"] = time.perf_counter() - t
        if h * w < 2048 * 2048:
            t = time.perf_counter()
            codec.decompress(data)
            out["second_s"] = time.perf_counter() - t
        assert image.shape == (h, w, 3)
    out.update(base_rss_mib=base / 1024, peak_rss_mib=_status_kib("VmHWM") / 1024)
    print(json.dumps(out), flush=True)


def _export(name: str, folder: Path) -> Path:
    """Export a random-init `name` (quality 3) once; later runs reuse it."""
    target = folder / name
    if (target / "model.json").exists():
        return target
    import jax

    from jlic.codec.export import save_model
    from jlic.models import get

    model = get(name, quality=3)
    params = jax.jit(model.init, static_argnums=1)(jax.random.PRNGKey(0), (1, 64, 64, 3))
    return save_model(target, model, params, extra={"params": "random init"})


def _run_case(cmd: list[str], limit_kib: int, timeout: float) -> dict[str, Any]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0, watched = time.time(), 0
    while proc.poll() is None:
        try:
            watched = max(watched, _status_kib("VmRSS", str(proc.pid)))
        except (FileNotFoundError, ProcessLookupError):
            pass
        if watched > limit_kib or time.time() - t0 > timeout:
            proc.kill()
            proc.wait()
            why = "rss over the limit" if watched > limit_kib else "timeout"
            return {"killed": why, "watched_rss_mib": watched / 1024, "wall_s": time.time() - t0}
        time.sleep(0.05)
    out, err = proc.communicate()
    if proc.returncode != 0:
        return {"error": err.strip().splitlines()[-1] if err.strip() else f"exit {proc.returncode}"}
    rec = json.loads(out.strip().splitlines()[-1])
    rec["wall_s"] = time.time() - t0
    return rec


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    p.add_argument("--sizes", nargs="+", default=list(DEFAULT_SIZES), help="HxW, in increasing order")
    p.add_argument("--limit-gib", type=float, default=6.0, help="skip / kill cases above this RSS")
    p.add_argument("--timeout", type=float, default=1200.0, help="seconds per case")
    p.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "jlic-memory-bench"))
    p.add_argument("--tile", type=int, default=None, help="tile side (default: $JLIC_TILE or 1024; 0: never)")
    p.add_argument("--tile-above", type=int, default=None, help="tile images over this many pixels")
    p.add_argument("--no-record", action="store_true")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--model-dir", help=argparse.SUPPRESS)
    p.add_argument("--size", help=argparse.SUPPRESS)
    p.add_argument("--op", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args)
        return

    from jlic.codec import tiles

    folder = Path(args.workdir)
    folder.mkdir(parents=True, exist_ok=True)
    limit_kib = int(args.limit_gib * GIB / 1024)
    cases = []
    for name in args.models:
        model_dir = _export(name, folder)
        from jlic.codec import limits
        from jlic.codec.export import load_model

        model, params = load_model(model_dir)
        prev: dict[str, tuple[int, dict[str, Any]]] = {}
        for size in args.sizes:
            h, w = (int(v) for v in size.split("x"))
            s = int(model.stride)
            hp, wp = -(-h // s) * s, -(-w // s) * s
            grid = tiles.plan(h, w, s, args.tile, args.tile_above)
            if grid is None:
                bound = limits.decode_memory_bound(model, params, hp, wp)
            else:
                th, tw = min(grid.th, hp), min(grid.tw, wp)
                bound = limits.tiled_decode_memory_bound(model, params, th, tw, h * w)
            data = folder / f"{name}-{size}.jlic"
            for op in ("compress", "decompress"):
                rec: dict[str, Any] = {"model": name, "size": size, "op": op, "pixels": h * w,
                                       "tiles": None if grid is None else
                                       f"{grid.rows}x{grid.cols} of {grid.th}x{grid.tw}"}
                if op == "decompress":
                    rec["decode_bound_mib"] = bound / 2**20
                last = prev.get(op)
                est = None
                if last is not None and "peak_rss_mib" in last[1] and grid is None:
                    px, r = last
                    est = r["base_rss_mib"] + (r["peak_rss_mib"] - r["base_rss_mib"]) * (h * w) / px
                    rec["estimated_peak_mib"] = est
                if est is not None and est * 1024 > limit_kib:
                    rec["skipped"] = f"estimated peak {est / 1024:.1f} GiB > limit {args.limit_gib} GiB"
                elif op == "decompress" and not data.exists():
                    rec["skipped"] = "no compressed file (compress case did not run)"
                else:
                    cmd = [sys.executable, "-m", "benchmarks.memory", "--child", "--model-dir", str(model_dir),
                           "--size", size, "--op", op, "--data", str(data)]
                    cmd += [f"--tile={args.tile}"] if args.tile is not None else []
                    cmd += [f"--tile-above={args.tile_above}"] if args.tile_above is not None else []
                    rec.update(_run_case(cmd, limit_kib, args.timeout))
                    if "peak_rss_mib" in rec:
                        prev[op] = (h * w, rec)
                print(json.dumps(rec), flush=True)
                cases.append(rec)
    record = {
        "benchmark": "memory", "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": cpu_name(), "cores": os.cpu_count(), "python": platform.python_version(),
        "machine_note": "shared 2-core machine, loaded by other jobs: seconds are indicative only",
        "params": "random init, quality 3", "limit_gib": args.limit_gib,
        "tile": list(tiles.settings(args.tile, args.tile_above)), "cases": cases,
    }
    if not args.no_record:
        from benchmarks.records import append_record

        print(f"record: {append_record('memory', record)}")




if __name__ == "__main__":
    main()
