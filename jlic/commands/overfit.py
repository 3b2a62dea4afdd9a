"""`python -m jlic compress --overfit ...` and `python -m jlic decompress` of overfitted (Cool-chic) files.

* `compress --overfit [--model coolchic] [--lambda 0.0067] [--iterations 600] in.png out.jlic`: fits the codec
  to the image (progress bar), quantizes its weights and writes a self-contained `.jlic` file;
* `decompress in.jlic out.png`: needs nothing but the file (no checkpoint); `jlic.commands` routes a `.jlic`
  whose model name is an overfitted preset here.

Errors (missing / unreadable input, corrupt file, bad option) print one line and exit with 2.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from jlic.commands.common import CliError, read_image, run
from jlic.data.image import encode_image
from jlic.entropy.bitstream import BitstreamError, unpack
from jlic.models import coolchic
from jlic.paths import atomic_write


def wants(command: str, argv: list[str]) -> bool:
    """Whether `python -m jlic COMMAND argv` is for an overfitted codec."""
    if command == "compress":
        return "--overfit" in argv
    if command == "decompress":
        files = [a for a in argv if not a.startswith("-")]
        return bool(files) and _is_overfitted(Path(files[0]))
    return False


def _is_overfitted(path: Path) -> bool:
    """Whether ``path`` is a valid ``.jlic`` file of an overfitted preset (the one container parser reads it;
    any file it refuses goes to the regular decompress, which reports why)."""
    try:
        return unpack(path.read_bytes()).model_name in coolchic.PRESETS
    except (OSError, BitstreamError):
        return False


def _compress(argv: list[str]) -> int:
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
    image = read_image(args.input, prog="compress")
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
    from jlic.overfit import codec

    p = argparse.ArgumentParser(prog="python -m jlic decompress", description="overfitted .jlic -> image")
    p.add_argument("input")
    p.add_argument("output")
    args = p.parse_args(argv)
    src = Path(args.input)
    if not src.is_file():
        raise CliError(f"input file not found: {src}")
    image = codec.decode(src.read_bytes())
    atomic_write(args.output, encode_image(image, Path(args.output).suffix))
    return 0


def main(command: str, argv: list[str]) -> int:
    """``compress --overfit ...`` or ``decompress`` of an overfitted file (``ValueError``s are one line too:
    the fit and the overfitted decoder raise them for bad options and images)."""
    return run(_compress if command == "compress" else _decompress, argv, command, (ValueError,))
