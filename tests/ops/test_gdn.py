import jax
import jax.numpy as jnp
import numpy as np

from jlic.ops.gdn import GDN, PEDESTAL, gdn, nonneg_param_to_value, nonneg_value_to_param


def _direct(x, beta, gamma, inverse):
    # y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2), written as an explicit loop over output channels.
    x = np.asarray(x, np.float64)
    out = np.empty_like(x)
    for i in range(x.shape[-1]):
        norm = beta[i] + sum(gamma[i, j] * x[..., j] ** 2 for j in range(x.shape[-1]))
        out[..., i] = x[..., i] * np.sqrt(norm) if inverse else x[..., i] / np.sqrt(norm)
    return out


def test_gdn_matches_direct_formula():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 7, 4)).astype(np.float32)
    beta = rng.uniform(0.5, 2.0, 4)
    gamma = rng.uniform(0.0, 0.3, (4, 4))
    for inverse in (False, True):
        got = gdn(jnp.asarray(x), jnp.asarray(beta, jnp.float32), jnp.asarray(gamma, jnp.float32), inverse)
        np.testing.assert_allclose(got, _direct(x, beta, gamma, inverse), rtol=1e-5, atol=1e-6)


def test_gdn_module_reparametrization_and_init():
    x = jax.random.normal(jax.random.PRNGKey(0), (1, 4, 4, 3))
    params = GDN().init(jax.random.PRNGKey(1), x)["params"]
    beta = nonneg_param_to_value(params["beta"], 1e-6)
    gamma = nonneg_param_to_value(params["gamma"])
    np.testing.assert_allclose(beta, np.ones(3), atol=1e-6)
    np.testing.assert_allclose(gamma, 0.1 * np.eye(3), atol=1e-6)
    y = GDN().apply({"params": params}, x)
    np.testing.assert_allclose(y, _direct(x, np.ones(3), 0.1 * np.eye(3), False), rtol=1e-5)


def test_one_channel_gdn_inverts_in_closed_form_but_igdn_is_not_its_inverse():
    """One channel at init (beta 1, gamma 0.1): y = x / sqrt(1 + 0.1 x^2) inverts as
    x = y / sqrt(1 - 0.1 y^2); IGDN(y) = y sqrt(1 + 0.1 y^2) is another function (only close for small x)."""
    x1 = jax.random.normal(jax.random.PRNGKey(0), (1, 4, 4, 1)) * 3
    p1 = GDN().init(jax.random.PRNGKey(1), x1)["params"]
    y1 = np.asarray(GDN().apply({"params": p1}, x1), np.float64)
    np.testing.assert_allclose(y1 / np.sqrt(1 - 0.1 * y1**2), x1, rtol=1e-5, atol=1e-6)
    back = np.asarray(GDN(inverse=True).apply({"params": p1}, jnp.asarray(y1, jnp.float32)), np.float64)
    np.testing.assert_allclose(back, y1 * np.sqrt(1 + 0.1 * y1**2), rtol=1e-5, atol=1e-6)
    assert np.max(np.abs(back - np.asarray(x1))) > 0.1  # IGDN(GDN(x)) != x


def test_reparam_roundtrip_and_bounds():
    v = jnp.array([0.0, 1e-8, 0.5, 3.0])
    np.testing.assert_allclose(nonneg_param_to_value(nonneg_value_to_param(v)), v, atol=1e-6)
    # Values never go below the minimum, whatever the stored parameter is.
    assert float(nonneg_param_to_value(jnp.array(-5.0), 1e-6)) >= 1e-6 - PEDESTAL


def test_gdn_gradients_finite():
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 6, 6, 8))
    params = GDN().init(jax.random.PRNGKey(1), x)["params"]
    g = jax.grad(lambda p: jnp.sum(GDN(inverse=True).apply({"params": p}, x) ** 2))(params)
    assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree_util.tree_leaves(g))
