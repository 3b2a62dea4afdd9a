"""Tests of jlic.entropy.cdf: integer CDF invariants, determinism, closeness to the pmf."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from jlic.entropy import cdf


def gaussian_tables(scales: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    center = np.ceil(scales * 6.10941).astype(np.int64)
    length = 2 * center + 1
    k = np.arange(length.max())[None, :] - center[:, None]
    s = scales[:, None]
    pmf = norm.cdf((k + 0.5) / s) - norm.cdf((k - 0.5) / s)
    pmf = np.where(np.arange(length.max())[None, :] < length[:, None], pmf, 0.0)
    return pmf, -center, length


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.lists(st.floats(0, 1, allow_subnormal=False), min_size=1, max_size=40), min_size=1, max_size=6
    ),
    precision=st.integers(6, 16),
)
def test_invariants_hold_for_any_pmf(rows, precision):
    width = max(len(r) for r in rows)
    pmf = np.zeros((len(rows), width))
    for i, r in enumerate(rows):
        pmf[i, : len(r)] = r
    length = np.array([len(r) for r in rows])
    tables = cdf.from_pmf(pmf, np.zeros(len(rows), np.int32) - 3, length, precision)
    counts = tables.counts()
    for t, n in enumerate(length + 1):
        assert counts[t, :n].sum() == 1 << precision
        assert counts[t, :n].min() >= 1
        assert np.all(counts[t, n:] == 0)
    assert tables.cdf.dtype == np.int32 and tables.cdf_length.tolist() == (length + 2).tolist()


def test_counts_follow_the_pmf_and_escape_gets_the_tail():
    pmf, offset, length = gaussian_tables(np.array([0.5, 3.0, 40.0]))
    tables = cdf.from_pmf(pmf, offset, length)
    counts = tables.counts()
    for t in range(3):
        n = length[t]
        p = pmf[t, :n]
        q = counts[t, :n] / 65536
        # Relative error is small where the pmf is well above the 1/65536 resolution.
        big = p > 1e-3
        assert np.max(np.abs(q[big] / p[big] - 1)) < 0.05
        # Cross-entropy of the pmf under the quantized table is close to its entropy.
        excess = np.sum(p * np.log2(p / q)) / -np.sum(p * np.log2(np.maximum(p, 1e-300)))
        assert excess < 0.01
        assert counts[t, n] >= 1  # escape


def test_unnormalized_pmf_gives_minimal_escape():
    # Rows summing to more than 1 are renormalized; entries above 1 are clipped to 1.
    tables = cdf.from_pmf(np.array([[0.5, 1.0]]), np.array([0]), np.array([2]), precision=8)
    assert tables.counts()[0, :3].tolist() == [85, 170, 1]


def test_deterministic_and_serializable():
    pmf, offset, length = gaussian_tables(np.exp(np.linspace(np.log(0.11), np.log(256), 64)))
    a = cdf.from_pmf(pmf, offset, length)
    b = cdf.from_pmf(pmf.copy(order="F"), offset, length)
    assert np.array_equal(a.cdf, b.cdf)
    c = cdf.from_bytes(cdf.to_bytes(a))
    assert all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    assert a.cdf.shape == (64, 3133)  # CompressAI's (64, 3133) layout for this scale table


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        cdf.from_pmf(np.array([[0.5, np.nan]]), [0], [2])
    with pytest.raises(ValueError):
        cdf.from_pmf(np.array([[0.5, 0.5]]), [0], [0])
    with pytest.raises(ValueError):
        cdf.from_pmf(np.array([[0.5, 0.5]]), [0], [2], precision=17)
    with pytest.raises(ValueError):
        cdf.from_pmf(np.ones((1, 8)), [0], [8], precision=3)  # 9 symbols > 2**3


def test_concat_and_log2_prob():
    a = cdf.from_pmf(np.array([[0.25, 0.75]]), [0], [2], precision=4)
    b = cdf.from_pmf(np.array([[0.5, 0.25, 0.25]]), [-1], [3], precision=4)
    merged, starts = cdf.concat(a, b)
    assert starts == [0, 1] and merged.cdf.shape == (2, 5)
    cdf.validate(merged)
    lp = merged.log2_prob(np.array([1, -1, 7]), np.array([0, 1, 1]))
    counts = merged.counts()
    assert lp.tolist() == pytest.approx(np.log2([counts[0, 1], counts[1, 0], counts[1, 3]]) - 4)
