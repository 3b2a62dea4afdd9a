"""Per-symbol integer tables of the Gaussian-mixture conditional (Cheng et al. 2020, arXiv 2001.01568)."""

import jax
import jax.numpy as jnp
import numpy as np

from jlic.entropy import mixture
from jlic.entropy.stream import StreamReader, StreamWriter
from jlic.latent_codecs import MixtureTables


def random_params(key, shape=(50, 4), k=3):
    k1, k2, k3 = jax.random.split(key, 3)
    means = jax.random.normal(k1, (*shape, k)) * 4
    scales = jnp.exp(jax.random.normal(k2, (*shape, k)) * 1.2)
    logits = jax.random.normal(k3, (*shape, k)) * 2
    return means, scales, logits


def test_per_symbol_tables_round_trip_with_escapes_and_exact_bits():
    means, scales, logits = random_params(jax.random.PRNGKey(3), (300,))
    ints = [np.asarray(a) for a in mixture.quantize_params(means, scales, logits)]
    rng = np.random.default_rng(0)
    comp = rng.integers(0, 3, 300)
    sym = np.rint(np.take_along_axis(ints[0] / 8 + np.asarray(scales) * rng.normal(size=(300, 3)),
                                     comp[:, None], 1)[:, 0]).astype(np.int32)
    sym[[5, 77]] = [10**6, -(10**5)]  # far outside every window: escapes
    writer = StreamWriter()
    writer.encode_segments(MixtureTables(*(a[:100] for a in ints)).segments(sym[:100]))
    writer.encode_segments(MixtureTables(*(a[100:] for a in ints)).segments(sym[100:]))
    reader = StreamReader(writer.finish())
    out = np.concatenate([MixtureTables(*(a[:100] for a in ints)).decode(reader),
                          MixtureTables(*(a[100:] for a in ints)).decode(reader)])
    reader.finish()
    np.testing.assert_array_equal(out, sym)
    # Without escapes, the stream is the exact integer-table information content (plus the ANS state).
    ok = np.ones(300, bool)
    ok[[5, 77]] = False
    tables = MixtureTables(*(a[ok] for a in ints))
    bits = -tables.log2_prob(sym[ok]).sum()
    writer = StreamWriter()
    writer.encode_segments(tables.segments(sym[ok]))
    nbytes = len(writer.finish())
    assert bits / 8 <= nbytes <= bits / 8 + 8
