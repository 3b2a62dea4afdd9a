"""Tests of jlic.evaluation.report: real bytes vs the likelihood estimate, and what the report says of it."""

import jax
import jax.numpy as jnp
import numpy as np

from jlic.entropy import cdf, coder, gaussian
from jlic.evaluation import rdcurve
from jlic.evaluation import report as evaluate
from jlic.models.registry import get


def test_tail_latents_cost_the_coder_fewer_bits_than_the_estimate():
    """Latents far outside a narrow predicted Gaussian: the estimate charges the clamped likelihood (~30 bits
    each), the real coder the tables' floor or an escape, so real bytes fall below the estimate."""
    pmf, offset, length = gaussian.pmf_table(gaussian.SCALE_TABLE)
    tables = cdf.from_pmf(pmf, offset, length, 16)
    rng = np.random.default_rng(0)
    values = rng.choice([-40, -9, -6, 6, 9, 40], size=2000).astype(np.int32)
    indexes = np.zeros(values.shape, np.int32)  # the narrowest table (scale 0.11)
    real_bits = 8 * len(coder.encode(values, indexes, tables))
    est_bits = float(-jnp.sum(jnp.log2(gaussian.likelihood(jnp.asarray(values, jnp.float32),
                                                           jnp.float32(gaussian.SCALE_TABLE[0])))))
    assert est_bits > 29.0 * values.size  # every value is at the likelihood bound 1e-9
    # escape (<= 16 bits: every count is >= 1 of 2**16) + bit length (~5 bits) + mantissa: ~25 bits each
    assert real_bits < 0.9 * est_bits, (real_bits, est_bits)
    # ... while symbols the model predicts well cost what the estimate says (to the tables' rounding).
    near = rng.normal(0, 3.0, 4000).round().astype(np.int32)
    idx = np.full(near.shape, int(np.searchsorted(gaussian.SCALE_TABLE, 3.0)), np.int32)
    real = 8 * len(coder.encode(near, idx, tables))
    est = float(-jnp.sum(jnp.log2(gaussian.likelihood(jnp.asarray(near, jnp.float32),
                                                       jnp.float32(gaussian.SCALE_TABLE[idx[0]])))))
    assert abs(real / est - 1) < 0.02, (real, est)


def test_evaluate_model_reports_the_tail_share(tmp_path):
    model = get("bmshj2018-hyperprior", N=8, M=12)
    params = model.init(jax.random.PRNGKey(0), (1, 64, 64, 3))
    img = (np.random.default_rng(1).uniform(0, 255, (64, 96, 3))).astype(np.uint8)
    row = evaluate.evaluate_model(model, params, [img])
    assert 0.0 <= row["estimated-tail-share"] <= 1.0
    assert row["bpp"] > 0 and row["bpp-estimated"] > 0
    curve = rdcurve.RDCurve("t", {"bpp": [row["bpp"]], "psnr-rgb": [row["psnr-rgb"]], "lambda": [0.01],
                                  "bpp-estimated": [row["bpp-estimated"]],
                                  "estimated-tail-share": [row["estimated-tail-share"]]})
    report = evaluate.write_report(tmp_path / "report.md", curve, [], []).read_text()
    assert "Real bytes vs estimated rate" in report
    assert f"{100 * row['estimated-tail-share']:.0f}%" in report and "coding tables' floor" in report
