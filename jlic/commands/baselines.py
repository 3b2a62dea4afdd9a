"""`python -m jlic baselines --data FOLDER --out DIR`: RD curves of classic codecs (JPEG, WebP, JPEG 2000,
AVIF, JPEG XL) on an image folder (:mod:`jlic.evaluation.baselines`)."""

from __future__ import annotations

import argparse
import sys

from jlic.evaluation import classic
from jlic.evaluation.baselines import BaselineError, _parse_settings, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jlic baselines", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="folder of images (e.g. ../shared/data/kodak)")
    parser.add_argument("--out", required=True, help="folder for <codec>.json RD curves")
    parser.add_argument("--codecs", default="", help=f"comma-separated, from: {', '.join(classic.CODECS)} "
                        "(default: all available)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N images")
    parser.add_argument("--settings", action="append", default=[], metavar="CODEC=v1,v2,...",
                        help="override a codec's sweep (repeatable)")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    log = None if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    try:
        codecs = [c.strip() for c in args.codecs.split(",") if c.strip()]
        for name in codecs:
            classic.get(name)
        paths = run(args.data, args.out, codecs, args.limit, _parse_settings(args.settings), log)
    except (BaselineError, ValueError) as e:
        print(f"jlic baselines: error: {e}", file=sys.stderr)
        return 2
    for p in paths:
        print(p)
    return 0
