"""Bjøntegaard delta rate (BD-rate) and delta PSNR (BD-PSNR) between two rate-distortion curves.

References:
  G. Bjøntegaard, "Calculation of average PSNR differences between RD-curves", ITU-T VCEG-M33, 2001:
  fit a cubic polynomial to each curve (log-rate as a function of PSNR for BD-rate, PSNR as a function of
  log-rate for BD-PSNR), integrate both fits over the overlapping interval, and report the mean gap.
  Piecewise cubic Hermite interpolation (PCHIP, Fritsch & Carlson, SIAM J. Numer. Anal. 1980) in place of
  the global cubic fit, as adopted by the JCT-VC common-test-conditions spreadsheet and libaom's
  ``visual_metrics.py`` (``bdrate2``): it passes through every point and never oscillates, so it stays
  sane for curves with many points or uneven spacing, where the global cubic can bend away from the data.
  This module uses ``scipy.interpolate.PchipInterpolator``.

Sign convention: BD-rate is the average bitrate change (percent) of ``test`` relative to ``anchor`` at
equal quality -- negative means ``test`` needs fewer bits. BD-PSNR is the average quality gain (dB) of
``test`` at equal rate -- positive means ``test`` is better. ``quality`` may be PSNR or any quality in dB
(e.g. MS-SSIM as ``-10 log10(1 - ms_ssim)``); rates may be bpp or bytes (only ratios matter).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from scipy.interpolate import PchipInterpolator

Method = Literal["cubic", "pchip"]
METHODS: tuple[str, ...] = ("cubic", "pchip")


def _points(rate: Sequence[float], quality: Sequence[float], name: str) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(rate, dtype=np.float64).ravel()
    q = np.asarray(quality, dtype=np.float64).ravel()
    if r.shape != q.shape:
        raise ValueError(f"{name}: {r.size} rates but {q.size} quality values")
    if r.size < 2:
        raise ValueError(f"{name}: need at least 2 RD points, got {r.size}")
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(q))):
        raise ValueError(f"{name}: rates and quality values must be finite")
    if np.any(r <= 0):
        raise ValueError(f"{name}: rates must be positive")
    return np.log(r), q


def _integral(x: np.ndarray, y: np.ndarray, lo: float, hi: float, method: str, name: str) -> float:
    """Integral over [lo, hi] of the curve y(x) through the points, fitted by ``method``."""
    if method == "cubic":
        if x.size < 4:
            raise ValueError(f"{name}: the cubic (VCEG-M33) fit needs at least 4 RD points, got {x.size}")
        poly = np.polynomial.Polynomial.fit(x, y, 3)
        antiderivative = poly.integ()
        return float(antiderivative(hi) - antiderivative(lo))
    if method == "pchip":
        order = np.argsort(x)
        xs, ys = x[order], y[order]
        if np.any(np.diff(xs) <= 0):
            raise ValueError(f"{name}: PCHIP needs distinct values on the integration axis (duplicate points?)")
        return float(PchipInterpolator(xs, ys).integrate(lo, hi))
    raise ValueError(f"unknown BD method {method!r}; choose one of {METHODS}")


def _overlap(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    lo, hi = max(a.min(), b.min()), min(a.max(), b.max())
    if not hi > lo:
        raise ValueError(f"RD curves do not overlap on the integration axis ([{a.min():.4g}, {a.max():.4g}] vs "
                         f"[{b.min():.4g}, {b.max():.4g}])")
    return float(lo), float(hi)


def bd_rate(
    rate_anchor: Sequence[float],
    quality_anchor: Sequence[float],
    rate_test: Sequence[float],
    quality_test: Sequence[float],
    method: Method = "cubic",
) -> float:
    """BD-rate in percent of ``test`` vs ``anchor`` (negative: ``test`` saves bits at equal quality).

    ``method="cubic"`` is VCEG-M33 (cubic least-squares fit of log-rate over quality); ``"pchip"`` uses
    piecewise cubic Hermite interpolation. The mean log-rate gap over the overlapping quality interval is
    turned into a percentage with ``exp(gap) - 1``. Raises ValueError when the quality ranges do not overlap.
    """
    lr_a, q_a = _points(rate_anchor, quality_anchor, "anchor")
    lr_t, q_t = _points(rate_test, quality_test, "test")
    lo, hi = _overlap(q_a, q_t)
    area_test = _integral(q_t, lr_t, lo, hi, method, "test")
    area_anchor = _integral(q_a, lr_a, lo, hi, method, "anchor")
    gap = (area_test - area_anchor) / (hi - lo)
    return float((np.exp(gap) - 1.0) * 100.0)


def bd_psnr(
    rate_anchor: Sequence[float],
    quality_anchor: Sequence[float],
    rate_test: Sequence[float],
    quality_test: Sequence[float],
    method: Method = "cubic",
) -> float:
    """BD-PSNR in dB of ``test`` vs ``anchor`` (positive: ``test`` has higher quality at equal rate).

    The mean gap between the two quality-over-log-rate curves over their overlapping log-rate interval,
    fitted by ``method`` (see ``bd_rate``). Raises ValueError when the rate ranges do not overlap.
    """
    lr_a, q_a = _points(rate_anchor, quality_anchor, "anchor")
    lr_t, q_t = _points(rate_test, quality_test, "test")
    lo, hi = _overlap(lr_a, lr_t)
    area_test = _integral(lr_t, q_t, lo, hi, method, "test")
    area_anchor = _integral(lr_a, q_a, lo, hi, method, "anchor")
    return (area_test - area_anchor) / (hi - lo)
