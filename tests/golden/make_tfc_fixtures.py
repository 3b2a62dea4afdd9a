"""Write golden fixtures from tensorflow-compression 2.14 (run by make_tfc_venv.sh in TFC's own venv).

Everything is seeded and small (< 200 KB in all). For each TFC component the fixture holds its parameters
(so jlic can load them), fixed inputs and TFC's outputs:

- `tfc_factorized.npz`: `NoisyDeepFactorized(batch_shape=(C,), num_filters=(3, 3, 3))` with randomized
  matrices/biases/factors; `prob` on a grid; its tails; a `ContinuousBatchedEntropyModel(coding_rank=2,
  compression=True)`: quantization offsets, `quantize`, eval-mode bits, the range coder's string lengths,
  the symbols it coded and its integer CDF tables (flat TFC format).
- `tfc_gaussian.npz`: `LocationScaleIndexedEntropyModel(NoisyNormal, 64 scales 0.11..256, coding_rank=3)`:
  per-element likelihoods, quantized values, bits, string lengths, symbols, CDF tables.
- `tfc_gdn.npz`: classic `GDN(alpha_parameter=2, epsilon_parameter=.5)` and its inverse on a fixed NHWC
  input with randomized reparametrized beta/gamma (stored variables and effective values).
- `tfc_soft_round.npz`: `soft_round`, `soft_round_inverse`, `soft_round_conditional_mean` at two alphas.

Usage: `bash tests/golden/make_tfc_venv.sh` (this file needs tensorflow-compression; it cannot run in
jlic's environment).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_compression as tfc

SCALE_MIN, SCALE_MAX, NUM_SCALES = 0.11, 256.0, 64


def _strings_len(strings) -> np.ndarray:
    return np.array([len(s) for s in np.asarray(strings).reshape(-1)], np.int64)


def factorized(rng: np.random.Generator) -> dict[str, np.ndarray]:
    c = 4
    prior = tfc.NoisyDeepFactorized(batch_shape=(c,), num_filters=(3, 3, 3))
    base = prior.base
    out: dict[str, np.ndarray] = {}
    for name, variables in (("matrix", base._matrices), ("bias", base._biases), ("factor", base._factors)):
        for i, v in enumerate(variables):
            v.assign(v.numpy() + rng.normal(0, 0.6, v.shape).astype(np.float32))
            out[f"{name}_{i}"] = v.numpy()
    x = np.linspace(-8, 8, 161, dtype=np.float32)[:, None] + rng.normal(0, 0.3, (1, c)).astype(np.float32)
    out["x"] = x
    out["prob"] = prior.prob(x).numpy()
    for tail_mass in (2.0**-8, 1e-9):
        tag = "tail8" if tail_mass == 2.0**-8 else "tail9"
        out[f"lower_tail_{tag}"] = tfc.lower_tail(prior, tail_mass).numpy()
        out[f"upper_tail_{tag}"] = tfc.upper_tail(prior, tail_mass).numpy()
    em = tfc.ContinuousBatchedEntropyModel(prior, coding_rank=2, compression=True)
    y = (rng.normal(0, 2.0, (3, 200, c)) + np.asarray(tfc.quantization_offset(prior))).astype(np.float32)
    out["y"] = y
    out["quantization_offset"] = em.quantization_offset.numpy()
    out["y_quantized"] = em.quantize(y).numpy()
    out["bits"] = em(y, training=False)[1].numpy()
    out["string_lengths"] = _strings_len(em.compress(tf.constant(y)).numpy())
    out["symbols"] = np.round(y - out["quantization_offset"]).astype(np.int32)
    out["cdf"] = em.cdf.numpy()
    out["cdf_offset"] = em.cdf_offset.numpy()
    out["precision"] = np.int32(em.range_coder_precision)
    return out


def gaussian(rng: np.random.Generator) -> dict[str, np.ndarray]:
    offset = np.log(SCALE_MIN)
    factor = (np.log(SCALE_MAX) - np.log(SCALE_MIN)) / (NUM_SCALES - 1)
    em = tfc.LocationScaleIndexedEntropyModel(
        tfc.NoisyNormal, NUM_SCALES, lambda i: tf.exp(offset + factor * i), coding_rank=3, compression=True)
    shape = (2, 12, 12, 8)
    index = rng.integers(0, 40, shape).astype(np.float32)
    scale = np.exp(offset + factor * index)
    loc = rng.normal(0, 3, shape).astype(np.float32)
    y = (loc + rng.normal(0, 1, shape) * scale).astype(np.float32)
    y_hat, bits = em(y, index, loc=loc, training=False)
    prior = tfc.NoisyNormal(loc=loc, scale=tf.exp(offset + factor * tf.constant(index)))
    return {
        "y": y, "index": index, "loc": loc, "scale": scale.astype(np.float32),
        "y_quantized": y_hat.numpy(), "bits": bits.numpy(), "prob": prior.prob(y_hat).numpy(),
        # compress() does `bottleneck -= loc`, which would modify a numpy `y` in place: pass a tensor.
        "string_lengths": _strings_len(em.compress(tf.constant(y), index, loc=loc).numpy()),
        "symbols": np.round(y - loc).astype(np.int32),
        "cdf": em.cdf.numpy(), "cdf_offset": em.cdf_offset.numpy(),
        "precision": np.int32(em.range_coder_precision),
        "scale_table": np.exp(offset + factor * np.arange(NUM_SCALES)).astype(np.float32),
    }


def gdn(rng: np.random.Generator) -> dict[str, np.ndarray]:
    c = 6
    x = rng.normal(0, 1.5, (2, 5, 7, c)).astype(np.float32)
    out: dict[str, np.ndarray] = {"x": x}
    for tag, inverse in (("gdn", False), ("igdn", True)):
        # Classic GDN (Ballé et al. 2016): TFC 2.x defaults to the simplified alpha=1, epsilon=1 variant.
        layer = tfc.GDN(inverse=inverse, alpha_parameter=2, epsilon_parameter=0.5)
        layer.build(x.shape)
        beta_var = layer.beta_parameter.variable
        gamma_var = layer.gamma_parameter.variable
        beta_var.assign(np.abs(beta_var.numpy() + rng.normal(0, 0.3, beta_var.shape)).astype(np.float32))
        gamma_var.assign(np.abs(gamma_var.numpy() + rng.normal(0, 0.2, gamma_var.shape)).astype(np.float32))
        out[f"{tag}_beta_variable"] = beta_var.numpy()
        out[f"{tag}_gamma_variable"] = gamma_var.numpy()
        out[f"{tag}_beta"] = layer.beta.numpy()
        out[f"{tag}_gamma"] = layer.gamma.numpy()
        out[f"{tag}_out"] = layer(x).numpy()
    return out


def soft_round(rng: np.random.Generator) -> dict[str, np.ndarray]:
    x = np.linspace(-3, 3, 121, dtype=np.float32) + np.float32(0.01)
    out: dict[str, np.ndarray] = {"x": x}
    for alpha in (1.0, 5.0):
        tag = f"alpha{int(alpha)}"
        out[f"soft_round_{tag}"] = tfc.soft_round(x, alpha).numpy()
        out[f"soft_round_inverse_{tag}"] = tfc.soft_round_inverse(x, alpha).numpy()
        out[f"conditional_mean_{tag}"] = tfc.soft_round_conditional_mean(x, alpha).numpy()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = ap.parse_args()
    tf.random.set_seed(0)
    meta = {"tensorflow": np.str_(tf.__version__), "numpy": np.str_(np.__version__)}
    makers = (("factorized", factorized), ("gaussian", gaussian), ("gdn", gdn), ("soft_round", soft_round))
    for name, fn in makers:
        arrays = fn(np.random.default_rng(0))
        path = args.out / f"tfc_{name}.npz"
        np.savez_compressed(path, **arrays, **meta)
        print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
