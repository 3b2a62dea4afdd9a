"""SIGTERM saves a checkpoint and stops cleanly (the resumed run equals an uninterrupted one); a full disk
(a real small tmpfs) stops the run with one clear error and leaves checkpoints, exports and metrics
loadable; a slow kill loop: 20+ SIGKILLs at random moments of one run."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from jlic.codec.export import load_model
from jlic.train import loop
from jlic.train.checkpoint import CheckpointManager
from jlic.train.logging import read_jsonl

sys.path.insert(0, str(Path(__file__).parent))
from test_loop import CACHE, ROOT, TINY, tiny_config  # noqa: E402

jax.config.update("jax_compilation_cache_dir", CACHE)


def _params(workdir, lmbda):
    return load_model(Path(workdir) / loop.lambda_name(lmbda))[1]


def _train_rows(workdir):
    return [r for r in read_jsonl(Path(workdir) / "metrics.jsonl") if r["tag"] == "train"]


def test_sigterm_saves_and_resume_matches_uninterrupted(tmp_path, monkeypatch):
    cfg = dict(sweep_mode="vmap", num_steps=6, log_every=2, checkpoint_every=4)
    loop.train_and_evaluate(tiny_config(**cfg), tmp_path / "full")

    real_iterator = loop.train_iterator

    def sigterm_at_third_batch(*a, **kw):  # a real SIGTERM to this process while step 3 reads its batch
        it = real_iterator(*a, **kw)
        calls = [0]

        class Wrapped:
            def __next__(self):
                calls[0] += 1
                if calls[0] == 3:
                    os.kill(os.getpid(), signal.SIGTERM)
                return next(it)

            def get_state(self):
                return it.get_state()
        return Wrapped()

    monkeypatch.setattr(loop, "train_iterator", sigterm_at_third_batch)
    with pytest.raises(loop.Interrupted, match="SIGTERM at step 3 .*rerun the same command"):
        loop.train_and_evaluate(tiny_config(**cfg), tmp_path / "stopped")
    monkeypatch.setattr(loop, "train_iterator", real_iterator)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is only installed during a run
    steps = sorted(int(p.name) for p in (tmp_path / "stopped" / "checkpoints" / "vmap").iterdir())
    assert steps == [3]  # step 3 is not a checkpoint step: saved because of the signal
    assert not (tmp_path / "stopped" / loop.lambda_name(0.1)).exists()

    loop.train_and_evaluate(tiny_config(**cfg), tmp_path / "stopped")
    for lmbda in (0.001, 0.1):
        jax.tree.map(np.testing.assert_array_equal, _params(tmp_path / "stopped", lmbda),
                     _params(tmp_path / "full", lmbda))
    # step 3 was inside the log window (2, 4]: the saved window makes the step-4 row identical
    assert _train_rows(tmp_path / "stopped") == _train_rows(tmp_path / "full")


@pytest.fixture
def small_tmpfs(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1600k", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {r.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.slow  # ~45 s of training on a 2-core machine; needs root for the tmpfs
def test_disk_full_stops_cleanly_and_keeps_what_was_written(small_tmpfs):
    workdir = small_tmpfs / "run"
    cfg = dict(sweep_mode="vmap", log_every=2, checkpoint_every=2, keep_checkpoints=2)
    # 1600 KiB: two checkpoints (~0.6 MiB each) and two exports fit, a third checkpoint does not
    loop.train_and_evaluate(tiny_config(num_steps=4, **cfg), workdir)
    exported = {lmbda: _params(workdir, lmbda) for lmbda in (0.001, 0.1)}
    with pytest.raises(loop.DiskFullError, match="no space left on the device .*Complete checkpoints: vmap "
                                                 "step [0-9]+.*rerun the same command") as info:
        loop.train_and_evaluate(tiny_config(num_steps=40, **cfg), workdir)
    assert "\n" not in str(info.value)
    for lmbda in (0.001, 0.1):  # the exports of the first run are intact
        jax.tree.map(np.testing.assert_array_equal, _params(workdir, lmbda), exported[lmbda])
    rows = _train_rows(workdir)
    assert rows and [r["step"] for r in rows[:4]] == [2, 2, 4, 4]
    logs = []
    with CheckpointManager(workdir / "checkpoints" / "vmap") as mgr:  # the newest complete one restores
        progs = loop.build_programs(tiny_config(**cfg), loop.build_model(tiny_config()), 2, True)
        out = mgr.restore_newest(progs.state_shape, log=logs.append)
    assert out is not None and out[2]["step"] >= 4 and logs == []


def _sweep(workdir, *extra):
    return [sys.executable, "-m", "experiments.sweep", f"--workdir={workdir}", *TINY, *extra]


def _env():
    return {**os.environ, "JAX_COMPILATION_CACHE_DIR": CACHE, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}


@pytest.mark.slow
def test_kill_loop(tmp_path):
    """≥ 20 SIGKILLs at random moments of one run (seeded); it ends with the params and metrics of an
    uninterrupted run and every checkpoint left behind restores."""
    args = ["--config.sweep_mode=vmap", "--config.lambdas=(0.001,0.1)", "--config.num_steps=120",
            "--config.log_every=4", "--config.checkpoint_every=4", "--config.keep_checkpoints=2"]
    full = subprocess.run(_sweep(tmp_path / "full", *args), cwd=ROOT, env=_env(), capture_output=True,
                          text=True, timeout=900)
    assert full.returncode == 0, full.stderr[-3000:]
    killed, rng, kills, moved, t0 = tmp_path / "killed", random.Random(20), 0, 0, time.time()
    while True:
        proc = subprocess.Popen(_sweep(killed, *args), cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        if kills < 20:
            # random moment: from start-up (import, lock, restore) to well into training
            time.sleep(rng.uniform(0.5, 12.0))
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                kills += 1
                continue
        _, err = proc.communicate(timeout=900)
        moved += err.count("does not restore")
        if proc.returncode == 0:
            break
        assert time.time() - t0 < 3000, err[-2000:]
    assert kills >= 20, f"the run finished after {kills} SIGKILLs, not the 20 this test is about"
    for lmbda in (0.001, 0.1):
        jax.tree.map(np.testing.assert_array_equal, _params(killed, lmbda), _params(tmp_path / "full", lmbda))
    assert _train_rows(killed) == _train_rows(tmp_path / "full")
    assert not (killed / "checkpoints" / "vmap.unrestorable").exists(), "a kill left an unloadable checkpoint"
    with CheckpointManager(killed / "checkpoints" / "vmap") as mgr:
        progs = loop.build_programs(tiny_config(**dict(sweep_mode="vmap")), loop.build_model(tiny_config()),
                                    2, True)
        for step in mgr.all_steps():
            mgr.restore(step, progs.state_shape)
    print(json.dumps({"kills": kills, "moved_aside": moved, "seconds": round(time.time() - t0)}))
