"""BD-rate / BD-PSNR on published Kodak curves, cross-checked with an independent implementation written
here: a least-squares cubic (or a hand-written Fritsch-Carlson PCHIP) sampled densely and integrated by the
trapezoid rule, instead of jlic's closed-form polynomial antiderivative / scipy's PchipInterpolator."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from jlic.metrics.bdrate import bd_psnr, bd_rate

ANCHORS = Path(__file__).parents[2] / ".." / "shared" / "reference" / "kodak-rd"


def _curve(name: str) -> tuple[np.ndarray, np.ndarray]:
    path = ANCHORS / f"{name}.json"
    if not path.exists():
        pytest.skip(f"reference RD curves not found at {ANCHORS}")
    res = json.loads(path.read_text())["results"]
    return np.asarray(res["bpp"], float), np.asarray(res["psnr-rgb"], float)


def _cubic_fn(x: np.ndarray, y: np.ndarray):
    center, scale = x.mean(), x.std()
    t = (x - center) / scale
    coef, *_ = np.linalg.lstsq(np.stack([t**0, t, t**2, t**3], axis=1), y, rcond=None)
    return lambda u: np.stack([((u - center) / scale) ** p for p in range(4)], axis=1) @ coef


def _pchip_fn(x: np.ndarray, y: np.ndarray):
    """Fritsch-Carlson monotone cubic Hermite interpolant (with the usual 3-point, shape-preserving ends)."""
    order = np.argsort(x)
    x, y = x[order], y[order]
    h = np.diff(x)
    delta = np.diff(y) / h
    d = np.zeros_like(x)
    for k in range(1, len(x) - 1):
        if delta[k - 1] * delta[k] > 0:
            w1, w2 = 2 * h[k] + h[k - 1], h[k] + 2 * h[k - 1]
            d[k] = (w1 + w2) / (w1 / delta[k - 1] + w2 / delta[k])

    def end(h0, h1, m0, m1):
        v = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
        if np.sign(v) != np.sign(m0):
            return 0.0
        if np.sign(m0) != np.sign(m1) and abs(v) > abs(3 * m0):
            return 3 * m0
        return v

    if len(x) > 2:
        d[0] = end(h[0], h[1], delta[0], delta[1])
        d[-1] = end(h[-1], h[-2], delta[-1], delta[-2])
    else:
        d[:] = delta[0]

    def f(u):
        k = np.clip(np.searchsorted(x, u, side="right") - 1, 0, len(x) - 2)
        s = (u - x[k]) / h[k]
        h00, h10, h01, h11 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s, -2 * s**3 + 3 * s**2, s**3 - s**2
        return h00 * y[k] + h10 * h[k] * d[k] + h01 * y[k + 1] + h11 * h[k] * d[k + 1]

    return f


def _mean_gap(xa, ya, xt, yt, method):
    fit = _cubic_fn if method == "cubic" else _pchip_fn
    lo, hi = max(xa.min(), xt.min()), min(xa.max(), xt.max())
    u = np.linspace(lo, hi, 400_001)
    return np.trapezoid(fit(xt, yt)(u) - fit(xa, ya)(u), u) / (hi - lo)


def _independent_bd_rate(ra, qa, rt, qt, method):
    return (np.exp(_mean_gap(qa, np.log(ra), qt, np.log(rt), method)) - 1) * 100


def _independent_bd_psnr(ra, qa, rt, qt, method):
    return _mean_gap(np.log(ra), qa, np.log(rt), qt, method)


PAIRS = [
    ("jpeg", "compressai-bmshj2018-hyperprior_mse_cpu"),
    ("paper-bmshj2018-hyperprior", "paper-mbt2018"),
    ("webp", "jpeg2000"),
]


@pytest.mark.parametrize("method", ["cubic", "pchip"])
@pytest.mark.parametrize(("anchor", "test"), PAIRS)
def test_published_curves_agree_with_independent_implementation(anchor, test, method):
    ra, qa = _curve(anchor)
    rt, qt = _curve(test)
    got_rate = bd_rate(ra, qa, rt, qt, method=method)
    got_psnr = bd_psnr(ra, qa, rt, qt, method=method)
    assert got_rate == pytest.approx(_independent_bd_rate(ra, qa, rt, qt, method), abs=1e-4)
    assert got_psnr == pytest.approx(_independent_bd_psnr(ra, qa, rt, qt, method), abs=1e-5)


def test_learned_models_beat_their_anchors():
    # mbt2018 (arXiv 1809.02736) improves on the hyperprior (arXiv 1802.01436), which improves on JPEG.
    for anchor, test in PAIRS[:2]:
        ra, qa = _curve(anchor)
        rt, qt = _curve(test)
        for method in ("cubic", "pchip"):
            assert bd_rate(ra, qa, rt, qt, method=method) < 0
            assert bd_psnr(ra, qa, rt, qt, method=method) > 0


@pytest.mark.parametrize("method", ["cubic", "pchip"])
def test_sanity_identities(method):
    r, q = _curve("jpeg")
    assert bd_rate(r, q, r, q, method=method) == pytest.approx(0.0, abs=1e-9)
    assert bd_psnr(r, q, r, q, method=method) == pytest.approx(0.0, abs=1e-9)
    assert bd_rate(r, q, 0.9 * r, q, method=method) == pytest.approx(-10.0, abs=1e-6)
    assert bd_psnr(r, q, r, q + 0.5, method=method) == pytest.approx(0.5, abs=1e-9)
    # Swapping anchor and test inverts the rate ratio and negates the PSNR gap.
    r2, q2 = _curve("webp")
    ab, ba = bd_rate(r, q, r2, q2, method=method), bd_rate(r2, q2, r, q, method=method)
    assert (1 + ab / 100) * (1 + ba / 100) == pytest.approx(1.0, abs=1e-9)
    forward, backward = bd_psnr(r, q, r2, q2, method=method), bd_psnr(r2, q2, r, q, method=method)
    assert forward == pytest.approx(-backward, abs=1e-9)


def test_point_order_does_not_matter():
    r, q = _curve("jpeg")
    r2, q2 = _curve("webp")
    perm = np.random.default_rng(0).permutation(len(r2))
    for method in ("cubic", "pchip"):
        shuffled = bd_rate(r, q, r2[perm], q2[perm], method=method)
        assert shuffled == pytest.approx(bd_rate(r, q, r2, q2, method=method))


def test_errors_are_clear():
    r = np.array([0.1, 0.2, 0.4, 0.8])
    q = np.array([26.0, 28.0, 30.0, 32.0])
    with pytest.raises(ValueError, match="overlap"):
        bd_rate(r, q, r, q + 10)
    with pytest.raises(ValueError, match="at least 4"):
        bd_rate(r[:3], q[:3], r, q, method="cubic")
    assert np.isfinite(bd_rate(r[:3], q[:3], r, q, method="pchip"))
    with pytest.raises(ValueError, match="positive"):
        bd_rate(r - 0.1, q, r, q)
    with pytest.raises(ValueError, match="unknown BD method"):
        bd_rate(r, q, r, q, method="akima")  # type: ignore[arg-type]
