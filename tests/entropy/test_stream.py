"""Tests of jlic.entropy.stream: one ANS stream over several Coders and custom segments."""

import time

import constriction
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jlic.entropy import cdf, coder
from jlic.entropy.bitstream import BitstreamError
from jlic.entropy.stream import StreamReader, StreamWriter, escape_segments

INT32 = st.integers(-(2**31), 2**31 - 1)
FAMILY = constriction.stream.model.Categorical(perfect=False)


def factorized_like(channels=16, seed=0):
    """Per-channel tables of random smooth pmfs with their own offsets (like an entropy bottleneck's)."""
    rng = np.random.default_rng(seed)
    width = 40
    x = np.arange(width)[None, :]
    center = rng.uniform(5, 35, (channels, 1))
    pmf = np.exp(-np.abs(x - center) / rng.uniform(0.5, 4, (channels, 1)))
    length = rng.integers(10, width + 1, channels)
    offset = -rng.integers(0, 20, channels)
    return cdf.from_pmf(pmf, offset, length)


def gaussian_like(num=64):
    """Zero-mean discretized Gaussians over a log-spaced scale table (like the indexed conditional)."""
    from scipy.stats import norm

    scales = np.exp(np.linspace(np.log(0.11), np.log(64), num))
    center = np.ceil(scales * 6.1).astype(np.int64)
    length = 2 * center + 1
    k = np.arange(length.max())[None, :] - center[:, None]
    pmf = norm.cdf((k + 0.5) / scales[:, None]) - norm.cdf((k - 0.5) / scales[:, None])
    pmf = np.where(np.arange(length.max())[None, :] < length[:, None], pmf, 0.0)
    return cdf.from_pmf(pmf, -center, length)


FACT, GAUSS = coder.Coder(factorized_like()), coder.Coder(gaussian_like())


def sample(c, shape, rng, escapes=3):
    t = c.tables
    indexes = rng.integers(0, t.num_tables, shape).astype(np.int32)
    k = (rng.random(shape) * t.length[indexes]).astype(np.int64)
    symbols = (t.offset[indexes] + k).astype(np.int32)
    if escapes and symbols.size:
        symbols.flat[rng.choice(symbols.size, min(escapes, symbols.size), replace=False)] = rng.integers(
            -(2**31), 2**31, min(escapes, symbols.size))
    return symbols, indexes


@pytest.mark.parametrize("c", [FACT, GAUSS, coder.Coder(gaussian_like(), "range")],
                         ids=["fact", "gauss", "range"])
def test_one_step_reproduces_coder_encode(c):
    rng = np.random.default_rng(0)
    symbols, indexes = sample(c, (3, 5, 7), rng)
    w = StreamWriter()
    w.encode(c, symbols, indexes)
    data = w.finish()
    assert data == coder.Coder(c.tables).encode(symbols, indexes)
    r = StreamReader(data)
    np.testing.assert_array_equal(r.decode(c, indexes), symbols)
    r.finish()


def checkerboard(h, w):
    return (np.add.outer(np.arange(h), np.arange(w)) % 2 == 0)[None]


def test_hyperprior_then_checkerboard_passes_and_a_mixture_step_in_one_stream():
    rng = np.random.default_rng(1)
    z, z_idx = sample(FACT, (16, 4, 6), rng)
    y, y_idx = sample(GAUSS, (8, 12, 10), rng, escapes=5)
    anchor = np.broadcast_to(checkerboard(12, 10), y.shape)
    # A custom step: per-symbol categorical tables of width 6 + escape, as a mixture codec builds them.
    counts = rng.integers(1, 1000, (50, 7)).astype(np.float64)
    weights = counts / counts.sum(1, keepdims=True) * 2**24  # any float weights; the decoder uses the same
    v = rng.integers(0, 6, 50)
    v[[3, 17]] = [-(10**6), 2**31 - 100]  # escapes
    escape = (v < 0) | (v >= 6)
    mixture = [(np.where(escape, 6, v), FAMILY, (weights,)),
               *escape_segments(v[escape], np.full(escape.sum(), 6))]
    w = StreamWriter()
    w.encode(FACT, z, z_idx)
    w.encode(GAUSS, y[anchor], y_idx[anchor])
    w.encode(GAUSS, y[~anchor], y_idx[~anchor])
    w.encode_segments(mixture)
    data = w.finish()
    # One stream is shorter than four separately flushed ones.
    alone = StreamWriter()
    alone.encode_segments(mixture)
    separate = (len(FACT.encode(z, z_idx)) + len(GAUSS.encode(y[anchor], y_idx[anchor]))
                + len(GAUSS.encode(y[~anchor], y_idx[~anchor])) + len(alone.finish()))
    assert len(data) < separate

    r = StreamReader(data)
    np.testing.assert_array_equal(r.decode(FACT, z_idx), z)
    y_hat = np.zeros_like(y)
    y_hat[anchor] = r.decode(GAUSS, y_idx[anchor])
    y_hat[~anchor] = r.decode(GAUSS, y_idx[~anchor])
    np.testing.assert_array_equal(y_hat, y)
    k = r.decode_model(FAMILY, weights)
    assert k.dtype == np.int32
    got = k.astype(np.int64)
    got[k == 6] = r.decode_escapes(np.full(int((k == 6).sum()), 6))
    np.testing.assert_array_equal(got, v)
    r.finish()


