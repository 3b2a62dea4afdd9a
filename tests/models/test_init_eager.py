"""A fresh init gives the same parameters, bit for bit, jitted as one program or with its ops run eagerly, in
`CompressionModel.init` and in the train loop's state init (large models init eagerly: `jit_init`)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import default
from jlic.models import base, registry
from jlic.train import loop


def _equal(a, b) -> bool:
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(la) == len(lb) and all(np.array_equal(x, y) for x, y in zip(la, lb, strict=True))


def test_eager_init_equals_jitted_init(monkeypatch):
    model = registry.get("bmshj2018-factorized", 1, N=8, M=8)
    key = jax.random.PRNGKey(3)
    jitted = model.init(key, (1, 64, 64, 3), jit=True)
    assert _equal(jitted, model.init(key, (1, 64, 64, 3), jit=False))
    assert base.jit_init(len(jax.tree.leaves(jitted))) and _equal(jitted, model.init(key, (1, 64, 64, 3)))
    monkeypatch.setattr(base, "EAGER_INIT_LEAVES", 0)  # the rule's eager branch
    assert not base.jit_init(len(jax.tree.leaves(jitted))) and _equal(jitted, model.init(key, (1, 64, 64, 3)))


@pytest.mark.slow  # ~85 s on the loaded 2-core box
def test_loop_state_init_eager_equals_jitted(monkeypatch):
    c = default.get_config()
    c.model, c.model_kwargs, c.batch_size = "bmshj2018-factorized", {"N": 8, "M": 8}, 2
    model = loop.build_model(c)
    states = {}
    for leaves in (10**6, 0):  # jitted, then eager
        monkeypatch.setattr(base, "EAGER_INIT_LEAVES", leaves)
        for stacked in (False, True):
            c.sweep_mode = "vmap" if stacked else "sequential"
            progs = loop.build_programs(c, model, 2 if stacked else 1, stacked)
            idx = jnp.arange(2, dtype=jnp.int32) if stacked else jnp.int32(1)
            state = progs.init(idx)
            assert jax.tree.map(lambda x: x.sharding, state) == progs.state_shard
            states[leaves, stacked] = state
    for stacked in (False, True):
        assert _equal(states[10**6, stacked], states[0, stacked])
