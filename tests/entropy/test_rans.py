"""jlic.entropy.rans (numba kernels) against constriction's AnsCoder: same bytes, same symbols, same errors.

The reference is the constriction path jlic used before the kernels: ``Coder.segments`` coded with
``constriction.stream.stack.AnsCoder.encode_reverse`` and decoded with ``Coder.decode_from``.
"""

import time

import constriction
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jlic.entropy import cdf, coder, rans
from jlic.entropy.bitstream import BitstreamError
from jlic.entropy.stream import StreamReader, StreamWriter, escape_segments

FAMILY = constriction.stream.model.Categorical(perfect=False)
CHECK = np.array([0x4A4C, 0x4943], np.int32)


def reference_encode(steps, check):
    """constriction's bytes for StreamWriter steps: ("coder", c, sym, idx) or ("segments", segs)."""
    ans = constriction.stream.stack.AnsCoder()
    if check:
        ans.encode_reverse(CHECK, constriction.stream.model.Uniform(1 << 16))
    for step in reversed(steps):
        segs = step[1].segments(step[2], step[3]) if step[0] == "coder" else step[1]
        for syms, model, params in reversed(segs):
            ans.encode_reverse(syms, model, *params)
    return ans.get_compressed().astype("<u4").tobytes()


def reference_decode(data, steps):
    """Decode with constriction alone (Coder.decode_from); raises BitstreamError like the coder does."""
    ans = constriction.stream.stack.AnsCoder(np.frombuffer(data, "<u4").astype(np.uint32))
    out = []
    for step in steps:
        if step[0] == "coder":
            out.append(step[1].decode_from(ans, step[3]))
        else:
            out.extend(np.asarray(ans.decode(m, *(p or (len(s),))), np.int32) for s, m, p in step[1])
    return out, ans


def random_tables(rng, precision, num_tables, width):
    pmf = rng.random((num_tables, width)) ** rng.uniform(0.5, 8)
    length = rng.integers(1, width + 1, num_tables)
    offset = rng.integers(-(2**31), 2**31 - 1 - width, num_tables)
    return cdf.from_pmf(pmf, offset, length, precision)


def random_step(rng, c, n, escape_rate):
    t = c.tables
    idx = rng.integers(0, t.num_tables, n).astype(np.int32)
    u = rng.integers(0, 1 << t.precision, n)  # sample from the tables themselves
    k = np.zeros(n, np.int64)
    for table in np.unique(idx):
        rows = idx == table
        k[rows] = np.searchsorted(t.cdf[table, : t.cdf_length[table]], u[rows], side="right") - 1
    k = np.minimum(k, t.length[idx] - 1)
    sym = (t.offset[idx].astype(np.int64) + k).astype(np.int32)
    esc = rng.random(n) < escape_rate
    sym[esc] = rng.integers(-(2**31), 2**31, int(esc.sum()))
    return sym, idx


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), precision=st.integers(1, 16), check=st.booleans(),
       kinds=st.lists(st.sampled_from(["a", "b", "mixture", "uniform", "escapes"]), min_size=1, max_size=5))
def test_stream_bytes_and_symbols_equal_constriction(seed, precision, check, kinds):
    rng = np.random.default_rng(seed)
    width = int(min(rng.integers(1, 300), (1 << precision) - 1))
    coders = {name: coder.Coder(random_tables(rng, precision, int(rng.integers(1, 300)), width))
              for name in ("a", "b")}
    steps = []
    for kind in kinds:
        n = int(rng.integers(0, 400))
        if kind in coders:
            rate = rng.choice([0, 0.01, 0.3])
            steps.append(("coder", coders[kind], *random_step(rng, coders[kind], n, rate)))
        elif kind == "mixture":
            weights = rng.random((n, 7))
            steps.append(("segments", [((rng.random(n) * 7).astype(np.int32), FAMILY, (weights,))]))
        elif kind == "uniform":
            steps.append(("segments", [(rng.integers(0, 5, n).astype(np.int32),
                                        constriction.stream.model.Uniform(5), ())]))
        else:
            v = rng.integers(-(2**31), 2**31, n) - rng.integers(0, 2**31, n)
            length = rng.integers(1, 2**31, n)
            v = np.where((v >= 0) & (v < length), -1 - v, v)
            steps.append(("escapes", length, escape_segments(v, length), v))
    ref_steps = [("segments", s[2]) if s[0] == "escapes" else s for s in steps]

    writer = StreamWriter(check=check)
    for s in steps:
        if s[0] == "coder":
            writer.encode(s[1], s[2], s[3])
        else:
            writer.encode_segments(s[2] if s[0] == "escapes" else s[1])
    data = writer.finish()
    assert data == reference_encode(ref_steps, check)

    reader = StreamReader(data, check=check)
    for s in steps:
        if s[0] == "coder":
            np.testing.assert_array_equal(reader.decode(s[1], s[3]), s[2])
        elif s[0] == "escapes":
            np.testing.assert_array_equal(reader.decode_escapes(s[1]), s[3])
        else:
            for syms, model, params in s[1]:
                got = reader.decode_model(model, params[0] if params else len(syms))
                np.testing.assert_array_equal(got, syms)
    reader.finish()

    # And constriction decodes jlic's bytes (the same bytes) to the same symbols.
    out, ans = reference_decode(data, ref_steps)
    expected = [x for s in steps for x in ([s[2]] if s[0] == "coder" else
                                           [seg[0] for seg in (s[2] if s[0] == "escapes" else s[1])])]
    if not check:
        assert ans.is_empty()
    for got, want in zip(out, expected, strict=True):
        np.testing.assert_array_equal(np.asarray(got).reshape(-1), want.reshape(-1))


