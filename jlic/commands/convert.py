"""`python -m jlic convert-deterministic --checkpoint IN --out OUT`: a float checkpoint -> one whose files are
coded in the deterministic (any-device) mode (:mod:`jlic.codec.deterministic`)."""

from __future__ import annotations

import argparse
import sys

from jlic.codec.deterministic import check, probe_image
from jlic.codec.export import TABLES_FILE, ExportError, load_codec, read_model_json, save_model
from jlic.commands.common import read_image
from jlic.data.image import ImageReadError
from jlic.fixedpoint.interpreter import DeterminismError


def main(argv: list[str] | None = None) -> int:
    """Check the checkpoint on a probe image in the deterministic mode, then write the converted export."""

    p = argparse.ArgumentParser(prog="python -m jlic convert-deterministic", description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", required=True, help="exported model directory (model.json + params.npz)")
    p.add_argument("--out", required=True, help="directory to write the converted model to")
    p.add_argument("--image", default=None, help="probe image (default: a synthetic 64x64 one)")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        codec = load_codec(args.checkpoint, mode="deterministic")
        image = probe_image() if args.image is None else read_image(args.image, prog="convert-deterministic")
        stats = check(codec, image)
    except (ExportError, ImageReadError, DeterminismError, ValueError) as e:
        print(f"jlic convert-deterministic: error: {e}", file=sys.stderr)
        return 1
    meta = read_model_json(args.checkpoint)
    extra = {k: v for k, v in meta.items() if k not in ("name", "kwargs")}
    out = save_model(args.out, codec.model, codec.params, {**extra, "coding_mode": "deterministic",
                                                            "fixedpoint": stats},
                     files={TABLES_FILE: codec.tables.to_bytes()})
    print(f"{out}: {codec.model.name} in the deterministic mode (accumulators <= 2**"
          f"{stats['max_accumulator_log2']} of 2**53 on the probe)")
    return 0
