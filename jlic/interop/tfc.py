"""Parameters and coding tables of tensorflow-compression (TFC 2.x) in jlic's layouts.

tensorflow-compression (Ballé et al., github.com/tensorflow/compression) is the reference implementation of
the factorized prior and GDN (Ballé et al. 2018, arXiv 1802.01436; Ballé et al. 2016, arXiv 1511.06281).
TFC 2.14 needs TensorFlow 2.14 and numpy < 2, so it is not imported here: these functions take the numpy
arrays of its variables (e.g. as saved by `tests/golden/make_tfc_fixtures.py`) and return jlic pytrees.

- `DeepFactorized` (`NoisyDeepFactorized.base`): `_matrices[k]` (C, out, in), `_biases[k]` and `_factors[k]`
  (C, out, 1), with any `num_filters` (TFC's default is (3, 3); CompressAI's (3, 3, 3, 3)). TFC has no
  `quantiles` parameter; jlic's are found by bisection of the cumulative (`factorized.bisect_quantiles`).
- `GDN`: the stored variables are `sqrt(value + 2^-36)` as in jlic; TFC's `gamma` is indexed (in, out)
  (`norm_i = beta_i + sum_j gamma[j, i] x_j^2`), jlic's (out, in).
- Range-coder CDF tables: TFC concatenates rows `[-precision, c_0, ..., c_{L+1}]` (support, overflow, end),
  with `cdf_offset` the value of symbol 0: the same row layout as `jlic.entropy.cdf.CdfTables`.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np

from jlic.entropy import factorized
from jlic.entropy.cdf import CdfTables, validate
from jlic.ops import gdn


def deep_factorized_params(matrices: Sequence[np.ndarray], biases: Sequence[np.ndarray],
                           factors: Sequence[np.ndarray],
                           tail_mass: float = factorized.DEFAULT_TAIL_MASS) -> dict[str, jnp.ndarray]:
    """jlic factorized-prior params from TFC `DeepFactorized` variables (quantiles by bisection)."""
    if not (len(matrices) == len(biases) == len(factors) + 1):
        raise ValueError(f"expected K matrices, K biases and K-1 factors, got {len(matrices)}, {len(biases)}, "
                         f"{len(factors)}")
    params: dict[str, jnp.ndarray] = {}
    for k, (m, b) in enumerate(zip(matrices, biases, strict=True)):
        params[f"matrix_{k}"] = jnp.asarray(m, jnp.float32)
        params[f"bias_{k}"] = jnp.asarray(np.asarray(b)[..., 0], jnp.float32)
    for k, f in enumerate(factors):
        params[f"factor_{k}"] = jnp.asarray(np.asarray(f)[..., 0], jnp.float32)
    params["quantiles"] = jnp.zeros((np.shape(matrices[0])[0], 3), jnp.float32)
    params["quantiles"] = jnp.asarray(factorized.bisect_quantiles(params, tail_mass), jnp.float32)
    return params


def gdn_params(beta_variable: np.ndarray, gamma_variable: np.ndarray) -> dict[str, jnp.ndarray]:
    """jlic `GDN` params (`beta`, `gamma`, reparametrized) from TFC's `GDNParameter.variable`s."""
    return {"beta": jnp.asarray(beta_variable, jnp.float32),
            "gamma": jnp.asarray(np.asarray(gamma_variable).T, jnp.float32)}


def gdn_values(beta: np.ndarray, gamma: np.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Effective (beta, gamma) in jlic's orientation from TFC's effective `layer.beta`, `layer.gamma`."""
    return jnp.asarray(beta, jnp.float32), jnp.asarray(np.asarray(gamma).T, jnp.float32)


def reparametrize(value: np.ndarray) -> jnp.ndarray:
    """The stored variable of a non-negative GDN value (same pedestal in TFC and jlic)."""
    return gdn.nonneg_value_to_param(jnp.asarray(value, jnp.float32))


def cdf_tables(cdf: np.ndarray, cdf_offset: np.ndarray, precision: int) -> CdfTables:
    """jlic `CdfTables` from TFC's flat `cdf` (rows led by `-precision`) and `cdf_offset`."""
    cdf = np.asarray(cdf, np.int64)
    starts = np.flatnonzero(cdf == -precision)
    if starts.size != np.size(cdf_offset) or (starts.size and starts[0] != 0):
        raise ValueError(f"{starts.size} rows in the flat CDF, {np.size(cdf_offset)} offsets")
    ends = np.append(starts[1:], cdf.size)
    rows = [cdf[s + 1:e] for s, e in zip(starts, ends, strict=True)]
    width = max(len(r) for r in rows)
    table = np.full((len(rows), width), 1 << precision, np.int64)
    for i, r in enumerate(rows):
        table[i, :len(r)] = r
    tables = CdfTables(cdf=table.astype(np.int32), cdf_length=np.array([len(r) for r in rows], np.int32),
                       offset=np.asarray(cdf_offset, np.int32).reshape(-1), precision=int(precision))
    validate(tables)
    return tables
