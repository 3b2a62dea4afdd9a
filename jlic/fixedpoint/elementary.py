"""Elementary functions from IEEE-754 float64 basic operations in a fixed order (no libm).

The platform's ``exp`` / ``log`` / ``tanh`` (glibc, numpy's SIMD loops, CUDA's libdevice) differ in the
last bits between machines; these polynomials use only +, -, *, / and exact power-of-two scaling
(``ldexp`` / ``frexp``), one numpy ufunc per step, which every conforming machine rounds identically.
Accuracy is a few float64 ulps (far below the 2**-12 grid the next conv rounds to).
"""

from __future__ import annotations

import numpy as np

_LN2_HI = 6.93147180369123816490e-01  # fdlibm's split of ln 2: _LN2_HI exact in 32 bits
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
_EXP_COEF = [1.0 / np.prod(np.arange(1, k + 1, dtype=np.float64)) for k in range(14)]  # 1/k!, k = 0..13
_SQRT_HALF = 0.70710678118654752440


def exp(x: np.ndarray) -> np.ndarray:
    """e**x: x = k ln2 + r (|r| <= ln2/2, Cody-Waite), Taylor polynomial of degree 13 (Horner), * 2**k."""
    x = np.clip(np.asarray(x, np.float64), -745.0, 709.0)
    k = np.rint(x * _INV_LN2)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    p = np.full_like(r, _EXP_COEF[13])
    for c in reversed(_EXP_COEF[:13]):
        p = p * r + c
    return np.ldexp(p, k.astype(np.int64))


def exp2(x: np.ndarray) -> np.ndarray:
    return exp(np.asarray(x, np.float64) * _LN2_HI + np.asarray(x, np.float64) * _LN2_LO)


def expm1(x: np.ndarray) -> np.ndarray:
    return exp(x) - 1.0


def log(x: np.ndarray) -> np.ndarray:
    """ln x: x = m 2**e (m in [sqrt(1/2), sqrt(2))), ln m = 2 atanh(s), s = (m-1)/(m+1), odd series to s**25."""
    x = np.asarray(x, np.float64)
    pos = x > 0
    m, e = np.frexp(np.where(pos, x, 1.0))
    small = m < _SQRT_HALF
    m = np.where(small, m * 2.0, m)
    e = np.where(small, e - 1, e).astype(np.float64)
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    p = np.full_like(s, 1.0 / 25.0)
    for k in range(23, 0, -2):
        p = p * s2 + 1.0 / k
    out = 2.0 * s * p + (e * _LN2_HI + e * _LN2_LO)
    out = np.where(x == 0, -np.inf, out)
    out = np.where(x < 0, np.nan, out)
    return np.where(np.isinf(x) & pos, np.inf, out)


def log1p(x: np.ndarray) -> np.ndarray:
    return log(1.0 + np.asarray(x, np.float64))


def tanh(x: np.ndarray) -> np.ndarray:
    """tanh x = sign(x) (1 - t) / (1 + t), t = exp(-2|x|)."""
    x = np.asarray(x, np.float64)
    t = exp(-2.0 * np.abs(x))
    return np.sign(x) * ((1.0 - t) / (1.0 + t))


def logistic(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)), from exp(-|x|) on both sides (no overflow)."""
    x = np.asarray(x, np.float64)
    t = exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + t), t / (1.0 + t))
