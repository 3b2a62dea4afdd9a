"""The flat optimizer-state layout: the same updates as the per-leaf layout, and old checkpoints resume."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jlic.models import get
from jlic.train import loop
from jlic.train.state import convert_opt_state, create_train_state, make_optimizer, param_labels
from jlic.train.step import make_train_step
from tests.train.test_loop import _params, tiny_config

# clip_norm small enough that every update clips (Adam's step barely depends on it, its moments' sums do);
# the aux (quantile) lr 10x the network lr
CONFIG = {"lr": 1e-3, "aux_lr": 1e-2, "clip_norm": 0.05}
SHAPES = {"g_a": {"conv_0": {"kernel": (5, 5, 3, 8), "bias": (8,)}, "gdn_0": {"beta": (8,), "gamma": (8, 8)}},
          "entropy_bottleneck": {"quantiles": (8, 1, 3), "matrix_0": (8, 3, 1), "bias_0": (8, 3, 1)},
          "g_s": {"conv_0": {"kernel": (5, 5, 8, 3), "bias": (3,)}}}


def _tree(seed: int, scale: float = 1.0):
    leaves, treedef = jax.tree.flatten(SHAPES, is_leaf=lambda x: isinstance(x, tuple))
    keys = jax.random.split(jax.random.PRNGKey(seed), len(leaves))
    values = [scale * jax.random.normal(k, s) for k, s in zip(keys, leaves, strict=True)]
    return jax.tree.unflatten(treedef, values)


def _updates(layout: str, steps: int = 3):
    """`steps` Adam updates of `layout` on fixed random gradients; (params, opt_state)."""
    opt = make_optimizer(CONFIG, layout)
    params = _tree(0)
    state = opt.init(params)
    update = jax.jit(opt.update)
    for i in range(steps):
        updates, state = update(_tree(10 + i, 3.0), state, params)
        params = optax.apply_updates(params, updates)
    return params, state


def test_flat_layout_gives_the_tree_layouts_updates_and_converts_both_ways():
    (tree_p, tree_s), (flat_p, flat_s) = _updates("tree"), _updates("flat")
    labels = param_labels(tree_p)
    assert sorted(set(jax.tree.leaves(labels))) == ["aux", "main"]
    # the largest move in 3 updates is about 3x the label's lr (Adam steps by about lr): per-label lrs
    moved = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), tree_p, _tree(0))
    assert moved["entropy_bottleneck"]["quantiles"] == pytest.approx(3 * CONFIG["aux_lr"], rel=0.05)
    assert moved["g_a"]["conv_0"]["kernel"] == pytest.approx(3 * CONFIG["lr"], rel=0.05)
    for a, b, label in zip(jax.tree.leaves(tree_p), jax.tree.leaves(flat_p), jax.tree.leaves(labels),
                           strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7, err_msg=label)
    # a handful of vectors instead of two moments per parameter leaf
    assert len(jax.tree.leaves(flat_s)) < 10 < 2 * len(jax.tree.leaves(flat_p))
    converted = convert_opt_state(tree_s, tree_p, CONFIG, "tree", "flat")
    assert jax.tree.structure(converted) == jax.tree.structure(flat_s)
    for a, b in zip(jax.tree.leaves(converted), jax.tree.leaves(flat_s), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-10)
    back = convert_opt_state(converted, tree_p, CONFIG, "flat", "tree")
    assert jax.tree.structure(back) == jax.tree.structure(tree_s)
    for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(tree_s), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError):
        convert_opt_state(flat_s, flat_p, CONFIG, "tree", "flat")  # not a tree-layout state


@pytest.mark.slow
def test_the_train_step_of_the_flat_layout_equals_the_tree_layouts():
    """Through `make_train_step` (clip, aux lr, the non-finite guard): three steps of a small model."""
    model = get("bmshj2018-factorized", 1, N=8, M=8)
    out = {}
    for layout in ("tree", "flat"):
        config = {**CONFIG, "image_shape": (1, 32, 32, 3), "opt_layout": layout}
        state = create_train_state(model, jax.random.PRNGKey(0), config)
        step = jax.jit(make_train_step(model, config))
        for i in range(3):
            x = jax.random.uniform(jax.random.PRNGKey(10 + i), (2, 32, 32, 3))
            state, metrics = step(state, x, 0.01, jax.random.PRNGKey(i))
            assert float(metrics["finite"]) == 1.0
        out[layout] = state
    for a, b in zip(jax.tree.leaves(out["tree"].params), jax.tree.leaves(out["flat"].params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["sequential", "vmap"])
def test_a_tree_layout_checkpoint_resumes_under_the_flat_layout(tmp_path, mode):
    """A run written before the flat layout (its checkpoints hold per-leaf moments and no "opt_layout")
    resumes and continues as if it had never stopped."""
    lambdas = (0.01,) if mode == "sequential" else (0.001, 0.1)
    cfg = lambda layout, steps: tiny_config(sweep_mode=mode, lambdas=lambdas, opt_layout=layout,
                                            num_steps=steps, log_every=2, checkpoint_every=2, clip_norm=0.05)
    loop.train(cfg("tree", 2), tmp_path / "resumed")
    for path in (tmp_path / "resumed" / "checkpoints").glob("*/2/meta/metadata"):  # as written before
        meta = json.loads(path.read_text())
        assert meta.pop("opt_layout") == "tree"
        path.write_text(json.dumps(meta))
    loop.train(cfg("flat", 4), tmp_path / "resumed")
    assert not list((tmp_path / "resumed").glob("checkpoints/*.unrestorable"))  # resumed, not restarted
    for path in (tmp_path / "resumed" / "checkpoints").glob("*/4/meta/metadata"):
        assert json.loads(path.read_text())["opt_layout"] == "flat"
    loop.train(cfg("tree", 4), tmp_path / "straight")
    for lmbda in lambdas:
        for a, b in zip(jax.tree.leaves(_params(tmp_path / "resumed", lmbda)),
                        jax.tree.leaves(_params(tmp_path / "straight", lmbda)), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
