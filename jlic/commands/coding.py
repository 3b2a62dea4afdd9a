"""``python -m jlic compress | decompress | eval``: real ``.jlic`` files from an exported checkpoint.

* ``compress --checkpoint DIR [--level L | --lambda X] in.png out.jlic`` (``--level`` / ``--lambda``: the rate
  of a variable-rate checkpoint, fractional levels allowed; the file records it and decompress follows it)
* ``decompress [--checkpoint DIR] in.jlic out.png`` (without ``--checkpoint``, ``$JLIC_CHECKPOINT`` is used;
  the file records model name and a hash of config + coding tables, so a wrong checkpoint is refused)
* ``eval --checkpoint DIR --data FOLDER [--limit N] [--json OUT]``: per-image and mean bpp from real bytes,
  PSNR-RGB (8-bit), MS-SSIM (images of at least 161 px a side), encode / decode seconds. ``DIR`` is an
  exported model (``model.json`` + ``params.npz``) or a folder of them (e.g. one per λ).

The checkpoint is read by :func:`jlic.codec.export.load_codec` (coding tables from ``coding_tables.npz`` when
the export holds them).

Input images: see :mod:`jlic.data.image` (EXIF orientation and ICC profiles applied; grey, 1-bit and
palette to RGB; alpha dropped, 16-bit reduced to 8 bits and extra frames skipped, each with a warning on
stderr; images over ``--max-pixels`` refused from their header). Any size
works, 1x1 included (padding to the model's stride). Output files are written atomically (temporary
file + ``os.replace``): a failure never leaves a half-written file. Errors (missing / unreadable /
non-image input, corrupt or foreign ``.jlic``) print one line and exit with 2.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from jlic.codec.export import export_tables, load_codec  # noqa: F401  (export_tables: part of this API)
from jlic.commands.common import CliError, read_image, run
from jlic.data.image import IMAGE_SUFFIXES, encode_image
from jlic.entropy.bitstream import unpack
from jlic.evaluation.evaluate import evaluate_images, mean_row
from jlic.paths import as_path, atomic_write, read_bytes


def _compress(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m jlic compress", description="image -> .jlic")
    p.add_argument("--checkpoint", required=True, help="exported model directory (model.json + params.npz)")
    p.add_argument("input", help="image file (PNG, JPEG, PPM, ...)")
    p.add_argument("output", help=".jlic file to write")
    p.add_argument("--max-pixels", type=int, default=None,
                   help="refuse larger images (default: $JLIC_MAX_PIXELS or 2**26)")
    p.add_argument("--deterministic", dest="mode", action="store_const", const="deterministic", default=None,
                   help="code with exact networks (jlic.fixedpoint): the file decodes on any device")
    p.add_argument("--float", dest="mode", action="store_const", const="float",
                   help="code with the float networks (default unless the checkpoint was converted)")
    p.add_argument("--tile", type=int, default=None, metavar="SIDE",
                   help="code images over $JLIC_TILE_ABOVE (default 2048**2) pixels in tiles of about SIDE "
                        "pixels (default: $JLIC_TILE or 1024; 0: never tile)")
    rate = p.add_mutually_exclusive_group()  # variable-rate checkpoints (sweep_mode=variable_rate)
    rate.add_argument("--level", type=float, default=None,
                      help="rate level of a variable-rate model, 0..levels-1, fractional ok (default: top)")
    rate.add_argument("--lambda", dest="lmbda", type=float, default=None,
                      help="the λ to code at (variable-rate models; log-interpolated between trained levels)")
    args = p.parse_args(argv)
    image = read_image(args.input, args.max_pixels, "compress")
    options = {k: v for k, v in (("mode", args.mode), ("level", args.level), ("lmbda", args.lmbda))
               if v is not None}
    codec = load_codec(args.checkpoint, **options)
    codec.tile = args.tile
    try:
        data = codec.compress(image)
    except ValueError as e:  # a tile setting that cannot be used (below the stride, not a number)
        raise CliError(str(e)) from None
    atomic_write(args.output, data)
    h, w = image.shape[:2]
    rate = f", level {codec.model.coding_level:g}" if hasattr(codec.model, "coding_level") else ""
    print(f"{args.output}: {len(data)} bytes, {len(data) * 8 / (h * w):.4f} bpp ({w}x{h}, {codec.model.name}, "
          f"{codec.mode}{rate})")
    return 0


def _decompress(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m jlic decompress", description=".jlic -> image")
    p.add_argument("--checkpoint", default=os.environ.get("JLIC_CHECKPOINT"),
                   help="exported model directory (default: $JLIC_CHECKPOINT)")
    p.add_argument("input", help=".jlic file")
    p.add_argument("output", help="image to write (PNG unless the suffix names another format)")
    args = p.parse_args(argv)
    src = as_path(args.input)
    if not src.is_file():
        raise CliError(f"input file not found: {src}")
    data = read_bytes(src)
    if args.checkpoint is None:
        name = unpack(data).model_name  # validates the file first
        raise CliError(f"{src} was made with model {name!r}; pass --checkpoint DIR (or set JLIC_CHECKPOINT)")
    codec = load_codec(args.checkpoint)
    image = codec.decompress(data)
    atomic_write(args.output, encode_image(image, Path(args.output).suffix))
    return 0


def _list_images(folder: Any) -> list[Any]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())




def _format(row: dict[str, Any]) -> str:
    ms = "   -   " if row["ms-ssim-rgb"] is None else f"{row['ms-ssim-rgb']:.5f}"
    return (f"{row['image']:<24} {row['bpp']:8.4f} {row['psnr-rgb']:8.3f} {ms:>8} "
            f"{row['encoding_time']:8.3f} {row['decoding_time']:8.3f}")


def _eval(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m jlic eval", description="real-bytes RD figures on a folder")
    p.add_argument("--checkpoint", required=True, help="exported model directory, or a folder of them")
    p.add_argument("--data", required=True, help="folder of images")
    p.add_argument("--limit", type=int, default=0, help="use only the first N images (0: all)")
    p.add_argument("--json", default=None, help="also write the results as JSON to this file")
    p.add_argument("--convention", choices=("jlic", "compressai"), default="jlic",
                   help="jlic: edge padding, bpp of the whole file; compressai: zero padding and bpp of the "
                        "streams, as CompressAI's eval_model (to compare with its published numbers)")
    args = p.parse_args(argv)
    folder, ckpt = as_path(args.data), as_path(args.checkpoint)
    if not folder.is_dir():
        raise CliError(f"data folder not found: {folder}")
    if not ckpt.is_dir():
        raise CliError(f"checkpoint not found: {ckpt}")
    paths = _list_images(folder)[: args.limit or None]
    if not paths:
        raise CliError(f"no images in {folder}")
    images = []
    for path in paths:
        images.append((path.name, read_image(path, prog="eval")))
    models = [ckpt] if (ckpt / "model.json").exists() else sorted(d for d in ckpt.iterdir()
                                                                   if (d / "model.json").exists())
    if not models:
        raise CliError(f"no exported model (model.json) in {ckpt} or its subfolders")
    results = {}
    for model_dir in models:
        codec = load_codec(model_dir) if args.convention == "jlic" else load_codec(model_dir, args.convention)
        print(f"# {model_dir} ({codec.model.name}, convention {args.convention})")
        print(f"{'image':<24} {'bpp':>8} {'psnr':>8} {'ms-ssim':>8} {'enc s':>8} {'dec s':>8}")
        rows = evaluate_images(codec, images)
        for row in rows:
            print(_format(row))
        mean = mean_row(rows)
        print(_format({**mean, "ms-ssim-rgb": mean["ms-ssim-rgb"]}))
        results[str(model_dir)] = {"model": codec.model.name, "convention": args.convention, "images": rows,
                                   "mean": mean}
    if args.json:
        atomic_write(args.json, (json.dumps(results, indent=2) + "\n").encode())
    return 0


def compress_main(argv: list[str]) -> int:
    """``python -m jlic compress --checkpoint DIR in.png out.jlic``."""
    return run(_compress, argv, "compress")


def decompress_main(argv: list[str]) -> int:
    """``python -m jlic decompress [--checkpoint DIR] in.jlic out.png``."""
    return run(_decompress, argv, "decompress")


def eval_main(argv: list[str]) -> int:
    """``python -m jlic eval --checkpoint DIR --data FOLDER``."""
    return run(_eval, argv, "eval")
