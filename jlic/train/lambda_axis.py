"""λ as an array axis: stack several models' pytrees along a new leading axis and take them apart.

A stacked train state is trained with `jax.vmap(step, in_axes=(0, None, 0, 0))` over (state, batch,
λ, rng): every λ model sees the same batch, and all of them run in one compiled program.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

PyTree = Any


def stack(trees: Sequence[PyTree]) -> PyTree:
    """[tree_0, ..., tree_{n-1}] (same structure) -> one tree whose leaves have a leading axis n."""
    if not trees:
        raise ValueError("stack() needs at least one tree")
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def take(tree: PyTree, i: int) -> PyTree:
    """Element `i` of a stacked tree."""
    return jax.tree.map(lambda x: x[i], tree)


def unstack(tree: PyTree) -> list[PyTree]:
    """Inverse of `stack`."""
    n = jax.tree.leaves(tree)[0].shape[0]
    return [take(tree, i) for i in range(n)]


def vmap_step(step: Any) -> Any:
    """`step(state, batch, lmbda, rng)` -> the same over a stacked λ axis (batch shared)."""
    return jax.vmap(step, in_axes=(0, None, 0, 0))
