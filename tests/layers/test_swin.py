"""Shifted-window attention (Swin, arXiv 2103.14030, as STF / WACNN use it, arXiv 2203.08450): the mask of
the rolled map against region labels computed from coordinates, and that a shifted window attention is the
unshifted one on the rolled map wherever no window straddles a region border."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jlic.layers.swin import WindowAttention, partition, shift_mask
from jlic.layers.window_attention import MASKED


def test_shift_mask_separates_the_regions_of_the_rolled_map():
    h, w, win, shift = 8, 12, 4, 2
    rows = np.digitize(np.arange(h), [h - win, h - shift])  # 0: the main part, 1, 2: the wrapped strips
    cols = np.digitize(np.arange(w), [w - win, w - shift])
    label = rows[:, None] * 3 + cols[None, :]
    ids = partition(label[None, :, :, None].astype(np.float32), win)[..., 0]
    expected = np.where(ids[:, :, None] == ids[:, None, :], 0.0, MASKED)
    np.testing.assert_array_equal(shift_mask(h, w, win, shift), expected)
    assert (shift_mask(h, w, win, shift) == MASKED).any()


def test_shifted_attention_is_attention_on_the_rolled_map_inside_whole_regions():
    x = jax.random.normal(jax.random.PRNGKey(0), (1, 8, 8, 6))
    shifted = WindowAttention(2, 4, 2)
    params = shifted.init(jax.random.PRNGKey(1), x)
    got = shifted.apply(params, x)
    plain = WindowAttention(2, 4, 0).apply(params, jnp.roll(x, (-2, -2), (1, 2)))
    # the first window of the rolled map lies inside the main region: no mask applies there
    np.testing.assert_allclose(np.asarray(jnp.roll(got, (-2, -2), (1, 2)))[0, :4, :4],
                               np.asarray(plain)[0, :4, :4], rtol=1e-5, atol=1e-6)
    assert not np.allclose(np.asarray(jnp.roll(got, (-2, -2), (1, 2)))[0, 4:, 4:], np.asarray(plain)[0, 4:, 4:])
