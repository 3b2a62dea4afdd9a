"""kamisli2024-vbr (CompressAI's variable-rate models, Kamisli et al. 2024, arXiv 2402.18930) on its own:
levels, per-example levels in training (the loss of jlic.train.variable_rate), what the level changes.
The equivalence with CompressAI is tests/interop/test_compressai_vbr.py."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jlic.models import registry
from jlic.train.variable_rate import make_loss_fn


def _model(**kw):
    return registry.get("kamisli2024-vbr", N=8, M=12, **kw)


def test_levels_and_lambdas():
    model = _model()
    assert model.levels == 8 and model.coding_level == 7.0
    assert model.at(2.5).coding_level == 2.5 and model.at_lambda(0.0067).coding_level == 2.0
    with pytest.raises(ValueError, match="outside"):
        model.at(8)
    with pytest.raises(ValueError, match="z_step=False"):
        bad = _model(variant="mbt2018", z_step=True)
        jax.eval_shape(lambda k: bad.init(k, (1, 64, 64, 3)), jax.random.PRNGKey(0))


@pytest.mark.slow
def test_per_example_levels_train_every_part():
    """A batch with levels (1, 6): each example is what it is alone at its level, and the loss reaches the
    offset MLP and the context shift (the gains are held fixed, as in CompressAI)."""
    model = _model(variant="mbt2018", z_step=False)
    params = model.init(jax.random.PRNGKey(0), (1, 64, 64, 3))
    g_a = params["g_a"]["layer_6"]
    params["g_a"]["layer_6"] = {**g_a, "kernel": 30.0 * g_a["kernel"]}  # nonzero symbols at fresh init
    x = jax.random.uniform(jax.random.PRNGKey(1), (2, 64, 64, 3))
    both = model.apply(params, x, level=jnp.array([1.0, 6.0]))
    for i, level in enumerate((1.0, 6.0)):
        one = model.apply(params, x[i:i + 1], level=level)
        np.testing.assert_allclose(np.asarray(both.x_hat[i]), np.asarray(one.x_hat[0]), atol=1e-5)
    loss_fn = make_loss_fn(model)
    grads = jax.grad(lambda p: loss_fn(p, x, jnp.asarray(model.lambdas), jax.random.PRNGKey(2))[0])(params)
    assert all(np.isfinite(np.asarray(g)).all() for g in jax.tree.leaves(grads))
    assert float(jnp.abs(grads["QuantABCD"]["layer_4"]["kernel"]).sum()) > 0
    assert float(jnp.abs(grads["scale_to_context"]["kernel"]).sum()) > 0
    assert float(jnp.abs(grads["Gain"]).sum()) == 0.0
