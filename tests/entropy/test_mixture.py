import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import ndtr

from jlic.entropy import gaussian, mixture


def random_params(key, shape=(50, 4), k=3):
    k1, k2, k3 = jax.random.split(key, 3)
    means = jax.random.normal(k1, (*shape, k)) * 4
    scales = jnp.exp(jax.random.normal(k2, (*shape, k)) * 1.2)
    logits = jax.random.normal(k3, (*shape, k)) * 2
    return means, scales, logits


def test_mixture_sums_to_one_and_reduces_to_the_gaussian():
    means, scales, logits = random_params(jax.random.PRNGKey(0), (6, 5))
    v = jnp.arange(-400, 401, dtype=jnp.float32)[:, None, None]
    p = mixture.likelihood(v, means[None], scales[None], logits[None], bound=0.0)
    np.testing.assert_allclose(p.sum(0), 1.0, atol=1e-4)
    y = jax.random.normal(jax.random.PRNGKey(1), (6, 5)) * 3
    one = mixture.likelihood(y, means[..., :1], scales[..., :1], logits[..., :1])
    np.testing.assert_allclose(one, gaussian.likelihood(y, scales[..., 0], means[..., 0]), rtol=1e-5, atol=1e-7)
    # Equal components with any weights give that component.
    same = mixture.likelihood(y, jnp.repeat(means[..., :1], 3, -1), jnp.repeat(scales[..., :1], 3, -1), logits)
    np.testing.assert_allclose(same, one, rtol=1e-5, atol=1e-7)


def test_split_params_layout():
    p = jnp.arange(2 * 3 * 3 * 4, dtype=jnp.float32).reshape(2, 36)
    means, scales, logits = mixture.split_params(p, 3)
    assert means.shape == (2, 4, 3)
    assert float(means[0, 0, 0]) == 0 and float(scales[0, 0, 0]) == 12 and float(logits[0, 0, 0]) == 24


def test_integer_parameters_and_tables():
    means, scales, logits = random_params(jax.random.PRNGKey(2), (200,))
    mq, sidx, counts = map(np.asarray, mixture.quantize_params(means, scales, logits))
    assert counts.min() >= 1 and np.all(counts.sum(-1) == 2**mixture.WEIGHT_BITS)
    lo, width = mixture.support(mq, sidx)
    q = mixture.integer_pmf(mq, sidx, counts, lo, int(width.max()))
    total = 2 ** (mixture.WEIGHT_BITS + mixture.COMPONENT_BITS)
    assert q.dtype == np.int64 and np.all(q.sum(1) <= total) and np.all(q.sum(1) > 0.999 * total)
    # Close to the float mixture evaluated at the quantized parameters.
    w = counts / counts.sum(-1, keepdims=True)
    mu, s = mq / mixture.MEAN_STEPS, gaussian.SCALE_TABLE[sidx]
    r = 7
    v = (lo[r] + np.arange(width[r]))[:, None]
    ref = (w[r] * (ndtr((v + 0.5 - mu[r]) / s[r]) - ndtr((v - 0.5 - mu[r]) / s[r]))).sum(-1)
    np.testing.assert_allclose(q[r, : width[r]] / total, ref, atol=1e-4)
