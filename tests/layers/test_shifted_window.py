"""Swin window attention (jlic.layers.shifted_window): windows, shift mask, relative-position bias, padding.

The equality with CompressAI's development-line layers (timm's WindowAttention, DCAE's WMSA) is held by the
slow peer tests (tests/interop/test_compressai_tcm.py, test_compressai_dcae.py); these are cheap checks
against a plain per-window reference and of what the shift mask must do.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jlic.layers.shifted_window import WindowAttention, merge, partition, shift_mask
from jlic.layers.window_attention import relative_position_index


def _init(module, x):
    return module.init(jax.random.PRNGKey(0), x)["params"]


def test_partition_and_merge_are_inverse_and_raster_ordered():
    x = jnp.arange(2 * 8 * 12 * 3, dtype=jnp.float32).reshape(2, 8, 12, 3)
    t = partition(x, 4)
    assert t.shape == (2, 6, 16, 3)
    np.testing.assert_array_equal(t[0, 1, 5], x[0, 1, 5])  # window (0, 1), token (1, 1)
    np.testing.assert_array_equal(merge(t, 4, 8, 12), x)


def test_shift_mask_separates_the_bands_of_the_last_windows():
    m = shift_mask(8, 8, 4, 2)
    assert m.shape == (4, 16, 16)
    assert not m[0].any()  # the top-left window lies in one region
    assert (m == m.transpose(0, 2, 1)).all() and not np.diagonal(m, axis1=1, axis2=2).any()
    # bottom-right window: 4 regions of 2x2 tokens; a token sees the 4 of its own region only
    assert (np.sum(~m[3], axis=1) == 4).all()
    assert (np.sum(~m[1], axis=1) == 8).all()  # top-right: two regions of 4x2 tokens


def _reference(params, x, window, head_dim):
    """Plain per-window attention in numpy (no shift): the definition."""
    b, h, w, c = x.shape
    heads = c // head_dim
    wq, bq = np.asarray(params["qkv"]["kernel"]), np.asarray(params["qkv"]["bias"])
    wp, bp = np.asarray(params["proj"]["kernel"]), np.asarray(params["proj"]["bias"])
    bias = np.asarray(params["relative_position_bias_table"])[relative_position_index(window)]  # (n, n, heads)
    out = np.zeros_like(x)
    for i in range(0, h, window):
        for j in range(0, w, window):
            t = x[:, i:i + window, j:j + window].reshape(b, -1, c)
            qkv = (t @ wq + bq).reshape(b, -1, 3, heads, head_dim)
            q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
            s = np.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(head_dim) + bias.transpose(2, 0, 1)
            a = np.exp(s - s.max(-1, keepdims=True))
            a /= a.sum(-1, keepdims=True)
            o = np.einsum("bhqk,bkhd->bqhd", a, v).reshape(b, -1, c) @ wp + bp
            out[:, i:i + window, j:j + window] = o.reshape(b, window, window, c)
    return out


def test_plain_windows_equal_the_per_window_reference():
    x = jax.random.normal(jax.random.PRNGKey(1), (2, 8, 12, 8))
    layer = WindowAttention(8, 4, 4)
    params = _init(layer, x)
    params = jax.tree.map(lambda p: p + 0.3 * jax.random.normal(jax.random.PRNGKey(2), p.shape), params)
    got = layer.apply({"params": params}, x)
    np.testing.assert_allclose(np.asarray(got), _reference(params, np.asarray(x), 4, 4), rtol=1e-4, atol=1e-5)


def test_shifted_windows_keep_the_wrapped_regions_apart():
    """(7, 7) and (0, 0) share a shifted window but not a region of the map: no interaction; (6, 6) does."""
    x = jax.random.normal(jax.random.PRNGKey(3), (1, 8, 8, 8))
    layer = WindowAttention(8, 4, 4, shifted=True)
    params = _init(layer, x)
    base = layer.apply({"params": params}, x)
    moved = layer.apply({"params": params}, x.at[0, 7, 7].add(3.0))
    delta = np.abs(np.asarray(moved - base))[0].max(-1)
    assert delta[0, 0] < 1e-6 and delta[7, 0] < 1e-6 and delta[0, 7] < 1e-6
    assert delta[6, 6] > 1e-3 and delta[6, 7] > 1e-3


def test_any_size_is_padded_inside_and_cropped():
    x = jax.random.normal(jax.random.PRNGKey(4), (1, 5, 7, 8))
    layer = WindowAttention(8, 8, 4, shifted=True)
    params = _init(layer, x)
    out = layer.apply({"params": params}, x)
    assert out.shape == x.shape and bool(jnp.isfinite(out).all())
    padded = jnp.pad(x, ((0, 0), (0, 3), (0, 1), (0, 0)))  # the zero tokens are attended to, as in the peers
    np.testing.assert_allclose(np.asarray(out), np.asarray(layer.apply({"params": params}, padded))[:, :5, :7],
                               rtol=1e-5, atol=1e-6)
