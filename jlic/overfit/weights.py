"""Quantization of an overfitted codec's network weights, with their rate counted.

As in Cool-chic (arXiv 2212.05458, "the rate of the decoder is included in the loss at quantization"), each
parameter group (ARM weights, ARM biases, upsampling taps, synthesis weights, synthesis biases) is quantized
to a uniform step `2^-k`: `q = round(w 2^k)`, and the integers are coded with a zero-mean Laplace whose scale
is the group's mean `|q|` (its maximum-likelihood estimate), quantized to a log-spaced table. `k` is chosen
per group, greedily, to minimize `bpp(latents + weights) + λ 255² MSE` measured with rounded latents.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jlic.entropy import cdf, laplace
from jlic.models import coolchic

GROUPS: tuple[tuple[str, str], ...] = (("arm", "w"), ("arm", "b"), ("ups", "w"), ("synth", "w"), ("synth", "b"))
STEP_EXPS = tuple(range(5, 14))  # candidate k of the steps 2^-k
WEIGHT_LOG_SCALES = np.linspace(math.log(0.05), math.log(2.0**15), 64)
PRECISION = 16


@dataclasses.dataclass
class Quantized:
    """A fully quantized codec: integer latents, integer weights per group, their step exponents."""

    config: coolchic.CoolChicConfig
    height: int
    width: int
    latents: list[np.ndarray]  # int32 grids
    ints: dict[tuple[str, str], np.ndarray]  # int32, flat, per group
    exps: dict[tuple[str, str], int]

    def params(self) -> dict[str, Any]:
        """Dequantized float32 params (the decoder's view)."""
        return dequantize(self.config, self.height, self.width, self.ints, self.exps,
                          [g.astype(np.float32) for g in self.latents])


@functools.lru_cache(maxsize=32)
def shapes(config: coolchic.CoolChicConfig, height: int, width: int) -> dict[str, Any]:
    """Shape tree of the params (decoder side: from the architecture and the image size only; cached, as
    tracing `init_params` costs milliseconds on every decode)."""
    return jax.eval_shape(lambda: coolchic.init_params(jax.random.key(0), config, height, width))


def flatten(params: dict[str, Any], group: tuple[str, str]) -> np.ndarray:
    leaves = params[group[0]][group[1]]
    return np.concatenate([np.asarray(x, np.float64).ravel() for x in leaves]) if leaves else np.zeros(0)


def unflatten(template: list[Any], flat: np.ndarray) -> list[np.ndarray]:
    out, pos = [], 0
    for t in template:
        n = int(np.prod(t.shape))
        out.append(np.asarray(flat[pos:pos + n], np.float32).reshape(t.shape))
        pos += n
    if pos != flat.size:
        raise ValueError(f"{flat.size} values for a group of {pos} parameters")
    return out


def quantize_values(x: np.ndarray, k: int) -> np.ndarray:
    """`round(x 2^k)` as int32 (half to even)."""
    return np.round(np.asarray(x, np.float64) * 2.0**k).astype(np.int32)


def dequantize(config: coolchic.CoolChicConfig, height: int, width: int,
               ints: dict[tuple[str, str], np.ndarray], exps: dict[tuple[str, str], int],
               latents: list[Any]) -> dict[str, Any]:
    tree = shapes(config, height, width)
    params: dict[str, Any] = {"latents": latents}
    for mod in ("arm", "ups", "synth"):
        params[mod] = {}
        for kind in ("w", "b"):
            group = (mod, kind)
            if group in ints:
                vals = ints[group].astype(np.float64) * 2.0 ** -exps[group]
                params[mod][kind] = unflatten(tree[mod][kind], vals)
            else:
                params[mod][kind] = []
    return params


@functools.lru_cache(maxsize=2)
def tables(precision: int = PRECISION) -> cdf.CdfTables:
    """Zero-mean Laplace tables over `WEIGHT_LOG_SCALES`, support `±ceil(14 b) + 1` per row, escape beyond."""
    support = np.minimum(np.ceil(14 * np.exp(WEIGHT_LOG_SCALES)).astype(np.int64) + 1, 1 << 14)
    lmax = int(2 * support.max() + 1)
    pmf = np.zeros((len(WEIGHT_LOG_SCALES), lmax))
    for i, (ls, c) in enumerate(zip(WEIGHT_LOG_SCALES, support, strict=True)):
        pmf[i, : 2 * c + 1] = laplace.pmf_table(np.array([ls]), num_fracs=1, support=int(c))[0]
    return cdf.from_pmf(pmf, -support, 2 * support + 1, precision)


def scale_bin(q: np.ndarray) -> int:
    """Table row of a group's integers: nearest log scale to `mean |q|`."""
    b = max(float(np.mean(np.abs(q))) if q.size else 0.0, 1e-3)
    return int(np.argmin(np.abs(WEIGHT_LOG_SCALES - math.log(b))))


def group_bits(q: np.ndarray) -> float:
    """Bits of a group's integers under its table row (escape values charged their bypass bits too)."""
    if q.size == 0:
        return 0.0
    t = tables()
    row = scale_bin(q)
    idx = np.full(q.shape, row)
    bits = -float(np.sum(t.log2_prob(q, idx)))
    v = q.astype(np.int64) - t.offset[row]
    esc = (v < 0) | (v >= t.length[row])
    if esc.any():
        raw = np.where(v[esc] < 0, -2 * v[esc] - 1, 2 * (v[esc] - t.length[row]))
        bits += float(np.sum(np.floor(np.log2(np.maximum(raw, 1))) + 1 + math.log2(35)))
    return bits


@functools.lru_cache(maxsize=8)
def _eval_fn(config: coolchic.CoolChicConfig) -> Callable:
    from jlic.overfit.fit import loss_terms

    return jax.jit(lambda p, x: loss_terms(p, x, config, "round"))


def make_evaluator(config: coolchic.CoolChicConfig, image: np.ndarray
                   ) -> Callable[[dict[str, Any]], tuple[float, float]]:
    """`evaluate(params) -> (mse, latent bits)` with rounded latents (jit-compiled once)."""
    x = jnp.asarray(image, jnp.float32) / 255.0
    fn = _eval_fn(config)

    def evaluate(params: dict[str, Any]) -> tuple[float, float]:
        mse, bits = jax.device_get(fn(params, x))
        return float(mse), float(bits)

    return evaluate


def quantize_fitted(fitted: Any, image: np.ndarray, step_exps: tuple[int, ...] = STEP_EXPS,
                    evaluate: Callable | None = None) -> tuple[Quantized, dict[str, Any]]:
    """Choose each group's step greedily (groups in `GROUPS` order); returns the codec and a log."""
    config, h, w = fitted.config, fitted.height, fitted.width
    n = h * w
    evaluate = evaluate or make_evaluator(config, image)
    latents = [np.asarray(jnp.round(jnp.clip(g, -config.latent_max, config.latent_max))).astype(np.int32)
               for g in fitted.params["latents"]]
    float_params = {**fitted.params, "latents": [g.astype(np.float32) for g in latents]}
    groups = [g for g in GROUPS if flatten(fitted.params, g).size]
    # start from the finest step everywhere, then coarsen group by group
    exps = {g: max(step_exps) for g in groups}
    ints = {g: quantize_values(flatten(float_params, g), exps[g]) for g in groups}
    lam = fitted.lmbda
    log: dict[str, Any] = {}
    for g in groups:
        best = None
        for k in step_exps:
            trial = {**ints, g: quantize_values(flatten(float_params, g), k)}
            trial_exps = {**exps, g: k}
            mse, bits = evaluate(dequantize(config, h, w, trial, trial_exps, float_params["latents"]))
            wbits = sum(group_bits(q) for q in trial.values())
            loss = (bits + wbits) / n + lam * 255.0**2 * mse
            if best is None or loss < best[0]:
                best = (loss, k, trial[g])
        exps[g], ints[g] = best[1], best[2]
        log["/".join(g)] = {"step_exp": best[1], "bits": group_bits(best[2]), "count": int(best[2].size)}
    q = Quantized(config, h, w, latents, ints, exps)
    mse, bits = evaluate(q.params())
    log["final"] = {"mse": mse, "latent_bits": bits, "weight_bits": sum(group_bits(v) for v in ints.values())}
    return q, log
