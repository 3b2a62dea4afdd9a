"""Rate, PSNR and seconds of tiled coding (`jlic.codec.tiles`) against untiled, on the same images.

    nice -n 10 python -m benchmarks.tiling --checkpoint DIR --data /work/shared/data/kodak --sides 256 512

Each image is coded untiled and at each tile side (tiling forced: `tile_above=0`), the settings
alternating per image; every (setting, image size) is coded once untimed first, so that compilation is not
timed. Per setting: total bytes (whole `.jlic` files) and their ratio to untiled, mean PSNR-RGB and its
difference to untiled, encode / decode seconds and their ratio to untiled. The record goes to
`benchmarks/results/tiling-<date>.jsonl`.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from benchmarks.records import append_record, cpu_name


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True, help="exported model directory")
    p.add_argument("--data", required=True, help="folder of images")
    p.add_argument("--sides", nargs="+", type=int, default=[256, 512], help="tile sides to compare")
    p.add_argument("--limit", type=int, default=None, help="first N images")
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args(argv)

    import numpy as np

    from jlic.commands.coding import _list_images, load_codec, read_image
    from jlic.entropy import bitstream
    from jlic.metrics.psnr import psnr_8bit

    codec = load_codec(args.checkpoint)
    codec.tile_above = 0
    paths = _list_images(Path(args.data))[: args.limit]
    settings = [0, *args.sides]  # 0: untiled
    sums = {s: {"bytes": 0, "psnr": 0.0, "enc_s": 0.0, "dec_s": 0.0} for s in settings}
    warmed: set[tuple[int, tuple[int, ...]]] = set()
    grids: dict[int, set[str]] = {s: set() for s in settings}
    for path in paths:
        img = read_image(path)[0]
        for s in settings:
            codec.tile = s
            if (s, img.shape) not in warmed:
                codec.decompress(codec.compress(img))
                warmed.add((s, img.shape))
            t0 = time.perf_counter()
            data = codec.compress(img)
            t1 = time.perf_counter()
            out = codec.decompress(data)
            t2 = time.perf_counter()
            ext = bitstream.unpack(data).extensions
            grids[s].add("untiled" if "tiles" not in ext else "x".join(map(str, np.frombuffer(
                ext["tiles"][1:5], "<u2"))))
            acc = sums[s]
            acc["bytes"] += len(data)
            acc["psnr"] += float(psnr_8bit(img.astype(np.float32) / 255, out.astype(np.float32) / 255))
            acc["enc_s"] += t1 - t0
            acc["dec_s"] += t2 - t1
    base = sums[0]
    rows = []
    for s in settings:
        acc = sums[s]
        rows.append({
            "tile": s or None, "grids": sorted(grids[s]), "bytes": acc["bytes"],
            "bytes_ratio": acc["bytes"] / base["bytes"], "psnr": acc["psnr"] / len(paths),
            "psnr_diff": (acc["psnr"] - base["psnr"]) / len(paths), "enc_s": acc["enc_s"],
            "dec_s": acc["dec_s"],
            "enc_ratio": acc["enc_s"] / base["enc_s"], "dec_ratio": acc["dec_s"] / base["dec_s"],
        })
        print(json.dumps(rows[-1]), flush=True)
    record = {
        "benchmark": "tiling", "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpu": cpu_name(),
        "cores": os.cpu_count(), "machine_note": "shared 2-core machine, loaded by other jobs: seconds are "
        "indicative only, ratios from alternating runs", "checkpoint": json.loads(
            (Path(args.checkpoint) / "model.json").read_text()), "data": args.data, "images": len(paths),
        "rows": rows,
    }
    if not args.no_record:
        print(f"record: {append_record('tiling', record)}")


if __name__ == "__main__":
    main()
