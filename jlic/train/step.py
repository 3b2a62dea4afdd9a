"""The pure train and eval steps. `make_train_step` returns a function to `jax.jit` (or `jax.vmap` over a
stacked λ axis first): `step(state, batch, lmbda, rng) -> (state, metrics)`.

A step whose loss or gradients are not finite leaves the state unchanged and reports `finite = 0`, so a NaN
never reaches the parameters; the loop decides whether to stop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jlic.models.base import CompressionModel
from jlic.train.loss import rate_distortion
from jlic.train.state import TrainState, make_optimizer

Array = jax.Array
StepFn = Callable[[TrainState, Array, Array, Array], tuple[TrainState, dict[str, Array]]]


def _metric(config: Mapping[str, Any] | Any) -> str:
    value = config.get("metric", None) if config is not None and hasattr(config, "get") else None
    return value or "mse"


def make_loss_fn(model: CompressionModel, metric: str = "mse") -> Callable:
    """`loss_fn(params, batch, lmbda, rng) -> (loss, metrics)`: R + λD + the quantile (aux) loss."""

    def loss_fn(params, batch, lmbda, rng):
        out = model.apply(params, batch, train=True, rng=rng)
        loss, metrics = rate_distortion(out, batch, lmbda, metric)
        aux = model.aux_loss(params)
        metrics["aux_loss"] = aux
        return loss + aux, metrics

    return loss_fn


def make_train_step(model: CompressionModel, config: Mapping[str, Any] | Any = None) -> StepFn:
    """A pure train step for `model` with the optimizer of `config` (see `jlic.train.state`)."""
    optimizer = make_optimizer(config)
    grad_fn = jax.value_and_grad(make_loss_fn(model, _metric(config)), has_aux=True)

    def step(state: TrainState, batch: Array, lmbda: Array, rng: Array) -> tuple[TrainState, dict[str, Array]]:
        (_, metrics), grads = grad_fn(state.params, batch, lmbda, rng)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        finite = jnp.isfinite(metrics["loss"]) & jnp.all(
            jnp.stack([jnp.all(jnp.isfinite(g)) for g in jax.tree_util.tree_leaves(grads)]))
        keep = lambda new, old: jax.tree_util.tree_map(lambda a, b: jnp.where(finite, a, b), new, old)
        new_state = TrainState(step=state.step + finite.astype(jnp.int32), params=keep(params, state.params),
                               opt_state=keep(opt_state, state.opt_state))
        metrics["finite"] = finite.astype(jnp.float32)
        metrics["grad_norm"] = optax.global_norm(grads)
        return new_state, metrics

    return step


def make_eval_step(model: CompressionModel, metric: str = "mse") -> Callable:
    """`eval_step(params, batch, lmbda) -> metrics` with hard rounding (estimated bits, no coding)."""

    def eval_step(params, batch, lmbda):
        out = model.apply(params, batch, train=False)
        out = out._replace(x_hat=jnp.clip(out.x_hat, 0.0, 1.0))
        return rate_distortion(out, batch, lmbda, metric)[1]

    return eval_step
