"""The pure train and eval steps. `make_train_step` returns a function to `jax.jit` (or `jax.vmap` over a
stacked λ axis first): `step(state, batch, lmbda, rng) -> (state, metrics)`.

A step whose loss or gradients are not finite leaves the state unchanged and reports `finite = 0`, so a NaN
never reaches the parameters; the loop decides whether to stop. The metrics include the gradient norm and the
network learning rate of the update (`lr`, as scheduled by `jlic.train.state.lr_schedule`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jlic import quantize
from jlic.models.base import CompressionModel
from jlic.train.loss import rate_distortion
from jlic.train.state import TrainState, lr_schedule, make_optimizer, param_labels

Array = jax.Array
StepFn = Callable[[TrainState, Array, Array, Array], tuple[TrainState, dict[str, Array]]]


def _metric(config: Mapping[str, Any] | Any) -> str:
    value = config.get("metric", None) if config is not None and hasattr(config, "get") else None
    return value or "mse"


def make_loss_fn(model: CompressionModel, metric: str = "mse", aux: bool = True) -> Callable:
    """`loss_fn(params, batch, lmbda, rng, noise=None) -> (loss, metrics)`: R + λD + the quantile (aux) loss
    (without it if not `aux`). `noise` ({"y": u_y, "z": u_z}, NHWC) replaces the drawn quantization noise
    (`jlic.quantize.supplied_noise`)."""

    def loss_fn(params, batch, lmbda, rng, noise=None):
        with quantize.supplied_noise(noise) if noise is not None else contextlib.nullcontext():
            out = model.apply(params, batch, train=True, rng=rng)
        loss, metrics = rate_distortion(out, batch, lmbda, metric)
        if not aux:
            return loss, metrics
        aux_loss = model.aux_loss(params)
        metrics["aux_loss"] = aux_loss
        return loss + aux_loss, metrics

    return loss_fn


def keep_if_finite(loss: Array, grads: Any, new: Any, old: Any) -> tuple[Any, Array, Array]:
    """(``new`` if the loss and every gradient are finite, else ``old``; that flag; the gradient norm).

    One scalar decides: a NaN or Inf in any gradient (or a norm past float32's range) makes the norm
    non-finite. A per-leaf `isfinite` stack instead made XLA:CPU's compile time superlinear in the leaf count
    (`python -m benchmarks.compile --guard 200,400`: 28.5 / 136.6 s against 3.9 / 7.6 s); MLIC++-CPU's
    879-leaf step did not compile in 34 min with it and compiles in 113 s without.
    """
    grad_norm = optax.global_norm(grads)
    finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
    return jax.tree_util.tree_map(lambda a, b: jnp.where(finite, a, b), new, old), finite, grad_norm


def make_train_step(model: CompressionModel, config: Mapping[str, Any] | Any = None,
                    loss_factory: Callable | None = None) -> StepFn:
    """A pure train step for `model` with the optimizer of `config` (see `jlic.train.state`):
    `step(state, batch, lmbda, rng, noise=None)`; `noise` as in `make_loss_fn`. `loss_factory` (default
    `make_loss_fn`, same signature) builds the loss, e.g. `jlic.train.variable_rate.make_loss_fn`.

    `config.aux_step`: "joint" (default) takes the quantile (aux) loss at the step's input params, in the
    same gradient; "after_main" takes it at the params after the network update, as CompressAI's
    `examples/train.py` does (net step, then `aux_loss().backward()`, aux step). The quantiles are the only
    leaves the aux loss moves and the network loss does not touch them, so the two orders give the same
    network trajectory; the quantiles (coding medians) differ by one step's density update.
    """
    optimizer = make_optimizer(config)
    schedule = lr_schedule(config)
    aux_step = (config.get("aux_step", None) if hasattr(config, "get") else None) or "joint"
    if aux_step not in ("joint", "after_main"):
        raise ValueError(f"aux_step must be 'joint' or 'after_main', not {aux_step!r}")
    loss_fn = (loss_factory or make_loss_fn)(model, _metric(config), aux=aux_step == "joint")
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
    aux_grad = jax.value_and_grad(model.aux_loss)

    def step(state: TrainState, batch: Array, lmbda: Array, rng: Array, noise: Any = None
             ) -> tuple[TrainState, dict[str, Array]]:
        (_, metrics), grads = grad_fn(state.params, batch, lmbda, rng, noise)
        if aux_step == "after_main":
            # The network part of the update does not depend on the quantile gradients (separate Adam
            # states), so a first update gives the post-step density the aux loss is taken at.
            first, _ = optimizer.update(grads, state.opt_state, state.params)
            first = jax.tree.map(lambda u, label: u if label == "main" else jnp.zeros_like(u), first,
                                 param_labels(state.params))
            metrics["aux_loss"], g_aux = aux_grad(optax.apply_updates(state.params, first))
            grads = jax.tree.map(jnp.add, grads, g_aux)  # disjoint supports: quantiles vs everything else
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        (params, opt_state), finite, grad_norm = keep_if_finite(
            metrics["loss"], grads, (params, opt_state), (state.params, state.opt_state))
        new_state = TrainState(step=state.step + finite.astype(jnp.int32), params=params, opt_state=opt_state)
        metrics["finite"] = finite.astype(jnp.float32)
        metrics["grad_norm"] = grad_norm
        # the network learning rate of this update (the schedule of the update count, which equals
        # state.step: a skipped step moves neither)
        metrics["lr"] = jnp.asarray(schedule(state.step) if callable(schedule) else schedule, jnp.float32)
        return new_state, metrics

    return step


def make_eval_step(model: CompressionModel, metric: str = "mse") -> Callable:
    """`eval_step(params, batch, lmbda) -> metrics` with hard rounding (estimated bits, no coding)."""

    def eval_step(params, batch, lmbda):
        out = model.apply(params, batch, train=False)
        out = out._replace(x_hat=jnp.clip(out.x_hat, 0.0, 1.0))
        return rate_distortion(out, batch, lmbda, metric)[1]

    return eval_step
