"""Tests of jlic.entropy.coder: exact round trips (hypothesis), escapes, bit counts, garbage input."""

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jlic.entropy import cdf, coder
from jlic.entropy.bitstream import BitstreamError

INT32 = st.integers(-(2**31), 2**31 - 1)


@st.composite
def tables_and_symbols(draw):
    num_tables = draw(st.integers(1, 5))
    width = draw(st.integers(1, 30))
    precision = draw(st.integers(6, 16))
    length = np.array([draw(st.integers(1, width)) for _ in range(num_tables)])
    offset = np.array([draw(st.integers(-(2**31), 2**31 - 1 - width)) for _ in range(num_tables)])
    pmf = np.array([[draw(st.floats(0, 1)) for _ in range(width)] for _ in range(num_tables)])
    tables = cdf.from_pmf(pmf, offset, length, precision)
    n = draw(st.integers(0, 200))
    indexes = np.array([draw(st.integers(0, num_tables - 1)) for _ in range(n)], np.int32)
    # Mostly in-support symbols, plus arbitrary int32 values (escapes, including the extremes).
    symbols = []
    for i in indexes:
        if draw(st.booleans()):
            symbols.append(int(offset[i]) + draw(st.integers(0, int(length[i]) - 1)))
        else:
            symbols.append(draw(INT32))
    return tables, np.array(symbols, np.int64).astype(np.int32), indexes


@settings(max_examples=80, deadline=None)
@given(case=tables_and_symbols(), backend=st.sampled_from(coder.BACKENDS))
def test_round_trip_any_int32(case, backend):
    tables, symbols, indexes = case
    c = coder.Coder(tables, backend)
    data = c.encode(symbols, indexes)
    out = c.decode(data, indexes)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, symbols)


def test_extreme_escapes_and_shapes():
    tables = cdf.from_pmf(np.array([[0.2, 0.6, 0.2], [1.0, 0.0, 0.0]]), [-1, 2**31 - 2], [3, 1])
    symbols = np.array(
        [[2**31 - 1, -(2**31), 0, 1, -1, 2, -2], [0, 2**31 - 2, 2**31 - 1, 5, 6, -7, 3]], np.int32
    )
    indexes = np.array([[0] * 7, [1] * 7], np.int32)
    for backend in coder.BACKENDS:
        out = coder.decode(coder.encode(symbols, indexes, tables, backend), indexes, tables, backend)
        np.testing.assert_array_equal(out, symbols)
        assert out.shape == symbols.shape


def gaussian_setup(num=60_000, seed=0):
    scales = np.exp(np.linspace(np.log(0.11), np.log(256), 64))
    from scipy.stats import norm

    center = np.ceil(scales * 6.10941).astype(np.int64)
    length = 2 * center + 1
    k = np.arange(length.max())[None, :] - center[:, None]
    pmf = norm.cdf((k + 0.5) / scales[:, None]) - norm.cdf((k - 0.5) / scales[:, None])
    pmf = np.where(np.arange(length.max())[None, :] < length[:, None], pmf, 0.0)
    tables = cdf.from_pmf(pmf, -center, length)
    rng = np.random.default_rng(seed)
    indexes = rng.integers(0, 50, num).astype(np.int32)
    symbols = np.round(rng.normal(size=num) * scales[indexes]).astype(np.int32)
    return tables, symbols, indexes


@pytest.mark.parametrize("backend", coder.BACKENDS)
def test_real_bits_match_the_quantized_tables(backend):
    """The coder's probabilities are exactly the integer tables: bytes ~ -sum log2 p (no escapes here)."""
    tables, symbols, indexes = gaussian_setup()
    data = coder.encode(symbols, indexes, tables, backend)
    est = -tables.log2_prob(symbols, indexes).sum()
    ratio = len(data) * 8 / est
    assert 1.0 <= ratio < 1.002, ratio
    # Changing a table changes the bit count accordingly (the tables really are what is used).
    flat = cdf.from_pmf(np.ones((64, 3131)) / 3131, tables.offset, tables.length)
    data_flat = coder.encode(symbols, indexes, flat, backend)
    assert len(data_flat) * 8 == pytest.approx(-flat.log2_prob(symbols, indexes).sum(), rel=2e-3)


