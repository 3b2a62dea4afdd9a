"""`python -m jlic pretrained NAME --quality Q`: CompressAI's published weights (hash-checked, cached,
resumable) as jlic checkpoints (:mod:`jlic.interop.pretrained`)."""

from __future__ import annotations

import argparse
import shutil
import sys

from jlic.interop.pretrained import METRICS, MODELS, PretrainedError, fetch, qualities
from jlic.paths import as_path, atomic_write, is_local, remove_tree


def main(argv: list[str] | None = None) -> int:
    """`python -m jlic pretrained NAME --quality Q [--metric mse|ms-ssim] [--out DIR]`."""
    ap = argparse.ArgumentParser(prog="python -m jlic pretrained",
                                 description="Download CompressAI's published weights (hash-checked, cached, "
                                             "resumable) and convert them to a jlic checkpoint.")
    ap.add_argument("model", choices=MODELS)
    ap.add_argument("--quality", "-q", required=True,
                    help="quality 1..8 (1..6 for cheng2020), a comma list or 'all'")
    ap.add_argument("--metric", "-m", choices=METRICS, default="mse")
    ap.add_argument("--out", type=as_path, default=None,
                    help="copy the checkpoint(s) here (one quality: DIR itself; several: DIR/q<Q>)")
    ap.add_argument("--cache", default=None, help="cache folder (default $JLIC_CACHE or ~/.cache/jlic)")
    ap.add_argument("--base-url", default=None, help="URL base of a mirror (default $JLIC_PRETRAINED_URL)")
    ap.add_argument("--index", default=None, help="JSON {name: {metric: {quality: url}}} of other weights")
    args = ap.parse_args(argv)
    try:
        qs = (qualities(args.model, args.metric) if args.quality == "all"
              else [int(q) for q in args.quality.split(",")])
    except ValueError:
        print(f"jlic pretrained: error: --quality must be integers or 'all', not {args.quality!r}",
              file=sys.stderr)
        return 2
    except PretrainedError as e:
        print(f"jlic pretrained: error: {e}", file=sys.stderr)
        return 2
    for q in qs:
        try:
            directory = fetch(args.model, q, args.metric, cache=args.cache, base_url=args.base_url,
                              index=args.index, quiet=False)
        except PretrainedError as e:
            print(f"jlic pretrained: error: {e}", file=sys.stderr)
            return 2
        target = directory
        if args.out is not None:
            target = args.out if len(qs) == 1 else args.out / f"q{q}"
            if is_local(target):
                if target.exists():
                    shutil.rmtree(target)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copytree(directory, target)
            else:  # an object store: model.json last, as jlic.codec.export writes exports there
                remove_tree(target)
                files = sorted(directory.iterdir(), key=lambda f: f.name == "model.json")
                for f in files:
                    atomic_write(target / f.name, f.read_bytes())
        print(f"{args.model} {args.metric} q{q}: {target}")
    return 0
