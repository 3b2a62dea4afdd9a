"""The deterministic mode's conversion check, behind ``python -m jlic convert-deterministic --checkpoint IN
--out OUT``: a float checkpoint (trained or imported) -> one whose files are coded in the deterministic mode.

The conversion is post-training and needs no data (arXiv 2202.07513's per-channel power-of-two weight grids,
here derived from the float32 parameters by exact operations at coding time, so the parameters are stored
unchanged and the float mode stays available). What the command does: checks on a probe image that every
network the latent codecs call is supported by :mod:`jlic.fixedpoint.interpreter` and that its accumulator
bound stays under 2**53, checks that a decoder summing in another order gets the same latents, and writes
OUT = the model + its coding tables + ``"coding_mode": "deterministic"`` in model.json (which
``python -m jlic compress`` then uses by default).
"""

from __future__ import annotations

import math

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
    from jlic.entropy.bitstream import BitstreamError
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
