"""Variable rate for any registered model: per-level gain vectors on the latent, one model for the RD curve.

Gain units (Cui et al. 2021, arXiv 2003.02012): rate level ``l`` has a learned gain vector ``g_l`` (one entry
per latent channel) that scales ``y = g_a(x)`` before the model's latent codec, and an inverse-gain vector
``g'_l`` that rescales the decoded latent before ``g_s``. Fractional levels interpolate exponentially,
``g = g_l^(1-t) g_{l+1}^t`` (linear in the stored log-gains), so the rate is continuous between the trained
levels. Training draws a level per example and weights its distortion by that level's λ
(:mod:`jlic.train.variable_rate`).

Why gains rather than CompressAI's per-level quantization steps inside the Gaussian leaf (Kamisli et al.
2024, arXiv 2402.18930)? The gains act on ``y`` *outside* the latent codec, so every composition (hyperprior,
raster scan, checkerboard, channel groups, mixtures) becomes variable-rate without touching its model file or
its codec: the codec codes ``g_l * y`` with the tables it already has, and the hyperprior sees the gained
latent, so its scales follow the level. A per-channel gain contains a scalar step (all entries equal) as a
special case. The level changes only ``analysis`` and ``synthesis``; the coded stream is decoded without it,
and the ``.jlic`` header carries it (extension ``rate_level``, :mod:`jlic.codec.rate_level`).

A :class:`VariableRateModel` is a :class:`CompressionModel` registered as ``"variable-rate"`` with kwargs
``base`` (registry name), ``base_kwargs`` and ``lambdas`` (increasing, one per level); its params are the
base model's plus ``vr_log_gain`` and ``vr_log_inv_gain`` (``(levels, M)``). ``model.at(level)`` binds a
coding level (fractional allowed); unbound, it codes at the top level (highest rate).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jlic.models import registry
from jlic.models.base import CompressionModel, ModelOutput, crop_image, pad_image

Array = jax.Array
Params = Any
NAME = "variable-rate"
GAIN, INV_GAIN = "vr_log_gain", "vr_log_inv_gain"


def check_level(level: float, levels: int) -> float:
    """``level`` as a float in ``[0, levels - 1]``, else a one-line ``ValueError``."""
    try:
        value = float(level)
    except (TypeError, ValueError):
        raise ValueError(f"rate level must be a number, not {level!r}") from None
    if not math.isfinite(value) or not 0.0 <= value <= levels - 1:
        raise ValueError(f"rate level {level!r} outside 0..{levels - 1} (this model has {levels} levels; "
                         "fractional levels interpolate)")
    return value


def interpolate(table: Array, level: Array) -> Array:
    """Row ``level`` of ``table`` ``(levels, M)``; linear between the two nearest rows for a fractional level.

    ``level`` may be a scalar or an array (one level per example): the result has its shape plus ``(M,)``.
    Integer levels return their row exactly.
    """
    n = table.shape[0]
    level = jnp.clip(jnp.asarray(level, jnp.float32), 0.0, n - 1)
    lo = jnp.clip(jnp.floor(level).astype(jnp.int32), 0, max(n - 2, 0))
    hi = jnp.minimum(lo + 1, n - 1)
    t = (level - lo.astype(jnp.float32))[..., None]
    return table[lo] * (1.0 - t) + table[hi] * t


def level_of_lambda(lmbda: float, lambdas: Sequence[float]) -> float:
    """The (fractional) level whose λ is ``lmbda``, interpolating log λ between the trained levels."""
    lam = np.log(np.asarray(lambdas, np.float64))
    try:
        value = float(lmbda)
    except (TypeError, ValueError):
        raise ValueError(f"λ must be a number, not {lmbda!r}") from None
    if not (math.isfinite(value) and value > 0 and lam[0] - 1e-9 <= math.log(value) <= lam[-1] + 1e-9):
        raise ValueError(f"λ {lmbda!r} outside the trained range {float(lambdas[0]):g}..{float(lambdas[-1]):g}")
    level = float(np.clip(np.interp(math.log(value), lam, np.arange(len(lam))), 0, len(lam) - 1))
    return round(level, 12)  # λ of a level maps back to that level exactly (no 0.49999999999999994)


def lambda_of_level(level: float, lambdas: Sequence[float]) -> float:
    """λ of a (fractional) level: log-linear between the trained λ."""
    lam = np.log(np.asarray(lambdas, np.float64))
    return float(np.exp(np.interp(float(level), np.arange(len(lam)), lam)))


def init_gains(lambdas: Sequence[float], channels: int) -> dict[str, Array]:
    """Log-gains ``0.5 log(λ_l / λ_max)`` (a quantization step ∝ 1/sqrt(λ), as MSE-optimal uniform
    quantization at high rate) and their negatives as log inverse gains: the top level starts at gain 1."""
    lam = np.asarray(lambdas, np.float64)
    log_gain = 0.5 * np.log(lam / lam.max())
    table = jnp.asarray(np.repeat(log_gain[:, None], channels, axis=1), jnp.float32)
    return {GAIN: table, INV_GAIN: -table}


def _forward(m: Any, x: Array, gain: Array, inv_gain: Array, train: bool) -> tuple[Array, dict[str, Array]]:
    """Inside the base module's apply: ``g_s(inv_gain * codec(gain * g_a(x)))`` with its likelihoods."""
    key = m.make_rng("noise") if train else None
    out = m.latent_codec.forward(m.analysis(x) * gain, None, train, key)
    return m.synthesis(out.y_hat * inv_gain), out.likelihoods


