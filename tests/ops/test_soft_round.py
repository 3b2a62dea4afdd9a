import jax
import jax.numpy as jnp
import numpy as np

from jlic.ops.soft_round import soft_round, soft_round_conditional_mean, soft_round_inverse


def test_limits_identity_and_rounding():
    x = jnp.linspace(-3.3, 3.3, 101)
    np.testing.assert_allclose(soft_round(x, 1e-5), x, atol=1e-6)
    hard = soft_round(x, 60.0)
    far_from_half = jnp.abs(x - jnp.floor(x) - 0.5) > 0.1
    np.testing.assert_allclose(hard[far_from_half], jnp.round(x)[far_from_half], atol=1e-3)


def test_inverse_and_monotone():
    x = jnp.linspace(-2.4, 2.4, 97)
    for alpha in (0.5, 2.0, 8.0):
        y = soft_round(x, alpha)
        assert bool(jnp.all(jnp.diff(y) >= 0))
        np.testing.assert_allclose(soft_round_inverse(y, alpha), x, atol=2e-3)
    g = jax.grad(lambda x: jnp.sum(soft_round(x, 4.0)))(x)
    assert bool(jnp.all(jnp.isfinite(g)))


def test_conditional_mean_between_identity_and_rounding():
    y = jnp.array([0.2, 0.8, 1.3])
    np.testing.assert_allclose(soft_round_conditional_mean(y, 1e-5), y, atol=1e-5)
    cm = soft_round_conditional_mean(y, 30.0)
    np.testing.assert_allclose(cm, jnp.round(y), atol=0.05)
