"""jlic against tensorflow-compression 2.14 golden fixtures (committed in tests/golden/).

TFC cannot share jlic's environment (TensorFlow 2.14 needs numpy < 2); the fixtures are regenerated in its
own venv with `bash tests/golden/make_tfc_venv.sh` (see tests/golden/make_tfc_fixtures.py for their content).
"""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from jlic.entropy import factorized, gaussian
from jlic.entropy.coder import Coder
from jlic.interop import tfc
from jlic.ops import gdn, soft_round

GOLDEN = Path(__file__).parents[1] / "golden"


def _load(name: str) -> dict[str, np.ndarray]:
    path = GOLDEN / f"tfc_{name}.npz"
    if not path.exists():
        pytest.skip(f"{path} missing: run bash tests/golden/make_tfc_venv.sh")
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def fac():
    f = _load("factorized")
    k = sum(1 for key in f if key.startswith("matrix_"))
    params = tfc.deep_factorized_params([f[f"matrix_{i}"] for i in range(k)],
                                        [f[f"bias_{i}"] for i in range(k)],
                                        [f[f"factor_{i}"] for i in range(k - 1)])
    return f, params


def _close_where_not_tiny(p: np.ndarray, p_ref: np.ndarray, rtol: float = 1e-4) -> None:
    big = p_ref > 1e-6
    assert big.mean() > 0.5
    np.testing.assert_allclose(p[big], p_ref[big], rtol=rtol)


def test_factorized_likelihood(fac):
    f, params = fac
    p = np.asarray(factorized.likelihood(params, jnp.asarray(f["x"])))
    _close_where_not_tiny(p, f["prob"])
    assert np.all(np.isfinite(np.log2(p)))


def test_factorized_tails(fac):
    f, params = fac
    for tag, tail_mass in (("tail8", 2.0**-8), ("tail9", 1e-9)):
        q = factorized.bisect_quantiles(params, tail_mass)
        np.testing.assert_allclose(q[:, 0], f[f"lower_tail_{tag}"], atol=2e-3)
        np.testing.assert_allclose(q[:, 2], f[f"upper_tail_{tag}"], atol=2e-3)


def test_factorized_quantization_offsets_and_bits(fac):
    f, params = fac
    med = np.asarray(factorized.medians(params))
    # TFC reduces the median to [-1/2, 1/2]: rounding around either gives the same grid. Both medians come
    # from float32 searches of the cumulative (TFC: estimate_tails, jlic: bisection), so agree to ~1e-4.
    frac = (med - f["quantization_offset"]) - np.round(med - f["quantization_offset"])
    np.testing.assert_allclose(frac, 0.0, atol=1e-3)
    y_hat = np.round(f["y"] - med) + med
    assert np.mean(np.abs(y_hat - f["y_quantized"]) < 1e-3) > 0.99
    y_tfc = jnp.asarray(f["y_quantized"])
    bits = -np.log2(np.asarray(factorized.likelihood(params, y_tfc), np.float64)).sum(axis=(1, 2))
    np.testing.assert_allclose(bits, f["bits"], rtol=5e-3)


def _assert_coder_matches(tables, symbols, indexes, string_lengths, bits) -> None:
    for i in range(len(string_lengths)):
        ideal = -tables.log2_prob(symbols[i], indexes[i]).sum()
        assert abs(ideal / bits[i] - 1) < 2e-3, (ideal, bits[i])  # quantized tables ~ continuous model
        coder = Coder(tables)
        data = coder.encode(symbols[i], indexes[i])
        np.testing.assert_array_equal(coder.decode(data, indexes[i]), symbols[i])
        n_ref = string_lengths[i]
        assert abs(len(data) - n_ref) <= 0.01 * n_ref + 4, (len(data), n_ref)


def test_factorized_range_coder_bit_counts(fac):
    f, _ = fac
    tables = tfc.cdf_tables(f["cdf"], f["cdf_offset"], int(f["precision"]))
    indexes = np.broadcast_to(np.arange(f["symbols"].shape[-1], dtype=np.int32), f["symbols"].shape)
    _assert_coder_matches(tables, f["symbols"], indexes, f["string_lengths"], f["bits"])


def test_gaussian_indexed_model():
    g = _load("gaussian")
    np.testing.assert_allclose(g["scale_table"], gaussian.SCALE_TABLE, rtol=1e-5)
    idx = g["index"].astype(np.int32)
    np.testing.assert_array_equal(np.asarray(gaussian.scale_index(jnp.asarray(g["scale"]) * (1 - 1e-6))), idx)
    y_hat = np.round(g["y"] - g["loc"]) + g["loc"]
    np.testing.assert_allclose(y_hat, g["y_quantized"], atol=1e-5)
    p = np.asarray(gaussian.likelihood(jnp.asarray(y_hat), jnp.asarray(g["scale"]), jnp.asarray(g["loc"])))
    _close_where_not_tiny(p, g["prob"])
    bits = -np.log2(p.astype(np.float64)).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(bits, g["bits"], rtol=5e-3)


def test_gaussian_range_coder_bit_counts():
    g = _load("gaussian")
    tables = tfc.cdf_tables(g["cdf"], g["cdf_offset"], int(g["precision"]))
    assert tables.num_tables == len(gaussian.SCALE_TABLE)
    _assert_coder_matches(tables, g["symbols"], g["index"].astype(np.int32), g["string_lengths"], g["bits"])


@pytest.mark.parametrize("tag", ["gdn", "igdn"])
def test_gdn(tag):
    d = _load("gdn")
    params = tfc.gdn_params(d[f"{tag}_beta_variable"], d[f"{tag}_gamma_variable"])
    beta, gamma = tfc.gdn_values(d[f"{tag}_beta"], d[f"{tag}_gamma"])
    np.testing.assert_allclose(gdn.nonneg_param_to_value(params["beta"], gdn.BETA_MIN), beta, rtol=1e-6)
    np.testing.assert_allclose(gdn.nonneg_param_to_value(params["gamma"]), gamma, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(tfc.reparametrize(d[f"{tag}_beta"]), params["beta"], rtol=1e-6)
    out = gdn.GDN(inverse=tag == "igdn").apply({"params": params}, jnp.asarray(d["x"]))
    np.testing.assert_allclose(np.asarray(out), d[f"{tag}_out"], rtol=1e-5, atol=1e-6)
    # gamma is (in, out) in TFC: feeding it untransposed must not pass.
    wrong = gdn.gdn(jnp.asarray(d["x"]), beta, gamma.T, inverse=tag == "igdn")
    assert not np.allclose(np.asarray(wrong), d[f"{tag}_out"], rtol=1e-3)


@pytest.mark.parametrize("alpha", [1, 5])
def test_soft_round(alpha):
    d = _load("soft_round")
    x = jnp.asarray(d["x"])
    tag = f"alpha{alpha}"
    np.testing.assert_allclose(soft_round.soft_round(x, float(alpha)), d[f"soft_round_{tag}"],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(soft_round.soft_round_inverse(x, float(alpha)), d[f"soft_round_inverse_{tag}"],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(soft_round.soft_round_conditional_mean(x, float(alpha)),
                               d[f"conditional_mean_{tag}"], rtol=1e-5, atol=1e-6)


def test_cdf_tables_reject_malformed_input():
    g = _load("gaussian")
    with pytest.raises(ValueError):
        tfc.cdf_tables(g["cdf"], g["cdf_offset"][:-1], int(g["precision"]))
    with pytest.raises(ValueError):
        tfc.deep_factorized_params([np.zeros((1, 3, 1))], [np.zeros((1, 3, 1))], [np.zeros((1, 3, 1))])
