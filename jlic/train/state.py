"""Training state and optimizer.

One optax transformation updates everything: the network and density parameters with Adam (with gradient
clipping), the factorized models' `quantiles` with their own Adam learning rate (CompressAI's separate "aux"
optimizer, folded into one step so nobody forgets it).

Optimizer-state layout (`opt_layout`): "tree" (the default) keeps Adam's moments as trees shaped like the
parameters; "flat" runs each label's chain on ONE vector, the parameter leaves raveled (`raveled`, as
`optax.flatten`): 35-41 % fewer optimised HLO instructions in ELIC-CPU's and Entroformer-CPU's steps, but
on XLA:CPU the update alone compiles ~4x SLOWER (367 leaves: 16.7 against 4.4 s at load ~3, and the same
ratio in three runs under load; `python -m benchmarks.compile --guard 367 --opt-layouts tree,flat`) and
ELIC-CPU's whole step compiled only 10 % faster (27.3 against 30.2 s, one pair) but ran 18 % slower (0.044
against 0.037 s/step), so it is not the default. Both give the same update up to
float summation order (the clip's global norm); `convert_opt_state` turns one layout into the other, and a
checkpoint of either resumes under either.

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
import jax.flatten_util
import jax.numpy as jnp
import optax

from jlic.models.base import CompressionModel

Array = jax.Array

DEFAULTS = {"lr": 1e-4, "aux_lr": 1e-3, "clip_norm": 1.0, "image_shape": (1, 256, 256, 3),
            "lr_schedule": "constant", "lr_boundaries": (), "lr_decay": (0.1,), "lr_warmup": 0.0,
            "num_steps": 0, "opt_layout": "tree"}
LR_SCHEDULES = ("constant", "step")
OPT_LAYOUTS = ("flat", "tree")


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


def opt_layout(config: Mapping[str, Any] | Any = None) -> str:
    """The optimizer-state layout of `config` ("flat" or "tree"; see the module docstring)."""
    layout = _get(config, "opt_layout")
    if layout not in OPT_LAYOUTS:
        raise ValueError(f"opt_layout must be one of {OPT_LAYOUTS}, got {layout!r}")
    return layout


def raveled(inner: optax.GradientTransformation) -> optax.GradientTransformation:
    """`inner` applied to one vector: the leaves of the params and updates, raveled in `jax.tree.leaves`
    order (`jax.flatten_util.ravel_pytree`, as `optax.flatten` does, but a tree without leaves, e.g. a label
    no parameter has, is an empty vector instead of an error)."""

    def init(params: Any) -> Any:
        return inner.init(jax.flatten_util.ravel_pytree(params)[0])

    def update(updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        flat, unravel = jax.flatten_util.ravel_pytree(updates)
        flat_params = None if params is None else jax.flatten_util.ravel_pytree(params)[0]
        flat, state = inner.update(flat, state, flat_params)
        return unravel(flat), state

    return optax.GradientTransformation(init, update)


def make_optimizer(config: Mapping[str, Any] | Any = None, layout: str | None = None
                   ) -> optax.GradientTransformation:
    """Adam on network params (clipped at `clip_norm`, lr `lr_schedule(config)`) and Adam on quantiles
    (constant lr `aux_lr`), each label's chain on one raveled vector for `layout` (default
    `opt_layout(config)`) "flat"."""
    layout = opt_layout(config if layout is None else {"opt_layout": layout})
    main = optax.adam(lr_schedule(config))
    clip = _get(config, "clip_norm")
    if clip:
        main = optax.chain(optax.clip_by_global_norm(clip), main)
    chains = {"main": main, "aux": optax.adam(_get(config, "aux_lr"))}
    if layout == "flat":
        chains = {label: raveled(tx) for label, tx in chains.items()}
    return optax.multi_transform(chains, param_labels)


def _is_array(x: Any) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype")


def convert_opt_state(opt_state: Any, params: Any, config: Mapping[str, Any] | Any, src: str, dst: str
                      ) -> Any:
    """`opt_state` of layout `src` in layout `dst` (same values; `params`, concrete or abstract, of one
    model: vmap this over a stacked λ axis). Each moment tree of a "tree" state is one raveled vector of the
    "flat" state, in `jax.tree.leaves` order (as `raveled` ravels); counts are copied."""
    if src not in OPT_LAYOUTS or dst not in OPT_LAYOUTS:
        raise ValueError(f"opt layouts must be in {OPT_LAYOUTS}, got {src!r} -> {dst!r}")
    if src == dst:
        return opt_state
    shapes = jax.tree.map(lambda x: jax.ShapeDtypeStruct(jnp.shape(x), jnp.result_type(x)), params)
    tree = jax.eval_shape(make_optimizer(config, "tree").init, shapes)

    def ravel(_: Any, moments: Any) -> Any:  # a flat leaf, the tree (or scalar) it stands for
        return moments if _is_array(moments) else jax.flatten_util.ravel_pytree(moments)[0]

    def unravel(vector: Any, template: Any) -> Any:
        if _is_array(template):
            return vector
        zeros = jax.tree.map(lambda t: jnp.zeros(t.shape, t.dtype), template)
        return jax.flatten_util.ravel_pytree(zeros)[1](vector)

    if dst == "flat":  # the flat state's structure is a prefix of the tree state's
        flat = jax.eval_shape(make_optimizer(config, "flat").init, shapes)
        jax.tree.map(lambda a, b: None, tree, opt_state)  # raises if opt_state is not a "tree" state
        return jax.tree.map(ravel, flat, opt_state)
    return jax.tree.map(unravel, opt_state, tree)


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
