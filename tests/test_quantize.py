import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jlic import quantize


def test_noise_is_uniform_within_half():
    x = jnp.zeros((20000,))
    y = quantize.noise(x, jax.random.PRNGKey(0))
    assert float(jnp.max(jnp.abs(y))) <= 0.5
    assert abs(float(jnp.mean(y))) < 0.01
    np.testing.assert_allclose(float(jnp.var(y)), 1 / 12, rtol=0.05)
    # Noise is a relaxation: the gradient is the identity.
    g = jax.grad(lambda x: jnp.sum(quantize.noise(x, jax.random.PRNGKey(1))))(jnp.ones(3))
    np.testing.assert_array_equal(g, jnp.ones(3))


def test_rounding_around_offset_and_straight_through():
    x = jnp.array([0.2, 0.7, 1.49, -0.6])
    np.testing.assert_allclose(quantize.round_offset(x, 0.3), jnp.round(x - 0.3) + 0.3)
    np.testing.assert_allclose(quantize.round_ste(x, 0.3), jnp.round(x - 0.3) + 0.3)
    g = jax.grad(lambda x: jnp.sum(quantize.round_ste(x)))(x)
    np.testing.assert_array_equal(g, jnp.ones(4))
    g_hard = jax.grad(lambda x: jnp.sum(quantize.round_offset(x)))(x)
    np.testing.assert_array_equal(g_hard, jnp.zeros(4))


def test_dispatch_and_errors():
    x = jnp.array([0.4, 1.6])
    np.testing.assert_allclose(quantize.quantize(x, "round"), jnp.round(x))
    y = quantize.quantize(x, "soft_round", jax.random.PRNGKey(0), alpha=40.0)
    assert float(jnp.max(jnp.abs(y - x))) <= 0.5 + 1e-3
    with pytest.raises(ValueError, match="PRNG key"):
        quantize.quantize(x, "noise")
    with pytest.raises(ValueError, match="unknown"):
        quantize.quantize(x, "bogus", jax.random.PRNGKey(0))
