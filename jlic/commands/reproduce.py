"""`python -m jlic reproduce NAME --data FOLDER`: the RD curve of CompressAI's zoo weights with jlic's real
bitstreams (:mod:`jlic.interop.reproduce`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jlic.interop import pretrained
from jlic.interop.reproduce import reproduce


def main(argv: list[str] | None = None) -> int:
    """`python -m jlic reproduce NAME --data FOLDER --workdir DIR [--metric] [--quality all|1,2]`."""
    ap = argparse.ArgumentParser(prog="python -m jlic reproduce",
                                 description="Evaluate CompressAI's published weights with jlic's real "
                                             "bitstreams over all qualities; rd.json, rd.png, report.md vs "
                                             "the anchors.")
    ap.add_argument("model", choices=pretrained.MODELS)
    ap.add_argument("--data", default="../shared/data/kodak", help="image folder (default: Kodak)")
    ap.add_argument("--workdir", default=None, help="output folder (default runs/zoo/MODEL_METRIC)")
    ap.add_argument("--metric", "-m", choices=pretrained.METRICS, default="mse")
    ap.add_argument("--quality", "-q", default="all", help="'all' or a comma list")
    ap.add_argument("--anchors", default="../shared/reference/kodak-rd",
                    help="anchor JSON folder ('' for none)")
    ap.add_argument("--convention", choices=("compressai", "jlic"), default="compressai")
    ap.add_argument("--limit", type=int, default=None, help="first N images only")
    ap.add_argument("--cache", default=None)
    ap.add_argument("--base-url", default=None)
    ap.add_argument("--index", default=None)
    args = ap.parse_args(argv)
    try:
        qs = None if args.quality == "all" else [int(q) for q in args.quality.split(",")]
        out = reproduce(args.model, args.data, args.workdir or Path("runs/zoo") / f"{args.model}_{args.metric}",
                        args.metric, qs, args.anchors or None, args.convention, args.limit, cache=args.cache,
                        base_url=args.base_url, index=args.index)
    except (pretrained.PretrainedError, ValueError, FileNotFoundError) as e:
        print(f"jlic reproduce: error: {e}", file=sys.stderr)
        return 2
    for key, path in out.items():
        print(f"{key}: {path}")
    return 0