def test_decoder_with_other_indexes_or_garbage_raises_or_returns_quickly():
    """The raw coder (no check word: the container adds one) decoding with the wrong indexes or from garbage
    raises BitstreamError or returns, within 2 s, an array of the asked shape; wrong indexes never give back
    the encoded symbols."""
    tables, symbols, indexes = gaussian_setup(5000)
    c = coder.Coder(tables)
    data = c.encode(symbols, indexes)
    rng = np.random.default_rng(2)
    others = ((indexes + 1) % 50, indexes[::-1].copy(), rng.integers(0, 64, indexes.shape).astype(np.int32))
    for other in others:
        t = time.perf_counter()
        try:
            out = c.decode(data, other)
            assert out.shape == indexes.shape and not np.array_equal(out, symbols)
        except BitstreamError:
            pass
        assert time.perf_counter() - t < 2.0
    with pytest.raises(BitstreamError):
        c.decode(data[:-1], indexes)  # not whole words
    with pytest.raises(BitstreamError):
        c.decode(data + b"\x00\x00\x00\x00", indexes)  # ANS data never ends in a zero word
    with pytest.raises(BitstreamError):
        c.decode(b"\x01\x00\x00\x00" + data, indexes)  # a word left over at the bottom of the stack
    rng = np.random.default_rng(1)
    for _ in range(50):
        garbage = rng.integers(0, 256, rng.integers(0, 400)).astype(np.uint8).tobytes()
        t = time.perf_counter()
        try:
            out = c.decode(garbage, indexes)
            assert out.shape == indexes.shape
        except BitstreamError:
            pass
        assert time.perf_counter() - t < 2.0


def test_bad_arguments():
    tables = cdf.from_pmf(np.array([[0.5, 0.5]]), [0], [2])
    with pytest.raises(ValueError):
        coder.encode(np.zeros(3, np.int32), np.ones(3, np.int32), tables)  # index out of range
    with pytest.raises(ValueError):
        coder.encode(np.zeros(3, np.int32), np.zeros(4, np.int32), tables)
    with pytest.raises(ValueError):
        coder.encode(np.array([2**40]), np.zeros(1, np.int32), tables)
    with pytest.raises(ValueError):
        coder.Coder(tables, "huffman")
    assert coder.decode(coder.encode(np.zeros(0, np.int32), np.zeros(0, np.int32), tables),
                        np.zeros(0, np.int32), tables).size == 0


_GAUSSIAN = {}


def gaussian_model_tables():
    """The real indexed Gaussian tables of jlic.entropy.gaussian (built once)."""
    gaussian = pytest.importorskip("jlic.entropy.gaussian")
    if not _GAUSSIAN:
        _GAUSSIAN["tables"] = cdf.from_pmf(*gaussian.pmf_table())
        _GAUSSIAN["coder"] = coder.Coder(_GAUSSIAN["tables"])
    return gaussian, _GAUSSIAN["coder"]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 3000),
    log_scale=st.tuples(st.floats(-3, 6), st.floats(0.1, 3)),
    outliers=st.lists(INT32, max_size=5),
)
def test_random_latents_and_scales_round_trip(seed, n, log_scale, outliers):
    gaussian, c = gaussian_model_tables()
    rng = np.random.default_rng(seed)
    scales = np.exp(rng.normal(log_scale[0], log_scale[1], n)).astype(np.float32)
    indexes = np.asarray(gaussian.scale_index(scales), np.int32)
    means = rng.normal(0, 5, n).astype(np.float32)
    y = means + rng.normal(size=n).astype(np.float32) * scales
    symbols = np.clip(np.rint(y - means), -(2**31), 2**31 - 1).astype(np.int32)
    symbols[: len(outliers)] = outliers[:n]
    out = c.decode(c.encode(symbols, indexes), indexes)
    np.testing.assert_array_equal(out, symbols)


def test_stream_format_is_stable():
    """The bytes of a fixed input (escapes included) stay those of the coder before its speed-up (commit
    39033d4, where this digest was taken), so files written by earlier versions still decode."""
    import hashlib

    tables, symbols, indexes = gaussian_setup(3000, seed=7)
    symbols[[5, 77, 1234]] = [2**31 - 1, -(2**31), 100000]
    data = coder.Coder(tables).encode(symbols, indexes)
    assert len(data) == 1292
    digest = "23c33c2ae0cb90b5ec8c30b0669fceefcc4a06673d9e353c6bb0c57794989dab"
    assert hashlib.sha256(data).hexdigest() == digest
    # Any integer dtype and layout of the inputs gives the same bytes; batches decode alike.
    assert coder.Coder(tables).encode(symbols.astype(np.int64), indexes.astype(np.uint8)) == data
    out = coder.decode(data, indexes.reshape(3, 1000), tables)
    np.testing.assert_array_equal(out, symbols.reshape(3, 1000))


def test_non_integer_inputs_are_rejected():
    tables = cdf.from_pmf(np.array([[0.5, 0.5]]), [0], [2])
    with pytest.raises(ValueError, match="integers"):
        coder.encode(np.zeros(3, np.int32), np.zeros(3, np.float32), tables)
    with pytest.raises(ValueError, match="integers"):
        coder.encode(np.zeros(3, np.float64), np.zeros(3, np.int32), tables)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        coder.decode(b"", np.array([-1], np.int64), tables)
