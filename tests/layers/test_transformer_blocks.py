"""Entroformer's building blocks (arXiv 2202.05492): diamond relative positions, top-k masking, attention."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jlic.layers.relative_position import FAR, diamond_buckets, relative_scores
from jlic.layers.topk import draw_k, masked_softmax, topk_keep, train_k_range
from jlic.layers.transformer import Attention, Transformer


def test_diamond_ties_offsets():
    h, w, num = 6, 7, 7
    b = diamond_buckets(h, w, num)
    pos = [(i, j) for i in range(h) for j in range(w)]
    rows: dict[tuple[int, int], int] = {}
    for q, (qi, qj) in enumerate(pos):
        for k, (ki, kj) in enumerate(pos):
            dv, dh = ki - qi, kj - qj
            if abs(dv) + abs(dh) <= 3:
                assert rows.setdefault((dv, dh), int(b[q, k])) == b[q, k]  # same offset, same row
            else:
                assert b[q, k] == FAR
    assert len(rows) == 25 and len(set(rows.values())) == 25  # the diamond: 2*3*3 + 2*3 + 1 offsets
    assert FAR not in rows.values()  # far offsets share a row no near offset uses
    assert rows[(0, 0)] == 3 * 7 + 3 and rows[(-1, 2)] == 2 * 7 + 5  # official layout (dv+3)*7 + (dh+3)
    with pytest.raises(ValueError, match="odd"):
        diamond_buckets(3, 3, 4)


def test_relative_scores_are_q_dot_r():
    rng = np.random.default_rng(0)
    q = rng.standard_normal((2, 3, 12, 5)).astype(np.float32)
    table = rng.standard_normal((49, 5)).astype(np.float32)
    b = diamond_buckets(3, 4, 7)
    got = np.asarray(relative_scores(jnp.asarray(q), jnp.asarray(table), b))
    ref = np.einsum("bhqd,qkd->bhqk", q, table[b])
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_topk_keeps_exactly_k_allowed_keys():
    rng = np.random.default_rng(1)
    s = jnp.asarray(rng.standard_normal((2, 3, 10, 20)), jnp.float32)
    allowed = jnp.asarray(rng.uniform(size=(10, 20)) < 0.6) | jnp.eye(10, 20, dtype=bool)
    for k in (1, 4, 7):
        keep = np.asarray(topk_keep(s, k, allowed))
        n_allowed = np.asarray(allowed).sum(-1)
        np.testing.assert_array_equal(keep.sum(-1), np.broadcast_to(np.minimum(k, n_allowed), keep.shape[:-1]))
        assert not (keep & ~np.asarray(allowed)).any()
        # the kept keys are the k best allowed ones
        masked = np.where(np.asarray(allowed), np.asarray(s), -np.inf)
        kth = -np.sort(-masked, -1)[..., k - 1: k]
        np.testing.assert_array_equal(keep, (masked >= kth) & np.asarray(allowed))
    # a traced k under jit with a static bound gives the same masks
    f = jax.jit(lambda k: topk_keep(s, k, allowed, k_max=9))
    for k in (1, 4, 7):
        np.testing.assert_array_equal(np.asarray(f(jnp.int32(k))), np.asarray(topk_keep(s, k, allowed)))
    with pytest.raises(ValueError, match="k_max"):
        topk_keep(s, jnp.int32(3), allowed)


def test_masked_keys_get_zero_weight():
    rng = np.random.default_rng(2)
    s = jnp.asarray(rng.standard_normal((4, 9)) * 10, jnp.float32)
    keep = jnp.asarray(rng.uniform(size=(4, 9)) < 0.5).at[:, 0].set(True)
    w = np.asarray(masked_softmax(s, keep))
    assert (w[~np.asarray(keep)] == 0).all()
    np.testing.assert_allclose(w.sum(-1), 1, rtol=1e-6)
    ref = np.where(np.asarray(keep), np.exp(np.asarray(s)), 0)
    np.testing.assert_allclose(w, ref / ref.sum(-1, keepdims=True), rtol=1e-5)
    g = jax.grad(lambda s: (masked_softmax(s, keep) * jnp.arange(9.0)).sum())(s)
    assert np.isfinite(np.asarray(g)).all() and (np.asarray(g)[~np.asarray(keep)] == 0).all()


def test_draw_k_range():
    assert train_k_range(32) == (16, 64)
    assert draw_k(None, 32) == 32
    ks = {int(draw_k(jax.random.PRNGKey(i), 32)) for i in range(200)}
    assert min(ks) >= 16 and max(ks) <= 63 and len(ks) > 30


def test_attention_uses_only_kept_keys():
    """Changing a key/value token outside a query's allowed set (or outside its top-k) changes nothing."""
    dim, n = 8, 12
    att = Attention(dim, 2, 4)
    x = jnp.asarray(np.random.default_rng(3).standard_normal((1, n, dim)), jnp.float32)
    table = jnp.asarray(np.random.default_rng(4).standard_normal((9, 4)), jnp.float32)
    b = diamond_buckets(3, 4, 3)
    allowed = jnp.asarray(np.arange(n)[None, :] <= np.arange(n)[:, None])  # causal
    params = att.init(jax.random.PRNGKey(0), x, table, b, allowed, None, None)
    f = jax.jit(lambda x: att.apply(params, x, table, b, allowed, 3, None))
    y0 = np.asarray(f(x))
    y1 = np.asarray(f(x.at[0, 7].add(5.0)))
    np.testing.assert_array_equal(y0[0, :7], y1[0, :7])  # queries before 7 never see it
    assert np.abs(y0[0, 7:] - y1[0, 7:]).max() > 1e-3


def test_transformer_shares_one_table():
    t = Transformer(dim=8, heads=2, dim_head=4, depth=3, position_num=5)
    s = jax.eval_shape(lambda k: t.init(k, jnp.zeros((1, 4, 5, 8))), jax.random.PRNGKey(0))["params"]
    assert s["position"]["embedding"].shape == (25, 4)
    assert sorted(k for k in s if k.startswith("block")) == ["block_0", "block_1", "block_2"]
    assert all("position" not in s[f"block_{i}"]["attn"] for i in range(3))
