"""Overlapping-window attention (jlic/layers/window_attention.py) against a direct numpy evaluation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jlic.layers.window_attention import MASKED, OverlappingWindowAttention, pair_mask, relative_position_index


def test_relative_position_index_is_swins():
    w = 3
    idx = relative_position_index(w)
    assert idx.shape == (9, 9) and idx.min() == 0 and idx.max() == (2 * w - 1) ** 2 - 1
    for q in range(9):
        for k in range(9):
            dy, dx = q // w - k // w, q % w - k % w
            assert idx[q, k] == (dy + w - 1) * (2 * w - 1) + dx + w - 1
    assert (np.diag(idx) == idx[0, 0]).all()  # zero offset: one bucket


def test_pair_mask_allows_only_usable_pairs():
    allowed = np.array([[True, False], [False, True]])
    m = pair_mask(allowed, 3)  # (2, 2, 9, 9)
    # position (0, 0): window offsets (-1..1)^2; usable ones are the centre (0,0) and (+1,+1) only
    ok = np.zeros(9, bool)
    ok[4] = ok[8] = True
    np.testing.assert_array_equal(m[0, 0] == 0, ok[:, None] & ok[None, :])
    assert set(np.unique(m)) == {0.0, MASKED}


def _reference(x, params, heads, window, mask):
    """Direct loops: every position, every window pair, the same (head_dim, heads) channel split."""
    b, h, w, c = x.shape
    d = c // heads
    p = params["params"]
    qkv = x @ np.asarray(p["qkv"]["kernel"]) + np.asarray(p["qkv"]["bias"])
    table = np.asarray(p["relative_position_table"])
    idx = relative_position_index(window)
    r = window // 2
    qkvp = np.pad(qkv, ((0, 0), (r, r), (r, r), (0, 0)))
    out = np.zeros((b, h, w, window * window, c), np.float64)
    for i in range(h):
        for j in range(w):
            win = qkvp[:, i:i + window, j:j + window].reshape(b, window * window, 3, d, heads)
            for hd in range(heads):
                q, k, v = win[:, :, 0, :, hd], win[:, :, 1, :, hd], win[:, :, 2, :, hd]
                s = np.einsum("bqd,bkd->bqk", q / np.sqrt(d), k) + table[idx, hd] + mask[i, j]
                a = np.exp(s - s.max(-1, keepdims=True))
                a /= a.sum(-1, keepdims=True)
                out[:, i, j, :, hd * d:(hd + 1) * d] = a @ v
    return out


def test_window_attention_equals_direct_evaluation_and_masked_keys_do_not_leak():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 6, 4)).astype(np.float32)
    allowed = rng.random((5, 6)) < 0.5
    mask = pair_mask(allowed, 3)
    layer = OverlappingWindowAttention(4, heads=2, window=3)
    params = layer.init(jax.random.PRNGKey(1), jnp.asarray(x), jnp.asarray(mask))
    params = jax.tree.map(lambda a: a + 0.3 * jax.random.normal(jax.random.PRNGKey(2), a.shape), params)
    out = np.asarray(layer.apply(params, jnp.asarray(x), jnp.asarray(mask)))
    np.testing.assert_allclose(out, _reference(x, params, 2, 3, mask), rtol=1e-4, atol=1e-5)
    # Rows of usable queries never see a key outside `allowed`: change x there, nothing changes.
    x2 = np.where(allowed[None, :, :, None], x, x + rng.normal(size=x.shape).astype(np.float32) * 5)
    out2 = np.asarray(layer.apply(params, jnp.asarray(x2), jnp.asarray(mask)))
    rows = (mask == 0).any(-1)  # (H, W, n): window positions (queries) with at least one allowed key
    assert rows.any() and not rows.all()
    np.testing.assert_allclose(out2[:, rows], out[:, rows], rtol=0, atol=1e-6)
