"""The one real-bytes evaluator: per image, compress to ``.jlic`` bytes, decode, and measure.

Serves ``python -m jlic eval`` (per-image table and mean) and the sweep's ``rd.json`` (means per λ, via
:func:`jlic.evaluation.report.evaluate_model`). Per image: bytes and bpp ``bytes * 8 / (H * W)`` of the whole
file (container header included; under the CompressAI convention of :mod:`jlic.codec.conventions` the
stream bytes only, as CompressAI counts them), the estimated rate ``-Σ log2 p / (H * W)`` of the same
model's forward pass, the share of those estimated bits that comes from latents the model gives a likelihood
below ``2**-precision`` of the coding tables (the tables floor every probability there and escape values past
their support, so such latents cost the coder fewer bits than the estimate says), PSNR-RGB and MS-SSIM of
the decoded 8-bit image (MS-SSIM ``None`` below 161 px a side), encode and decode seconds. The first image
of each size is coded once untimed so that jit compilation is not counted.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

KEYS = ("bytes", "bpp", "bpp-estimated", "estimated-tail-share", "psnr-rgb", "ms-ssim-rgb", "encoding_time",
        "decoding_time")


def _estimator(codec: Any) -> Any:
    from jlic.codec import conventions

    model = codec.model
    floor_bits = float(codec.tables.factorized.precision)
    padding = conventions.CONVENTIONS[conventions.of(codec)]

    @jax.jit
    def estimate(p: Any, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        bits = [-jnp.log2(v) for v in model.apply(p, x, train=False, padding=padding).likelihoods.values()]
        total = sum(jnp.sum(b) for b in bits)
        tail = sum(jnp.sum(jnp.where(b > floor_bits, b, 0.0)) for b in bits)
        return total / (x.shape[1] * x.shape[2]), tail / jnp.maximum(total, 1e-9)

    return estimate


def evaluate_images(codec: Any, images: Sequence[tuple[str, np.ndarray]]) -> list[dict[str, Any]]:
    """One row per ``(name, HxWx3 uint8 image)`` for a :class:`jlic.codec.codec.Codec` (keys: ``KEYS``)."""
    from jlic.codec import conventions
    from jlic.metrics.msssim import min_size, ms_ssim
    from jlic.metrics.psnr import psnr_8bit

    estimate = _estimator(codec)
    convention = conventions.of(codec)
    rows = []
    warmed: set[tuple[int, ...]] = set()
    for name, img in images:
        if img.shape not in warmed:  # compile for this size outside the timed region
            codec.decompress(codec.compress(img))
            warmed.add(img.shape)
        t0 = time.perf_counter()
        data = codec.compress(img)
        t1 = time.perf_counter()
        rec = codec.decompress(data)
        t2 = time.perf_counter()
        x, x_hat = img.astype(np.float32) / 255, rec.astype(np.float32) / 255
        est_bpp, tail = estimate(codec.params, x[None])
        nbytes = conventions.rate_bytes(data, convention)
        rows.append({
            "image": name, "bytes": nbytes, "bpp": nbytes * 8 / (img.shape[0] * img.shape[1]),
            "bpp-estimated": float(est_bpp), "estimated-tail-share": float(tail),
            "psnr-rgb": float(psnr_8bit(x, x_hat)),
            "ms-ssim-rgb": float(ms_ssim(x, x_hat)) if min(img.shape[:2]) >= min_size() else None,
            "encoding_time": t1 - t0, "decoding_time": t2 - t1,
        })
    return rows


def mean_row(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Means over images (as CompressAI reports them); a key is ``None`` unless every image has it."""
    out: dict[str, Any] = {"image": "mean"}
    for key in KEYS:
        vals = [r[key] for r in rows if r.get(key) is not None]
        out[key] = float(np.mean(vals)) if vals and len(vals) == len(rows) else None
    return out
