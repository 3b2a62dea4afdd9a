"""``python -m jlic convert-deterministic --checkpoint IN --out OUT``: a float checkpoint (trained or imported)
-> one whose files are coded in the deterministic mode.

The conversion is post-training and needs no data (arXiv 2202.07513's per-channel power-of-two weight grids,
here derived from the float32 parameters by exact operations at coding time, so the parameters are stored
unchanged and the float mode stays available). What the command does: checks on a probe image that every
network the latent codecs call is supported by :mod:`jlic.fixedpoint.interpreter` and that its accumulator
bound stays under 2**53, checks that a decoder summing in another order gets the same latents, and writes
OUT = the model + its coding tables + ``"coding_mode": "deterministic"`` in model.json (which
``python -m jlic compress`` then uses by default).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from jlic.fixedpoint import interpreter
from jlic.fixedpoint.interpreter import DeterminismError, Options


def probe_image(h: int = 64, w: int = 64) -> np.ndarray:
    """A smooth synthetic test image (no file needed)."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([np.sin(yy / 7.0), np.cos(xx / 5.0), np.sin((xx + yy) / 9.0)], -1) * 100 + 128
    return img.astype(np.uint8)


def check(codec, image: np.ndarray) -> dict:
    """Encode ``image`` in the deterministic mode, decode it twice (another summation order); stats."""
    from jlic.coding.bitstream import BitstreamError
    from jlic.fixedpoint.context import DeterministicContext

    enc_opts = Options()
    codec.contexts["deterministic"] = DeterministicContext.of(codec.context, enc_opts)
    data, ref = codec.compress_with_latents(image)
    codec.contexts["deterministic"] = DeterministicContext.of(codec.context, Options(
        shuffle=np.random.default_rng(0)))
    try:
        _, got = codec.decompress_latents(data)
    except BitstreamError as e:
        raise DeterminismError(f"the probe file does not decode: {e}") from None
    finally:
        codec.contexts["deterministic"] = DeterministicContext.of(codec.context)
    if not all(np.array_equal(ref[k], got[k]) for k in ref):
        raise DeterminismError("a decoder summing in another order got other latents")
    return {"act_frac_bits": interpreter.ACT_FRAC, "act_bits": interpreter.ACT_BITS,
            "weight_bits": interpreter.WEIGHT_BITS,
            "max_accumulator_log2": round(math.log2(max(enc_opts.max_accumulator, 1.0)), 2),
            "probe_bytes": len(data)}


def main(argv: list[str] | None = None) -> int:
    from jlic.coding.cli import TABLES_FILE, CliError, atomic_write, load_codec, read_image
    from jlic.models.export import read_model_json, save_model

    p = argparse.ArgumentParser(prog="python -m jlic convert-deterministic", description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", required=True, help="exported model directory (model.json + params.npz)")
    p.add_argument("--out", required=True, help="directory to write the converted model to")
    p.add_argument("--image", default=None, help="probe image (default: a synthetic 64x64 one)")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        codec = load_codec(args.checkpoint, mode="deterministic")
        image = probe_image() if args.image is None else read_image(args.image)[0]
        stats = check(codec, image)
    except (CliError, DeterminismError, ValueError) as e:
        print(f"jlic convert-deterministic: error: {e}", file=sys.stderr)
        return 1
    meta = read_model_json(args.checkpoint)
    extra = {k: v for k, v in meta.items() if k not in ("name", "kwargs")}
    out = save_model(args.out, codec.model, codec.params, {**extra, "coding_mode": "deterministic",
                                                            "fixedpoint": stats})
    atomic_write(Path(out) / TABLES_FILE, codec.tables.to_bytes())
    print(f"{out}: {codec.model.name} in the deterministic mode (accumulators <= 2**"
          f"{stats['max_accumulator_log2']} of 2**53 on the probe)")
    return 0
