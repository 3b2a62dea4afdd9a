"""One run per workdir: a second run (a real `experiments.sweep` process) is refused naming the holder;
a holder killed with SIGKILL leaves no stuck lock."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from jlic.train.logging import read_jsonl
from jlic.train.workdir import WorkdirLock, WorkdirLockedError, read_holder

ROOT = Path(__file__).parents[2]
CACHE = os.path.join(tempfile.gettempdir(), "jlic-test-jax-cache")
TINY = ["--config.model=bmshj2018-factorized", "--config.model_kwargs.N=8", "--config.model_kwargs.M=8",
        "--config.crop=16", "--config.batch_size=2", "--config.data.embedded_max_side=48",
        "--config.tensorboard=False", "--config.progress_bar=False", "--config.eval.enabled=False",
        "--config.lambdas=(0.001,0.1)"]
HOLD = ("import sys, time; from jlic.train.workdir import WorkdirLock; "
        "lock = WorkdirLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(120)")


def _env():
    return {**os.environ, "JAX_COMPILATION_CACHE_DIR": CACHE, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}


def _holder(workdir):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(workdir)], cwd=ROOT, env=_env(),
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_run_is_refused_and_a_killed_holder_does_not_block(tmp_path):
    holder = _holder(tmp_path)
    try:
        rec = read_holder(tmp_path)
        assert rec["pid"] == holder.pid
        with pytest.raises(WorkdirLockedError, match=f"pid {holder.pid} on host"):  # another process, same host
            WorkdirLock(tmp_path).acquire()
        sweep = subprocess.run([sys.executable, "-m", "experiments.sweep", f"--workdir={tmp_path}", *TINY],
                               cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
        assert sweep.returncode == 2
        err = sweep.stderr.strip().splitlines()
        assert len(err) == 1 and f"in use by another run: pid {holder.pid}" in err[0], sweep.stderr
        assert not (tmp_path / "config.json").exists()  # it wrote nothing
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    # the dead holder's record is still there, but its flock died with it
    assert read_holder(tmp_path)["pid"] == holder.pid
    with WorkdirLock(tmp_path) as lock:
        note = lock.stale_note()
        assert note and f"pid {holder.pid}" in note and "no longer running" in note
        assert read_holder(tmp_path)["pid"] == os.getpid()
    assert read_holder(tmp_path) is None  # a clean release leaves no record
    with WorkdirLock(tmp_path) as lock:
        assert lock.stale_note() is None


@pytest.mark.slow
def test_two_real_sweeps_on_one_workdir(tmp_path):
    """The issue's case: a second copy started a few seconds after the first is refused; the first one
    finishes with one metrics row per (model, step)."""
    args = ["--config.num_steps=40", "--config.log_every=4", "--config.checkpoint_every=8"]
    cmd = [sys.executable, "-m", "experiments.sweep", f"--workdir={tmp_path}", *TINY, *args]
    first = subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
    try:
        deadline = time.time() + 300
        while read_holder(tmp_path) is None and time.time() < deadline:
            time.sleep(0.05)
        second = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
        _, first_err = first.communicate(timeout=600)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, first_err[-2000:]
    assert second.returncode == 2 and f"pid {first.pid}" in second.stderr
    rows = [(r["model"], r["step"]) for r in read_jsonl(tmp_path / "metrics.jsonl") if r["tag"] == "train"]
    assert len(rows) == len(set(rows)) == 2 * 40 // 4
    assert json.loads((tmp_path / "lambda_0.1" / "model.json").read_text())["step"] == 40
