"""Resume from damaged checkpoints: truncated / missing files and another pytree are reported, moved aside
(not deleted) and skipped; a checkpoint of another model is refused with a message naming both."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jlic.train.checkpoint import CheckpointManager, CheckpointMismatchError, CheckpointRestoreError


def _state(seed=0, width=4):
    k = jax.random.split(jax.random.key(seed), 2)
    params = {"enc": {"w": jax.random.normal(k[0], (3, width)), "b": jnp.zeros(width)}}
    return {"params": params, "opt_state": optax.adam(1e-3).init(params), "step": jnp.asarray(seed, jnp.int32)}


def _three(tmp_path, meta=None):
    d = tmp_path / "ckpt"
    with CheckpointManager(d, max_to_keep=3) as mgr:
        for step in (1, 2, 3):
            mgr.save(step, _state(step), {"i": step}, meta or {"model": "m", "lambdas": [0.1]})
    return d


def _data_files(step_dir):
    return sorted(p for p in (step_dir / "state").rglob("*") if p.is_file() and p.parent.name == "d")


def _restore(d, **kw):
    logs = []
    with CheckpointManager(d, max_to_keep=3) as mgr:
        out = mgr.restore_newest(_state(0), log=logs.append, **kw)
        return out, logs, mgr.all_steps()


@pytest.mark.parametrize("damage", ["truncate", "delete", "meta"])
def test_damaged_newest_is_moved_aside_and_older_restores(tmp_path, damage):
    d = _three(tmp_path)
    if damage == "truncate":  # what a node dying mid-write or a bad disk leaves
        files = _data_files(d / "3")
        assert files
        for f in files[:3]:
            f.write_bytes(f.read_bytes()[:10])
    elif damage == "delete":
        for f in _data_files(d / "3"):
            f.unlink()
    else:
        (d / "3" / "meta" / "metadata").write_text("{not json")
    (state, data, meta), logs, steps = _restore(d, expect={"model": "m"})
    assert meta["step"] == 2 and data == {"i": 2}
    jax.tree.map(np.testing.assert_array_equal, state, _state(2))
    assert len(logs) == 1 and "\n" not in logs[0] and "step 3 does not restore" in logs[0], logs
    assert steps == [1, 2]
    aside = list((tmp_path / "ckpt.unrestorable").iterdir())
    assert len(aside) == 1 and aside[0].name.startswith("3-") and (aside[0] / "state").is_dir()


def test_wrong_tree_is_moved_aside(tmp_path):
    """A newest checkpoint of another pytree is reported in one line and moved (whole) to
    `ckpt.unrestorable/2-*`; step 1 restores."""
    d = tmp_path / "ckpt"
    with CheckpointManager(d) as mgr:
        mgr.save(1, _state(1), {"i": 1}, {})
        mgr.save(2, _state(2, width=5), {"i": 2}, {})  # another shape: does not restore into width 4
    (state, data, meta), logs, steps = _restore(d)
    assert meta["step"] == 1 and data == {"i": 1} and steps == [1]
    jax.tree.map(np.testing.assert_array_equal, state, _state(1))
    assert len(logs) == 1 and "\n" not in logs[0] and "step 2 does not restore" in logs[0], logs
    aside = list((tmp_path / "ckpt.unrestorable").iterdir())
    assert len(aside) == 1 and aside[0].name.startswith("2-") and str(aside[0]) in logs[0]
    assert _data_files(aside[0]) and not (d / "2").exists()  # moved with its data, not copied or emptied


def test_none_restores_is_a_clear_error(tmp_path):
    d = _three(tmp_path)
    for step in (1, 2, 3):
        for f in _data_files(d / str(step)):
            f.write_bytes(b"")
    with pytest.raises(CheckpointRestoreError, match="none of the 3 checkpoints .*kept, not deleted"):
        _restore(d)
    assert len(list((tmp_path / "ckpt.unrestorable").iterdir())) == 3
    assert _restore(d)[0] is None  # the next run starts from scratch


def test_other_model_is_refused_naming_both(tmp_path):
    d = _three(tmp_path, meta={"model": "bmshj2018-factorized", "lambdas": [0.1]})
    with pytest.raises(CheckpointMismatchError, match="'bmshj2018-factorized'.*'mbt2018'"):
        _restore(d, expect={"model": "mbt2018", "lambdas": [0.1]})
    with pytest.raises(CheckpointMismatchError, match=r"lambdas \[0.1\].*\[0.2\]"):
        _restore(d, expect={"model": "bmshj2018-factorized", "lambdas": [0.2]})
    assert not (tmp_path / "ckpt.unrestorable").exists()  # nothing moved: it is not damaged
