"""The training loop: vmapped λ sweep == sequential sweep, NaN stop, resume after a real SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from experiments.configs import default
from jlic.codec.export import load_model
from jlic.train import loop
from jlic.train.logging import read_jsonl

ROOT = Path(__file__).parents[2]
# Compiles dominate these tests on CPU; a persistent cache makes reruns and subprocesses fast.
CACHE = os.path.join(tempfile.gettempdir(), "jlic-test-jax-cache")
jax.config.update("jax_compilation_cache_dir", CACHE)

TINY = ["--config.model=bmshj2018-factorized", "--config.model_kwargs.N=8", "--config.model_kwargs.M=8",
        "--config.crop=16", "--config.batch_size=2", "--config.data.embedded_max_side=48",
        "--config.tensorboard=False", "--config.progress_bar=False", "--config.eval.enabled=False",
        "--config.async_checkpoints=True"]


def tiny_config(**overrides):
    c = default.get_config()
    c.model = "bmshj2018-factorized"
    c.model_kwargs = {"N": 8, "M": 8}
    c.crop, c.batch_size = 16, 2
    c.data.embedded_max_side = 48
    c.tensorboard = c.progress_bar = False
    c.eval.enabled = False
    c.lambdas = (0.001, 0.1)
    c.num_steps, c.log_every, c.checkpoint_every = 4, 2, 2
    for k, v in overrides.items():
        c[k] = v
    return c


def _params(workdir, lmbda):
    return load_model(Path(workdir) / loop.lambda_name(lmbda))[1]


def _train_losses(workdir):
    return {(r["model"], r["step"]): r["loss"] for r in read_jsonl(Path(workdir) / "metrics.jsonl")
            if r["tag"] == "train"}


@pytest.mark.slow
def test_vmap_sweep_matches_sequential(tmp_path):
    ex_v = loop.train(tiny_config(sweep_mode="vmap"), tmp_path / "v")
    ex_s = loop.train(tiny_config(sweep_mode="sequential"), tmp_path / "s")
    assert sorted(ex_v) == sorted(ex_s) == [0.001, 0.1]
    for lmbda in ex_v:
        pv, ps = _params(tmp_path / "v", lmbda), _params(tmp_path / "s", lmbda)
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5), pv, ps)
    lv, ls = _train_losses(tmp_path / "v"), _train_losses(tmp_path / "s")
    assert lv.keys() == ls.keys() and len(lv) == 4
    for k in lv:
        np.testing.assert_allclose(lv[k], ls[k], rtol=1e-4)
    # the λ models really differ, and training moved them away from the shared init
    p_lo, p_hi = _params(tmp_path / "v", 0.001), _params(tmp_path / "v", 0.1)
    assert any(not np.allclose(a, b) for a, b in zip(jax.tree.leaves(p_lo), jax.tree.leaves(p_hi), strict=True))
    # checkpoints: vmap keeps one stacked set, sequential one per λ
    assert (tmp_path / "v" / "checkpoints" / "vmap").is_dir()
    assert {p.name for p in (tmp_path / "s" / "checkpoints").iterdir()} == {"lambda_0.001", "lambda_0.1"}


def test_nan_stops_and_keeps_last_good_checkpoint(tmp_path):
    # An absurd learning rate: step 1 is computed from the (finite) initial params, then they explode.
    cfg = tiny_config(sweep_mode="vmap", lr=1e30, clip_norm=0.0, num_steps=6, log_every=1, checkpoint_every=1)
    match = r"non-finite loss .* step 2 .*last good checkpoint \(step 1\)"
    with pytest.raises(loop.NonFiniteLossError, match=match):
        loop.train(cfg, tmp_path)
    steps = sorted(int(p.name) for p in (tmp_path / "checkpoints" / "vmap").iterdir() if p.name.isdigit())
    assert steps == [1]
    assert not (tmp_path / loop.lambda_name(0.001)).exists()  # nothing exported
    assert [r["step"] for r in read_jsonl(tmp_path / "metrics.jsonl") if r["tag"] == "train"] == [1, 1]


@pytest.mark.slow
def test_resume_in_process_matches_uninterrupted(tmp_path):
    """Fast variant of the kill test: stop after 4 of 8 steps (the run ends there), then resume to 8."""
    loop.train(tiny_config(sweep_mode="vmap", num_steps=8), tmp_path / "full")
    loop.train(tiny_config(sweep_mode="vmap", num_steps=4), tmp_path / "resumed")
    # a record past the checkpoint, as a run killed between checkpoint and next log would leave
    with open(tmp_path / "resumed" / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"step": 5, "tag": "train", "model": "lambda_0.001", "loss": -1.0}) + "\n")
    loop.train(tiny_config(sweep_mode="vmap", num_steps=8), tmp_path / "resumed")
    for lmbda in (0.001, 0.1):
        jax.tree.map(np.testing.assert_array_equal, _params(tmp_path / "resumed", lmbda),
                     _params(tmp_path / "full", lmbda))
    full = read_jsonl(tmp_path / "full" / "metrics.jsonl")
    assert read_jsonl(tmp_path / "resumed" / "metrics.jsonl") == full and len(full) == 8


def _sweep_cmd(workdir, *extra):
    return [sys.executable, "-m", "experiments.sweep", f"--workdir={workdir}", *TINY, *extra]


def _env():
    return {**os.environ, "JAX_COMPILATION_CACHE_DIR": CACHE, "PYTHONPATH": str(ROOT)}


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["vmap", "sequential"])
def test_resume_after_sigkill_matches_uninterrupted(tmp_path, mode):
    args = [f"--config.sweep_mode={mode}", "--config.lambdas=(0.001,0.1)", "--config.num_steps=80",
            "--config.log_every=4", "--config.checkpoint_every=8", "--config.keep_checkpoints=2"]
    full = subprocess.run(_sweep_cmd(tmp_path / "full", *args), cwd=ROOT, env=_env(), capture_output=True,
                          text=True, timeout=600)
    assert full.returncode == 0, full.stderr[-3000:]

    killed = tmp_path / "killed"
    ckpt_dir = killed / "checkpoints" / ("vmap" if mode == "vmap" else loop.lambda_name(0.001))
    proc = subprocess.Popen(_sweep_cmd(killed, *args), cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 600
        while time.time() < deadline and proc.poll() is None:
            if ckpt_dir.is_dir() and any(p.name.isdigit() for p in ckpt_dir.iterdir()):
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    done_steps = sorted(int(p.name) for p in ckpt_dir.iterdir() if p.name.isdigit())
    assert 80 not in done_steps
    resumed = subprocess.run(_sweep_cmd(killed, *args), cwd=ROOT, env=_env(), capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    for lmbda in (0.001, 0.1):
        jax.tree.map(np.testing.assert_array_equal, _params(killed, lmbda), _params(tmp_path / "full", lmbda))
        meta = json.loads((killed / loop.lambda_name(lmbda) / "model.json").read_text())
        assert meta["lambda"] == lmbda and meta["step"] == 80
    rec_full = [r for r in read_jsonl(tmp_path / "full" / "metrics.jsonl") if r["tag"] == "train"]
    rec_killed = [r for r in read_jsonl(killed / "metrics.jsonl") if r["tag"] == "train"]
    assert rec_killed == rec_full and len(rec_full) == 2 * 80 // 4
