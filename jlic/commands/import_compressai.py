"""`python -m jlic import-compressai MODEL QUALITY weights.pth --out DIR`: a CompressAI state_dict as a jlic
checkpoint (:mod:`jlic.interop.compressai`)."""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import jax
import numpy as np

from jlic.codec.export import save_model
from jlic.interop.compressai import COMPRESSAI_CLASSES, TABLES_FILE, import_compressai
from jlic.interop.compressai_vbr import VBR_CLASSES


def main(argv: list[str] | None = None) -> int:
    """`python -m jlic import-compressai MODEL QUALITY weights.pth --out DIR`."""
    ap = argparse.ArgumentParser(prog="python -m jlic import-compressai",
                                 description="Convert a CompressAI state_dict into a jlic checkpoint.")
    ap.add_argument("model", choices=sorted({**COMPRESSAI_CLASSES, **VBR_CLASSES}),
                    help="CompressAI zoo / jlic registry name")
    ap.add_argument("quality", type=int, help="zoo quality (1..8; N/M are read off the weights)")
    ap.add_argument("weights", type=Path, help=".pth or .pth.tar file (loaded with weights_only=True)")
    ap.add_argument("--out", type=Path, required=True, help="output directory (model.json + params.npz)")
    ap.add_argument("--lenient", action="store_true", help="ignore CompressAI parameters jlic does not use")
    args = ap.parse_args(argv)

    try:
        imp = import_compressai(args.model, args.weights, args.quality, strict=not args.lenient)
    except (KeyError, ValueError, TypeError, FileNotFoundError) as e:
        print(f"import-compressai: {e}", file=sys.stderr)
        return 1
    digest = hashlib.sha256(args.weights.read_bytes()).hexdigest()
    files = {TABLES_FILE: imp.tables.to_bytes()} if imp.tables is not None else None
    save_model(args.out, imp.model, imp.params,
               extra={"source": {"compressai": str(args.weights), "sha256": digest}}, files=files)
    n = sum(int(np.size(v)) for v in jax.tree.leaves(imp.params))
    print(f"imported {args.model} q{args.quality} {dict(imp.model.kwargs)}: {n} parameters -> {args.out}"
          + (f" (+ CompressAI CDF tables in {TABLES_FILE})" if imp.tables is not None else ""))
    return 0
