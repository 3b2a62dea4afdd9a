"""Training state and optimizer.

One optax transformation updates everything: the network and density parameters with Adam (with gradient
clipping), the factorized models' `quantiles` with their own Adam learning rate (CompressAI's separate "aux"
optimizer, folded into one step so nobody forgets it).
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

DEFAULTS = {"lr": 1e-4, "aux_lr": 1e-3, "clip_norm": 1.0, "image_shape": (1, 256, 256, 3)}


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


def make_optimizer(config: Mapping[str, Any] | Any = None) -> optax.GradientTransformation:
    """Adam on network params (clipped at `clip_norm`, lr `lr`) and Adam on quantiles (lr `aux_lr`)."""
    main = optax.adam(_get(config, "lr"))
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