@pytest.mark.parametrize("precision", [1, 2, 8, 12, 16])
def test_full_rows_at_every_precision(precision):
    """Rows with 2**P symbols (every count 1 at the tail) and single-symbol rows decode like constriction."""
    rng = np.random.default_rng(precision)
    total = 1 << precision
    lengths = np.array([1, max(total - 1, 1), max(total // 2, 1)])
    pmf = np.zeros((3, lengths.max()))
    for t, n in enumerate(lengths):
        pmf[t, :n] = rng.random(n) ** 4
    tables = cdf.from_pmf(pmf, [-5, 0, 7], lengths, precision)
    c = coder.Coder(tables)
    sym, idx = random_step(rng, c, 3000, 0.02)
    data = c.encode(sym, idx)
    ref = constriction.stream.stack.AnsCoder()
    for syms, model, params in reversed(c.segments(sym, idx)):
        ref.encode_reverse(syms, model, *params)
    assert data == ref.get_compressed().astype("<u4").tobytes()
    np.testing.assert_array_equal(c.decode(data, idx), sym)


def test_garbage_decodes_exactly_like_constriction_and_quickly():
    """On random words, the kernels return what constriction returns (or both refuse), in bounded time."""
    rng = np.random.default_rng(5)
    c = coder.Coder(random_tables(rng, 16, 40, 120))
    idx = rng.integers(0, 40, 5000).astype(np.int32)
    agree = 0
    for trial in range(40):
        words = rng.integers(0, 2**32, int(rng.integers(0, 400)), dtype=np.uint64).astype(np.uint32)
        if trial % 3 == 0 and words.size:
            words[-1] = 0  # not a valid stream end
        data = words.astype("<u4").tobytes()
        t = time.perf_counter()
        try:
            ref = reference_decode(data, [("coder", c, None, idx)])[0][0]
        except (BitstreamError, ValueError):
            ref = None
        try:
            got = StreamReader(data).decode(c, idx)
        except BitstreamError:
            got = None
        assert time.perf_counter() - t < 2.0
        if ref is None:
            assert got is None
        else:
            np.testing.assert_array_equal(got, ref)
            agree += 1
    assert agree > 10


def test_bad_indexes_and_state_hand_over():
    c = coder.Coder(random_tables(np.random.default_rng(0), 16, 3, 10))
    for bad in (np.array([0, 3], np.int32), np.array([-1], np.int32), np.array([7], np.int64)):
        with pytest.raises(ValueError, match="table indexes"):
            c.encode(np.zeros(bad.shape, np.int32), bad)
        with pytest.raises(ValueError, match="table indexes"):
            c.decode(b"", bad)
    # The writer's stack survives any number of hand-overs to constriction and back.
    writer = rans.Writer()
    for i in range(50):
        if i % 2:
            writer.push_segments([(np.array([i % 5], np.int32), constriction.stream.model.Uniform(5), ())])
        else:
            writer.push_uniform(np.array([i], np.int64), 1 << 16)
    reader = rans.Reader(writer.to_bytes())
    for i in reversed(range(50)):
        if i % 2:
            assert reader.constriction_coder().decode(constriction.stream.model.Uniform(5), 1)[0] == i % 5
        else:
            assert reader.pop_uniform(1, 1 << 16)[0] == i
    assert reader.is_empty()
