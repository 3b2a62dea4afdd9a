import math

import jax
import jax.numpy as jnp
import numpy as np

from jlic.entropy import factorized


def _trained_like(key, channels=4):
    """Params with non-trivial densities: random perturbations of the standard init."""
    p = factorized.init(key, channels)
    keys = jax.random.split(key, len(p))
    return {k: v + 0.3 * jax.random.normal(kk, v.shape) if k != "quantiles" else v
            for (k, v), kk in zip(p.items(), keys, strict=True)}


def test_shapes_match_compressai_layout():
    p = factorized.init(jax.random.PRNGKey(0), 5)
    assert p["matrix_0"].shape == (5, 3, 1) and p["matrix_4"].shape == (5, 1, 3)
    assert p["bias_4"].shape == (5, 1) and p["factor_3"].shape == (5, 3)
    assert "factor_4" not in p
    np.testing.assert_allclose(p["matrix_0"], math.log(math.expm1(1 / 10 ** 0.2 / 3)), rtol=1e-6)
    assert p["quantiles"].shape == (5, 3)
    p3 = factorized.init(jax.random.PRNGKey(0), 5, filters=(3, 3, 3))
    assert factorized.num_layers(p3) == 4


def test_likelihood_sums_to_one_over_integers():
    p = _trained_like(jax.random.PRNGKey(1))
    x = jnp.arange(-300, 301, dtype=jnp.float32)[:, None] + jnp.zeros((1, 4))
    total = jnp.sum(factorized.likelihood(p, x, bound=0.0), axis=0)
    np.testing.assert_allclose(total, np.ones(4), atol=1e-5)
    # Any offset grid also sums to one (bins tile the line).
    total2 = jnp.sum(factorized.likelihood(p, x + 0.37, bound=0.0), axis=0)
    np.testing.assert_allclose(total2, np.ones(4), atol=1e-5)


def test_cumulative_is_monotone_and_grad_finite():
    p = _trained_like(jax.random.PRNGKey(2))
    x = jnp.linspace(-50, 50, 1001)[:, None] + jnp.zeros((1, 4))
    f = factorized.logits_cumulative(p, x)
    assert bool(jnp.all(jnp.diff(f, axis=0) > 0))
    g = jax.grad(lambda p: -jnp.sum(jnp.log2(factorized.likelihood(p, x))))(p)
    assert all(bool(jnp.all(jnp.isfinite(v))) for v in jax.tree_util.tree_leaves(g))
    assert float(jnp.min(factorized.likelihood(p, jnp.full((1, 4), 1e6)))) >= np.float32(1e-9)


def test_quantile_loss_fits_tails_and_median():
    p = _trained_like(jax.random.PRNGKey(3), 3)
    grad = jax.jit(jax.grad(factorized.quantile_loss))
    g = grad(p)
    assert all(float(jnp.max(jnp.abs(g[k]))) == 0.0 for k in p if k != "quantiles")
    for step in (2.0, 0.2, 0.02):  # sign descent with decreasing steps
        for _ in range(400):
            p = {**p, "quantiles": p["quantiles"] - step * jnp.sign(grad(p)["quantiles"])}
    q_bisect = factorized.bisect_quantiles(p)
    np.testing.assert_allclose(p["quantiles"], q_bisect, atol=0.2)
    cdf_med = jax.nn.sigmoid(factorized.logits_cumulative(p, factorized.medians(p)[None]))
    np.testing.assert_allclose(cdf_med, 0.5, atol=0.02)


def test_pmf_table_covers_the_mass():
    p = _trained_like(jax.random.PRNGKey(4), 3)
    pmf, offset, length = factorized.pmf_table(p, tail_mass=1e-6)
    assert pmf.shape[0] == 3 and pmf.shape[1] == length.max()
    assert np.all(pmf.sum(1) > 1 - 2e-6) and np.all(pmf.sum(1) <= 1 + 1e-6)
    med = np.asarray(factorized.medians(p))
    # Row c, entry k is the likelihood at median + offset + k.
    c, k = 1, 2
    direct = factorized.likelihood(p, jnp.asarray(med + offset + k, jnp.float32)[None], bound=0.0)[0, c]
    np.testing.assert_allclose(pmf[c, k], direct, rtol=1e-6)
