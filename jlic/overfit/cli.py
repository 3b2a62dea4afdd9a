"""`python -m jlic compress --overfit ...` and `python -m jlic decompress` of overfitted (Cool-chic) files.

* `compress --overfit [--model coolchic] [--lambda 0.0067] [--iterations 600] in.png out.jlic`: fits the codec
  to the image (progress bar), quantizes its weights and writes a self-contained `.jlic` file;
* `decompress in.jlic out.png`: needs nothing but the file (no checkpoint); `jlic.cli` routes a `.jlic` whose
  model name is an overfitted preset here.

Errors (missing / unreadable input, corrupt file, bad option) print one line and exit with 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from jlic.coding.bitstream import BitstreamError

EXIT_ERROR = 2


def wants(command: str, argv: list[str]) -> bool:
    """Whether `python -m jlic COMMAND argv` is for an overfitted codec."""
    if command == "compress":
        return "--overfit" in argv
    if command == "decompress":
        files = [a for a in argv if not a.startswith("-")]
        return bool(files) and _is_overfitted(Path(files[0]))
    return False


def _is_overfitted(path: Path) -> bool:
    from jlic.models.coolchic import PRESETS

    try:
        with open(path, "rb") as f:
            head = f.read(7 + 64)
    except OSError:
        return False
    if len(head) < 8 or head[:4] != b"JLIC":
        return False
    name = head[7:7 + head[6]].decode("ascii", "replace")
    return name in PRESETS


def _compress(argv: list[str]) -> int:
    from jlic.coding.cli import CliError, atomic_write, read_image
    from jlic.models import coolchic
    from jlic.overfit.fit import PRESET_FIT, FitConfig
    from jlic.overfit.sweep import code_image

    p = argparse.ArgumentParser(prog="python -m jlic compress --overfit",
                                description="fit an overfitted codec (Cool-chic) to one image -> .jlic")
    p.add_argument("--overfit", action="store_true", required=True)
    p.add_argument("--model", default="coolchic", choices=sorted(coolchic.PRESETS))
    p.add_argument("--lambda", dest="lmbda", type=float, default=0.0067, help="λ of bpp + λ 255² MSE")
    p.add_argument("--iterations", type=int, default=600)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("input")
    p.add_argument("output")
    args = p.parse_args(argv)
    if args.lmbda <= 0 or args.iterations < 1:
        raise CliError("--lambda must be > 0 and --iterations >= 1")
    image, warnings = read_image(args.input)
    for w in warnings:
        print(f"jlic compress: warning: {w}", file=sys.stderr)
    arch = coolchic.get_config(args.model)
    fc = FitConfig(iterations=args.iterations, lr=args.lr, seed=args.seed, **PRESET_FIT.get(args.model, {}))
    t0 = time.perf_counter()
    data, rec = code_image(image, args.lmbda, args.model, arch, fc, progress=not args.quiet, desc=args.model)
    atomic_write(args.output, data)
    h, w = image.shape[:2]
    print(f"{args.output}: {len(data)} bytes, {len(data) * 8 / (h * w):.4f} bpp ({w}x{h}, {args.model}, "
          f"{args.iterations} iterations, {time.perf_counter() - t0:.0f} s)")
    return 0


def _decompress(argv: list[str]) -> int:
    from jlic.coding.cli import CliError, atomic_write, encode_png
    from jlic.overfit import codec

    p = argparse.ArgumentParser(prog="python -m jlic decompress", description="overfitted .jlic -> image")
    p.add_argument("input")
    p.add_argument("output")
    args = p.parse_args(argv)
    src = Path(args.input)
    if not src.is_file():
        raise CliError(f"input file not found: {src}")
    image = codec.decode(src.read_bytes())
    atomic_write(args.output, encode_png(image, Path(args.output).suffix))
    return 0


def main(command: str, argv: list[str]) -> int:
    from jlic.coding.cli import CliError

    fn = _compress if command == "compress" else _decompress
    try:
        return fn(argv)
    except (CliError, BitstreamError, ValueError) as e:
        print(f"jlic {command}: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except (PermissionError, IsADirectoryError) as e:
        print(f"jlic {command}: error: {e.strerror}: {e.filename}", file=sys.stderr)
        return EXIT_ERROR