@st.composite
def steps(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    out = []
    for kind in draw(st.lists(st.sampled_from(["fact", "gauss", "uniform", "family"]), max_size=6)):
        n = draw(st.integers(0, 60))
        if kind in ("fact", "gauss"):
            c = FACT if kind == "fact" else GAUSS
            symbols, indexes = sample(c, (n,), rng, escapes=0)
            for i in draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=4)) if n else []:
                symbols[i] = draw(INT32)
            out.append((kind, symbols, indexes))
        elif kind == "uniform":
            out.append((kind, rng.integers(0, 5, n).astype(np.int32), n))
        else:
            weights = rng.random((n, 4)) + 1e-3
            out.append((kind, rng.integers(0, 4, n).astype(np.int32), weights))
    return out


@settings(max_examples=60, deadline=None)
@given(case=steps())
def test_any_sequence_of_steps_round_trips(case):
    uniform = constriction.stream.model.Uniform(5)
    w = StreamWriter()
    for kind, symbols, spec in case:
        if kind == "fact":
            w.encode(FACT, symbols, spec)
        elif kind == "gauss":
            w.encode(GAUSS, symbols, spec)
        elif kind == "uniform":
            w.encode_segments([(symbols, uniform, ())])
        else:
            w.encode_segments([(symbols, FAMILY, (spec,))])
    r = StreamReader(w.finish())
    for kind, symbols, spec in case:
        if kind in ("fact", "gauss"):
            out = r.decode(FACT if kind == "fact" else GAUSS, spec)
        else:
            out = r.decode_model(uniform if kind == "uniform" else FAMILY, spec)
        np.testing.assert_array_equal(out, symbols)
    r.finish()


@settings(max_examples=40, deadline=None)
@given(values=st.lists(INT32, max_size=30), length=st.integers(1, 3000), offset=st.integers(-100, 100))
def test_escape_segments_round_trip(values, length, offset):
    v = np.array(values, np.int64) - offset
    v = v[(v < 0) | (v >= length)]
    w = StreamWriter()
    w.encode_segments(escape_segments(v, np.full(v.size, length)))
    r = StreamReader(w.finish())
    np.testing.assert_array_equal(r.decode_escapes(np.full(v.size, length)), v)
    r.finish()


def test_errors_are_bitstream_errors():
    rng = np.random.default_rng(2)
    y, y_idx = sample(GAUSS, (2000,), rng)
    w = StreamWriter()
    w.encode(GAUSS, y, y_idx)
    data = w.finish()
    with pytest.raises(ValueError, match="already"):
        w.finish()
    with pytest.raises(BitstreamError, match="multiple of 4"):
        StreamReader(data[:-1])
    r = StreamReader(b"\x01\x00\x00\x00" + data)
    r.decode(GAUSS, y_idx)
    with pytest.raises(BitstreamError, match="trailing"):
        r.finish()
    with pytest.raises(BitstreamError, match="zero word"):
        StreamReader(data + b"\x00\x00\x00\x00")  # ANS data never ends in a zero word
    # ANS cannot tell reading past the end from symbols that were free to encode: an empty stack decodes as
    # symbol index 0 (which a valid stream's last-decoded index-0 symbols really are); the CRC catches it.
    np.testing.assert_array_equal(StreamReader(b"").decode_model(FAMILY, rng.random((3, 4))), [0, 0, 0])
    # Garbage: a clear error or some symbols, quickly; never a hang or a raw constriction error.
    for _ in range(30):
        garbage = rng.integers(0, 256, 4 * rng.integers(0, 100)).astype(np.uint8).tobytes()
        t = time.perf_counter()
        try:
            r = StreamReader(garbage)
            assert r.decode(GAUSS, y_idx).shape == y_idx.shape
            r.decode_escapes(np.full(3, 10))
            r.finish()
        except BitstreamError:
            pass
        assert time.perf_counter() - t < 2.0
    with pytest.raises(ValueError):
        StreamWriter().encode(GAUSS, y, y_idx[:-1])
    with pytest.raises(ValueError):
        escape_segments(np.array([3]), np.array([10]))  # not an escape
    w = StreamWriter()
    w.encode_segments([(np.array([7], np.int32), constriction.stream.model.Uniform(5), ())])
    with pytest.raises(ValueError, match="cannot entropy-code"):
        w.finish()


def test_check_word_refuses_cut_padded_and_misindexed_streams():
    """With check=True a stream that was cut, padded or decoded with other indexes fails in finish()."""
    tables = gaussian_like()
    c = coder.Coder(tables)
    rng = np.random.default_rng(3)
    idx = rng.integers(0, tables.num_tables, (2, 8, 8, 16)).astype(np.int32)
    sym = np.rint(rng.normal(0, 1, idx.shape)).astype(np.int32)

    plain, checked = StreamWriter(), StreamWriter(check=True)
    for w in (plain, checked):
        w.encode(c, sym, idx)
    plain_data, data = plain.finish(), checked.finish()
    assert len(plain_data) <= len(data) <= len(plain_data) + 8  # the first 32 bits may fill the initial state

    reader = StreamReader(data, check=True)
    np.testing.assert_array_equal(reader.decode(c, idx), sym)
    reader.finish()

    def decode_all(d: bytes, indexes: np.ndarray) -> None:
        r = StreamReader(d, check=True)
        r.decode(c, indexes)
        r.finish()

    refused = 0
    for bad in (data[: len(data) // 2], data[4:], data + b"\0\0\0\0", data[:-4]):
        try:
            decode_all(bad, idx)
        except BitstreamError:
            refused += 1
    assert refused == 4
    with pytest.raises(BitstreamError):
        decode_all(data, (idx + 1) % tables.num_tables)
    # Without the check the exhausted-stack case goes unnoticed: the point of the check word.
    r = StreamReader(b"", check=False)
    r.decode(c, idx[:1, :1, :1, :1])
    r.finish()
    with pytest.raises(BitstreamError, match="check word"):
        decode_all(b"", idx[:1, :1, :1, :1])