class RateLevels:
    """Levels of a variable-rate model dataclass with fields ``lambdas`` (one per level) and ``level``."""

    lambdas: tuple[float, ...]
    level: float | None

    @property
    def levels(self) -> int:
        return len(self.lambdas)

    @property
    def coding_level(self) -> float:
        """The bound level, or the top one."""
        return float(self.levels - 1) if self.level is None else float(self.level)

    def at(self, level: float) -> Any:
        """This model coding at ``level`` (fractional allowed); a bad level is a one-line ``ValueError``."""
        return dataclasses.replace(self, level=check_level(level, self.levels))

    def at_lambda(self, lmbda: float) -> Any:
        """This model at the level of ``lmbda`` (log-interpolated between the trained λ)."""
        return self.at(level_of_lambda(lmbda, self.lambdas))


@dataclasses.dataclass(frozen=True, eq=False)
class VariableRateModel(RateLevels, CompressionModel):
    """A registered model with per-level gains (see the module docstring); ``level``: the coding level."""

    base: CompressionModel | None = None
    lambdas: tuple[float, ...] = ()
    level: float | None = None

    @functools.cached_property
    def latent_channels(self) -> int:
        shape = (1, self.stride, self.stride, 3)
        params = jax.eval_shape(lambda k: self.base.init(k, shape), jax.random.key(0))
        y = jax.eval_shape(self.base.analysis, params, jax.ShapeDtypeStruct(shape, jnp.float32))
        return int(y.shape[-1])

    def init(self, key: Array, shape: tuple[int, ...] = (1, 256, 256, 3), jit: bool | None = None
             ) -> Params:
        return {**self.base.init(key, shape, jit), **init_gains(self.lambdas, self.latent_channels)}

    def with_gains(self, params: Params) -> Params:
        """Base-model params (e.g. pretrained fixed-rate weights to fine-tune from) plus initial gains; params
        that already have gains are returned as they are."""
        return params if GAIN in params else {**params, **init_gains(self.lambdas, self.latent_channels)}

    def gains(self, params: Params, level: Array | float | None = None) -> tuple[Array, Array]:
        """(gain, inverse gain) at ``level`` (default: the coding level), shape ``level.shape + (M,)``."""
        level = self.coding_level if level is None else level
        return (jnp.exp(interpolate(params[GAIN], level)), jnp.exp(interpolate(params[INV_GAIN], level)))

    def _nhwc_gains(self, params: Params, level: Any) -> tuple[Array, Array]:
        g, ig = self.gains(params, level)
        return (g, ig) if g.ndim == 1 else (g[:, None, None, :], ig[:, None, None, :])

    def apply(self, params: Params, x: Array, train: bool = False, rng: Array | None = None,
              padding: str = "edge", level: Array | float | None = None) -> ModelOutput:
        """As :meth:`CompressionModel.apply` at ``level`` (a scalar, or one level per example)."""
        if train and rng is None:
            raise ValueError("apply(train=True) needs an rng key for quantization noise")
        xp, pads = pad_image(x, self.stride, padding)
        gain, inv_gain = self._nhwc_gains(params, level)
        rngs = {"noise": rng} if rng is not None else {}
        x_hat, likelihoods = self.module.apply({"params": params}, xp, gain, inv_gain, train, rngs=rngs,
                                               method=_forward)
        return ModelOutput(crop_image(x_hat, pads), likelihoods)

    def analysis(self, params: Params, x: Array, level: Array | float | None = None) -> Array:
        """``gain(level) * g_a(x)``: the latent the codec codes."""
        return self.base.analysis(params, x) * self._nhwc_gains(params, level)[0]

    def synthesis(self, params: Params, y_hat: Array, level: Array | float | None = None) -> Array:
        """``g_s(inv_gain(level) * y_hat)``."""
        return self.base.synthesis(params, y_hat * self._nhwc_gains(params, level)[1])

    @property
    def _coding_fns(self) -> dict:
        return self.base._coding_fns  # the coded latent does not depend on the level: share across levels


def wrap(base: CompressionModel, lambdas: Sequence[float]) -> VariableRateModel:
    """The variable-rate version of ``base`` with one level per λ (sorted increasing, distinct)."""
    lam = sorted(float(x) for x in lambdas)
    if len(lam) < 2 or len(set(lam)) != len(lam) or lam[0] <= 0:
        raise ValueError(f"a variable-rate model needs >= 2 distinct positive λ, got {list(lambdas)}")
    kwargs = dict(base.kwargs)
    return registry.get(NAME, base=base.name, base_kwargs=kwargs, lambdas=lam)


def _base_model(base: str, lambdas: Sequence[float], base_kwargs: Any = None) -> CompressionModel:
    kwargs = dict(base_kwargs or {})
    return registry.get(base, quality=int(kwargs.pop("quality", 3)), **kwargs)


def _build(name: str, kwargs: dict[str, Any], module: CompressionModel, stride: int) -> VariableRateModel:
    lam = tuple(float(x) for x in kwargs["lambdas"])
    return VariableRateModel(name=name, kwargs=kwargs, module=module.module, stride=module.stride, base=module,
                             lambdas=lam)


registry.register(NAME, _base_model, {q: {} for q in range(1, 9)}, stride=1, wrapper=_build)


def is_variable_rate(model: Any) -> bool:
    return isinstance(model, VariableRateModel)
