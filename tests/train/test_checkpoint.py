import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jlic.codec.export import flatten_params, load_model, save_model, unflatten_params
from jlic.train.checkpoint import CheckpointManager


def _state(seed=0):
    k = jax.random.split(jax.random.key(seed), 2)
    params = {"enc": {"w": jax.random.normal(k[0], (3, 4)), "b": jnp.zeros(4)},
              "eb": {"q": jnp.ones((2, 1, 3)) * seed}}
    opt = optax.adam(1e-3).init(params)
    return {"params": params, "opt_state": opt, "step": jnp.asarray(7, jnp.int32)}


def test_save_restore_keep_n(tmp_path):
    with CheckpointManager(tmp_path / "ckpt", max_to_keep=2) as mgr:
        for step in (1, 2, 3):
            mgr.save(step, _state(step), {"next_index": step * 10}, {"lambda": [0.01]})
        mgr.wait()
        assert mgr.all_steps() == [2, 3]
        state, data, meta = mgr.restore(None, _state(0))
    expect = _state(3)
    jax.tree.map(np.testing.assert_array_equal, state, expect)
    assert jax.tree.structure(state) == jax.tree.structure(expect)  # optax NamedTuples come back
    assert data == {"next_index": 30} and meta["step"] == 3 and meta["lambda"] == [0.01]
    # reopening sees the same checkpoints
    with CheckpointManager(tmp_path / "ckpt") as mgr2:
        assert mgr2.latest_step() == 3
        _, data2, _ = mgr2.restore(2, _state(0))
        assert data2 == {"next_index": 20}


def test_restore_missing(tmp_path):
    with CheckpointManager(tmp_path / "empty") as mgr, pytest.raises(FileNotFoundError):
        mgr.restore(None, _state())


def test_flatten_roundtrip():
    p = jax.tree.map(np.asarray, _state()["params"])
    flat = flatten_params(p)
    assert set(flat) == {"enc/w", "enc/b", "eb/q"}
    back = unflatten_params(flat)
    jax.tree.map(np.testing.assert_array_equal, back, p)


def test_export_roundtrip_real_model(tmp_path):
    registry = pytest.importorskip("jlic.models.registry")
    model = registry.get("bmshj2018-factorized", quality=1, N=8, M=8)
    # parameters with the model's real structure, from its abstract init (cheap: no compile)
    shapes = jax.eval_shape(lambda k: model.init(k, (1, 32, 32, 3)), jax.random.key(0))
    rng = np.random.default_rng(0)
    params = jax.tree.map(lambda s: rng.standard_normal(s.shape).astype(s.dtype), shapes)
    out = save_model(tmp_path / "m", model, params, extra={"lambda": 0.01})
    meta = json.loads((out / "model.json").read_text())
    assert meta["name"] == "bmshj2018-factorized" and meta["lambda"] == 0.01
    model2, params2 = load_model(out)
    assert model2.name == model.name and dict(model2.kwargs) == dict(model.kwargs)
    assert jax.tree.structure(params2) == jax.tree.structure(jax.tree.map(np.asarray, params))
    jax.tree.map(np.testing.assert_array_equal, params2, params)
    # overwrite is atomic: no temp dirs left behind
    save_model(tmp_path / "m", model, params)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_load_model_not_a_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="model.json"):
        load_model(tmp_path)
