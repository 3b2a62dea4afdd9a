"""Training state and optimizer.

One optax transformation updates everything: the network and density parameters with Adam (with gradient
clipping), the factorized models' `quantiles` with their own Adam learning rate (CompressAI's separate "aux"
optimizer, folded into one step so nobody forgets it).

The network learning rate may follow a schedule (`lr_schedule`, see `lr_schedule`): constant (the default),
or piecewise constant with decays at fractions of `num_steps` (Entroformer's x0.5 stage decay, MLIC++'s and
ELIC's step decays), optionally after a linear warm-up. It is an optax schedule of the update count that
optax keeps in the optimizer state, so a checkpoint resumes it exactly; the aux learning rate stays constant.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax

from jlic.models.base import CompressionModel

Array = jax.Array

DEFAULTS = {"lr": 1e-4, "aux_lr": 1e-3, "clip_norm": 1.0, "image_shape": (1, 256, 256, 3),
            "lr_schedule": "constant", "lr_boundaries": (), "lr_decay": (0.1,), "lr_warmup": 0.0,
            "num_steps": 0}
LR_SCHEDULES = ("constant", "step")


@flax.struct.dataclass
class TrainState:
    step: Array
    params: Any
    opt_state: Any


def _get(config: Mapping[str, Any] | Any, name: str) -> Any:
    if config is None:
        return DEFAULTS[name]
    if isinstance(config, Mapping) or hasattr(config, "get"):
        value = config.get(name, None)
    else:
        value = getattr(config, name, None)
    return DEFAULTS[name] if value is None else value


def param_labels(params: Any) -> Any:
    """'aux' for the `quantiles` leaves of entropy bottlenecks, 'main' for everything else."""

    def label(path, _):
        return "aux" if any(getattr(k, "key", None) == "quantiles" for k in path) else "main"

    return jax.tree_util.tree_map_with_path(label, params)


def _steps_at(fraction: float, num_steps: int, what: str) -> int:
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"{what} must be in (0, 1] (fractions of num_steps), got {fraction!r}")
    return int(round(fraction * num_steps))


def _step_scales(config: Mapping[str, Any] | Any, num_steps: int) -> dict[int, float]:
    """{update count: factor} of `lr_schedule="step"`."""
    fractions = tuple(float(f) for f in _get(config, "lr_boundaries"))
    decay = _get(config, "lr_decay")
    decays = tuple(float(d) for d in decay) if isinstance(decay, (list, tuple)) else (float(decay),)
    if len(decays) == 1:
        decays *= len(fractions)
    if not fractions or len(decays) != len(fractions):
        raise ValueError(f"lr_schedule='step' needs lr_boundaries and one lr_decay (or one per boundary), got "
                         f"lr_boundaries={fractions!r}, lr_decay={decay!r}")
    if any(d <= 0 for d in decays):
        raise ValueError(f"lr_decay must be positive, got {decay!r}")
    steps = [_steps_at(f, num_steps, "lr_boundaries") for f in fractions]
    if any(b <= a for a, b in zip([0, *steps], steps, strict=False)):
        raise ValueError(f"lr_boundaries must increase and fall on distinct steps > 0 of "
                         f"num_steps={num_steps}, got {fractions!r} (steps {steps})")
    return dict(zip(steps, decays, strict=True))


def lr_schedule(config: Mapping[str, Any] | Any = None) -> float | optax.Schedule:
    """The network learning rate: `lr` itself (a float) for `lr_schedule="constant"` without warm-up, else
    an optax schedule of the update count (which optax keeps in the optimizer state).

    `"step"`: piecewise constant, multiplied by `lr_decay` (one factor for all boundaries, or one per
    boundary) from each of `lr_boundaries` on (increasing fractions of `num_steps`). Entroformer's fine-tuning
    (arXiv 2202.05492, official code): boundaries (0.2, 0.4, 0.6, 0.8), decay 0.5. `lr_warmup` (a fraction of
    `num_steps`, with any schedule): the first W updates are scaled by (count + 1) / W, as the official
    Entroformer code does (5 %). Bad values raise a one-line `ValueError`.
    """
    lr, name = float(_get(config, "lr")), _get(config, "lr_schedule")
    if name not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {name!r}")
    warmup, num_steps = float(_get(config, "lr_warmup")), int(_get(config, "num_steps"))
    if name == "constant" and not warmup:
        return lr  # a float: the optimizer state of every existing checkpoint
    if num_steps <= 0:
        raise ValueError(f"lr_schedule={name!r}, lr_warmup={warmup} needs num_steps > 0, got {num_steps}")
    base = optax.piecewise_constant_schedule(lr, _step_scales(config, num_steps) if name == "step" else None)
    if not warmup:
        return base
    w = _steps_at(warmup, num_steps, "lr_warmup")
    if w >= num_steps:
        raise ValueError(f"lr_warmup must end before training does, got {warmup} of num_steps={num_steps}")
    ramp = optax.linear_schedule(1.0 / max(w, 1), 1.0, max(w - 1, 0))  # (count + 1) / W, then 1
    return lambda count: base(count) * ramp(count)


def make_optimizer(config: Mapping[str, Any] | Any = None) -> optax.GradientTransformation:
    """Adam on network params (clipped at `clip_norm`, lr `lr_schedule(config)`) and Adam on quantiles
    (constant lr `aux_lr`)."""
    main = optax.adam(lr_schedule(config))
    clip = _get(config, "clip_norm")
    if clip:
        main = optax.chain(optax.clip_by_global_norm(clip), main)
    return optax.multi_transform({"main": main, "aux": optax.adam(_get(config, "aux_lr"))}, param_labels)


def create_train_state(model: CompressionModel, key: Array, config: Mapping[str, Any] | Any = None,
                       params: Any = None, jit: bool | None = None) -> TrainState:
    """Fresh params (for `config.image_shape`; `jit` as `CompressionModel.init`), or the given `params` (e.g.
    pretrained weights to fine-tune from), and optimizer state at step 0."""
    if params is None:
        params = model.init(key, tuple(_get(config, "image_shape")), jit=jit)
    else:
        params = jax.tree.map(jnp.asarray, params)
    opt_state = make_optimizer(config).init(params)
    return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=opt_state)
