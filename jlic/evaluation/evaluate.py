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

Image quality comes from one table, :data:`METRICS` (name -> function of the original and decoded images):
every row of every evaluation in jlic (this evaluator, the classic-codec baselines, the overfit sweep) is
measured by :func:`image_metrics` over it, so a new metric is one function and one entry there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jlic.metrics.msssim import min_size, ms_ssim
from jlic.metrics.psnr import psnr_8bit

Metric = Callable[[np.ndarray, np.ndarray], "float | None"]


def psnr_rgb(x: np.ndarray, x_hat: np.ndarray) -> float:
    """PSNR of the 8-bit RGB images (``x``, ``x_hat``: HxWx3 floats in [0, 1])."""
    return float(psnr_8bit(x, x_hat))


def ms_ssim_rgb(x: np.ndarray, x_hat: np.ndarray) -> float | None:
    """5-scale MS-SSIM on RGB (Wang et al. 2003); ``None`` for images under 161 px a side."""
    return float(ms_ssim(x, x_hat)) if min(x.shape[:2]) >= min_size() else None


# The metric table: name (the key in rows, rd.json and reports) -> function (original, decoded) -> value.
METRICS: dict[str, Metric] = {"psnr-rgb": psnr_rgb, "ms-ssim-rgb": ms_ssim_rgb}
KEYS = ("bytes", "bpp", "bpp-estimated", "estimated-tail-share", *METRICS, "encoding_time", "decoding_time")


def image_metrics(image: np.ndarray, decoded: np.ndarray, metrics: Mapping[str, Metric] = METRICS
                  ) -> dict[str, float | None]:
    """Every metric of ``metrics`` on a decoded HxWx3 uint8 image against the original."""
    if decoded.shape != image.shape:
        raise ValueError(f"decoded shape {decoded.shape} != original {image.shape}")
    x, x_hat = image / 255.0, decoded / 255.0  # float64: the metrics' own precision is the limit
    return {name: fn(x, x_hat) for name, fn in metrics.items()}


def code_and_measure(encode: Callable[[np.ndarray], bytes], decode: Callable[[bytes], np.ndarray],
                     image: np.ndarray, metrics: Mapping[str, Metric] = METRICS,
                     rate_bytes: Callable[[bytes], int] = len) -> tuple[bytes, dict[str, Any]]:
    """Encode and decode one image with any codec; (the bytes, a row: bytes, bpp, every metric, encode and
    decode seconds). ``rate_bytes``: the bytes that count for the rate (default: the whole file)."""
    t0 = time.perf_counter()
    data = encode(image)
    t1 = time.perf_counter()
    decoded = decode(data)
    t2 = time.perf_counter()
    nbytes = rate_bytes(data)
    row = {"bytes": nbytes, "bpp": nbytes * 8 / (image.shape[0] * image.shape[1]),
           **image_metrics(image, decoded, metrics), "encoding_time": t1 - t0, "decoding_time": t2 - t1}
    return data, row


def _estimator(codec: Any) -> Any:
    from jlic.codec import conventions

    model = codec.model
    some = codec.tables.factorized or codec.tables.gaussian
    floor_bits = float(some.precision if some is not None else 16)  # the coders' 16-bit tables
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

    estimate = _estimator(codec)
    convention = conventions.of(codec)
    rows = []
    warmed: set[tuple[int, ...]] = set()
    for name, img in images:
        if img.shape not in warmed:  # compile for this size outside the timed region
            codec.decompress(codec.compress(img))
            warmed.add(img.shape)
        _, row = code_and_measure(codec.compress, codec.decompress, img,
                                  rate_bytes=lambda data: conventions.rate_bytes(data, convention))
        est_bpp, tail = estimate(codec.params, img.astype(np.float32)[None] / 255)
        row.update({"image": name, "bpp-estimated": float(est_bpp), "estimated-tail-share": float(tail)})
        rows.append(row)
    return [{key: row[key] for key in ("image", *KEYS)} for row in rows]


def mean_row(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Means over images (as CompressAI reports them); a key is ``None`` unless every image has it."""
    out: dict[str, Any] = {"image": "mean"}
    for key in KEYS:
        vals = [r[key] for r in rows if r.get(key) is not None]
        out[key] = float(np.mean(vals)) if vals and len(vals) == len(rows) else None
    return out
