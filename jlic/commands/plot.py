"""`python -m jlic plot INPUTS... [--anchors ...]`: RD curves (PNG) and a BD-rate report (markdown) from
workdirs, RD JSON files and anchor folders (:mod:`jlic.evaluation.plot`)."""

from __future__ import annotations

import argparse
import sys

from jlic.evaluation import rdcurve
from jlic.evaluation.plot import _find, plot_rd, report, select_anchors
from jlic.metrics.bdrate import METHODS
from jlic.paths import as_path, atomic_write_text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jlic plot", description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="+", help="RD JSON files, workdirs with rd.json, or folders of JSONs")
    parser.add_argument("--anchors", nargs="*", default=[], help="anchor JSON files or folders (e.g. kodak-rd)")
    parser.add_argument("--anchor-glob", action="append", default=[],
                        help="choose anchor files in folders (repeatable; '*.json' for all)")
    parser.add_argument("--metric", choices=("psnr", "ms-ssim"), default="psnr")
    parser.add_argument("--reference", help="compare every curve to this one (name or file stem) instead")
    parser.add_argument("--bd-method", choices=METHODS, default="pchip")
    parser.add_argument("--out", help="PNG path (default: rd.png in the single workdir given, else ./rd.png)")
    parser.add_argument("--report", help="markdown path (default: report.md next to the PNG)")
    parser.add_argument("--title")
    parser.add_argument("--xmax", type=float, help="right end of the bpp axis")
    args = parser.parse_args(argv)
    try:
        curves = rdcurve.load_many(args.inputs)
        anchors = select_anchors(args.anchors, args.metric, args.anchor_glob) if args.anchors else []
        if args.out:
            out = as_path(args.out)
        elif len(args.inputs) == 1 and (as_path(args.inputs[0]) / rdcurve.WORKDIR_FILE).exists():
            out = as_path(args.inputs[0]) / "rd.png"
        else:
            out = as_path("rd.png")
        plot_rd(curves, out, args.metric, args.title, anchors=anchors, xmax=args.xmax)
        everything = list(curves) + anchors
        if args.reference:
            ref = _find(everything, args.reference)
            rows, cols = [c for c in everything if c is not ref], [ref]
        else:
            rows, cols = curves, anchors
        if not cols:
            print("jlic plot: no anchors or --reference given; writing the plot without a BD table",
                  file=sys.stderr)
            text = f"# Rate-distortion report\n\n![RD curves]({out.name})\n"
        else:
            text = report(rows, cols, args.metric, args.bd_method, image=out.name)
        report_path = as_path(args.report) if args.report else out.with_name("report.md")
        atomic_write_text(report_path, text, make_parents=True)
    except (ValueError, OSError) as e:
        print(f"jlic plot: error: {e}", file=sys.stderr)
        return 2
    print(text)
    print(f"wrote {out} and {report_path}", file=sys.stderr)
    return 0
