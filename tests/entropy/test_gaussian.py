import jax
import jax.numpy as jnp
import numpy as np
from scipy.stats import norm

from jlic.entropy import gaussian


def test_scale_table_matches_compressai():
    t = gaussian.SCALE_TABLE
    assert len(t) == 64
    np.testing.assert_allclose([t[0], t[1], t[-1]], [0.11, 0.1244, 256.0], rtol=1e-3)


def test_likelihood_against_scipy_and_normalized():
    y = jnp.arange(-60, 61, dtype=jnp.float32)
    for scale, mean in ((0.5, 0.0), (3.0, 1.3), (9.0, -2.2)):
        p = gaussian.likelihood(y + 0.0 * mean, scale, mean)
        v = np.abs(np.asarray(y) - mean)
        ref = norm.cdf((0.5 - v) / scale) - norm.cdf((-0.5 - v) / scale)
        np.testing.assert_allclose(p, np.maximum(ref, 1e-9), rtol=2e-4, atol=1e-7)
    total = jnp.sum(gaussian.likelihood(y, 4.0, 0.0, bound=0.0))
    np.testing.assert_allclose(total, 1.0, atol=1e-5)
    # Scales below the bound are raised to it.
    np.testing.assert_allclose(gaussian.likelihood(y, 0.01), gaussian.likelihood(y, 0.11))


def test_scale_index_is_smallest_entry_not_below():
    t = gaussian.SCALE_TABLE
    s = jnp.array([0.0, 0.11, 0.1101, float(t[10]), float(t[10]) * 1.0001, 300.0])
    idx = np.asarray(gaussian.scale_index(s))
    np.testing.assert_array_equal(idx, [0, 0, 1, 10, 11, 63])
    rng = np.random.default_rng(0)
    s = rng.uniform(0.11, 255.0, 1000).astype(np.float32)
    idx = np.asarray(gaussian.scale_index(jnp.asarray(s)))
    assert np.all(t[idx] >= s * (1 - 1e-6)) and np.all((idx == 0) | (t[np.maximum(idx - 1, 0)] < s))


def test_pmf_table_shape_and_mass():
    pmf, offset, length = gaussian.pmf_table()
    assert pmf.shape == (64, 3131) and length[0] == 3 and length[-1] == 3131
    np.testing.assert_array_equal(offset, -(length - 1) // 2)
    assert np.all(np.abs(pmf.sum(1) - 1) < 2e-9)


def test_grad_finite():
    g = jax.grad(lambda s: -jnp.sum(jnp.log2(gaussian.likelihood(jnp.arange(5.0), s, 0.3))))(jnp.array(0.05))
    assert bool(jnp.isfinite(g))
