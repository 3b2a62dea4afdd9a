import jax.numpy as jnp
import numpy as np
import pytest

from jlic.entropy import laplace


def _mass(y, mu, b):
    cdf = lambda z: np.where(z < 0, 0.5 * np.exp(z / b), 1 - 0.5 * np.exp(-z / b))
    return cdf(y + 0.5 - mu) - cdf(y - 0.5 - mu)


@pytest.mark.parametrize("mu,b", [(0.0, 0.05), (0.3, 1.0), (-2.7, 3.0), (0.49, 0.5)])
def test_likelihood_matches_cdf_difference_and_sums_to_one(mu, b):
    y = np.arange(-60, 61, dtype=np.float64)
    p = np.asarray(laplace.likelihood(jnp.asarray(y, jnp.float32), jnp.float32(mu), jnp.float32(b)))
    ref = np.maximum(_mass(y, mu, b), laplace.LIKELIHOOD_BOUND)
    np.testing.assert_allclose(p, ref, rtol=2e-4, atol=1e-7)
    assert abs(ref.sum() - 1) < 1e-6


def test_likelihood_is_differentiable_everywhere():
    import jax

    g = jax.grad(lambda y: jnp.sum(jnp.log(laplace.likelihood(y, 0.2, 0.7))))(jnp.linspace(-3, 3, 61))
    assert np.all(np.isfinite(np.asarray(g)))


def test_pmf_table_rows():
    ls = laplace.log_scale_table()
    pmf = laplace.pmf_table(ls, laplace.NUM_FRACS, support=62)
    assert pmf.shape == (laplace.NUM_SCALES * laplace.NUM_FRACS, 125)
    total = pmf.sum(axis=1)
    b = np.repeat(np.exp(ls), laplace.NUM_FRACS)
    assert np.all(total <= 1 + 1e-12)
    np.testing.assert_allclose(total[b < 5], 1.0, atol=1e-4)  # the rest is tail mass beyond ±62 (escape)
    # row (scale 0, fraction bin F-1) has mean 7/16: most mass at k = 0, then k = 1
    row = pmf[laplace.table_row(laplace.NUM_FRACS - 1, 0)]
    assert row.argmax() == 62 and row[63] > row[61]
