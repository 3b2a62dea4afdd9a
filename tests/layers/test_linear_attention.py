"""Softmax-factorised linear attention (jlic/layers/linear_attention.py) against its quadratic form."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jlic.layers.linear_attention import DepthwiseConv, linear_attention


def _softmax(a, axis):
    e = np.exp(a - a.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def test_equals_the_explicit_sum_per_head():
    rng = np.random.default_rng(0)
    q, k, v = (rng.normal(size=(2, 3, 4, 6)).astype(np.float32) for _ in range(3))
    out = np.asarray(linear_attention(jnp.asarray(q), jnp.asarray(k), jnp.asarray(v), heads=2))
    for h in range(2):
        sl = slice(3 * h, 3 * h + 3)
        kk = _softmax(k[..., sl].reshape(2, 12, 3), 1)  # over positions
        qq = _softmax(q[..., sl].reshape(2, 12, 3), 2)  # over channels
        ref = np.einsum("bnd,bmd,bme->bne", qq, kk, v[..., sl].reshape(2, 12, 3))
        np.testing.assert_allclose(out[..., sl].reshape(2, 12, 3), ref, rtol=1e-5, atol=1e-6)


def test_masks_equal_attention_on_the_subsets():
    rng = np.random.default_rng(1)
    q, k, v = (rng.normal(size=(1, 4, 4, 4)).astype(np.float32) for _ in range(3))
    keys = rng.random((4, 4)) < 0.5
    queries = ~keys
    out = np.asarray(linear_attention(jnp.asarray(q), jnp.asarray(k), jnp.asarray(v), 1, keys, queries))
    kk = _softmax(k[0][keys], 0)
    qq = _softmax(q[0][queries], 1)
    np.testing.assert_allclose(out[0][queries], qq @ (kk.T @ v[0][keys]), rtol=1e-5, atol=1e-6)
    assert (out[0][~queries] == 0).all()
    # values and keys outside the key mask do not matter
    k2, v2 = k.copy(), v.copy()
    k2[0][~keys] += 7.0
    v2[0][~keys] -= 3.0
    out2 = np.asarray(linear_attention(jnp.asarray(q), jnp.asarray(k2), jnp.asarray(v2), 1, keys, queries))
    np.testing.assert_array_equal(out2, out)


def test_depthwise_conv_is_per_channel():
    x = np.zeros((1, 5, 5, 3), np.float32)
    x[0, 2, 2, 1] = 1.0
    layer = DepthwiseConv(3)
    params = layer.init(jax.random.PRNGKey(0), jnp.asarray(x))
    out = np.asarray(layer.apply(params, jnp.asarray(x))) - np.asarray(params["params"]["bias"])
    kernel = np.asarray(params["params"]["kernel"])
    np.testing.assert_allclose(out[0, 1:4, 1:4, 1], kernel[::-1, ::-1, 0, 1], rtol=1e-6)
    assert np.abs(out[..., [0, 2]]).max() < 1e-6
