"""Full attention between chosen positions (MLIC's global contexts, arXiv 2211.07273) against a per-query
loop written from the definition: queries at the non-anchors, keys at the anchors, nearby keys excluded."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from jlic.latent_codecs.checkerboard import anchor_mask
from jlic.layers.grid_attention import MASKED, grid_attention


def _reference(q, k, v, heads, key_mask, query_mask, radius):
    b, h, w, c = q.shape
    d = c // heads
    out = np.zeros(q.shape[:3] + (v.shape[-1],))
    keys = [(i, j) for i in range(h) for j in range(w) if key_mask[i, j]]
    for i in range(h):
        for j in range(w):
            if not query_mask[i, j]:
                continue
            for hd in range(heads):
                sl = slice(hd * d, (hd + 1) * d)
                s = np.array([q[0, i, j, sl] @ k[0, a, e, sl] / np.sqrt(d) for a, e in keys])
                near = np.array([max(abs(a - i), abs(e - j)) <= radius for a, e in keys])
                s = np.where(near, MASKED, s)
                p = np.exp(s - s.max())
                p /= p.sum()
                out[0, i, j, sl] = sum(pk * v[0, a, e, sl] for pk, (a, e) in zip(p, keys, strict=True))
    return out


def test_masked_attention_matches_the_definition():
    rng = np.random.default_rng(0)
    h, w, c, heads = 6, 8, 4, 2
    q, k, v = (rng.normal(size=(1, h, w, c)).astype(np.float32) for _ in range(3))
    anchors = anchor_mask(h, w, "odd")
    got = np.asarray(grid_attention(*map(jnp.asarray, (q, k, v)), heads, anchors, ~anchors, 2))
    ref = _reference(q, k, v, heads, anchors, ~anchors, 2)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    assert np.all(got[0][anchors] == 0)


def test_unmasked_attention_is_full_attention():
    rng = np.random.default_rng(1)
    q, k, v = (rng.normal(size=(1, 4, 5, 6)).astype(np.float32) for _ in range(3))
    every = np.ones((4, 5), bool)
    got = np.asarray(grid_attention(jnp.asarray(q), jnp.asarray(k), jnp.asarray(v), 3))
    np.testing.assert_allclose(got, _reference(q, k, v, 3, every, every, -1), rtol=1e-5, atol=1e-6)


def test_every_key_excluded_gives_the_mean_value():
    """A score is replaced by MASKED (not -inf, not added): a row with every key excluded is uniform."""
    rng = np.random.default_rng(2)
    q, k, v = (rng.normal(size=(1, 4, 4, 2)).astype(np.float32) for _ in range(3))
    anchors = anchor_mask(4, 4, "odd")
    got = np.asarray(grid_attention(jnp.asarray(q), jnp.asarray(k), jnp.asarray(v), 1, anchors, ~anchors, 3))
    np.testing.assert_allclose(got[0][~anchors], np.broadcast_to(v[0][anchors].mean(0), (8, 2)), rtol=1e-5)
