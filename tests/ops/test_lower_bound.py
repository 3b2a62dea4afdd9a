import jax
import jax.numpy as jnp
import numpy as np

from jlic.ops.lower_bound import lower_bound, lower_bound_identity


def test_forward_is_max():
    x = jnp.array([-1.0, 0.0, 0.5, 2.0])
    np.testing.assert_array_equal(lower_bound(x, 0.5), jnp.maximum(x, 0.5))
    np.testing.assert_array_equal(lower_bound_identity(x, 0.5), jnp.maximum(x, 0.5))


def test_gradient_passes_above_bound_or_when_pushing_up():
    x = jnp.array([-1.0, 2.0])
    # d/dx of sum(y): gradient +1 would push x down (descent), so it is blocked below the bound.
    g_down = jax.grad(lambda x: jnp.sum(lower_bound(x, 0.5)))(x)
    np.testing.assert_array_equal(g_down, [0.0, 1.0])
    # d/dx of -sum(y): gradient -1 pushes x up, so it passes everywhere.
    g_up = jax.grad(lambda x: -jnp.sum(lower_bound(x, 0.5)))(x)
    np.testing.assert_array_equal(g_up, [-1.0, -1.0])
    g_id = jax.grad(lambda x: jnp.sum(lower_bound_identity(x, 0.5)))(x)
    np.testing.assert_array_equal(g_id, [1.0, 1.0])
