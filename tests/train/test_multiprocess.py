"""The multi-host code path (`--config.distributed=True`, `jax.distributed.initialize`) for real: two
processes on this machine (gloo collectives on CPU) train the same sweep as one process with two devices."""

import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).parents[2]
CACHE = os.path.join(tempfile.gettempdir(), "jlic-test-jax-cache")
ARGS = ["--config.model_kwargs.N=8", "--config.model_kwargs.M=8", "--config.crop=64", "--config.batch_size=2",
        "--config.lambdas=(0.001,0.05)", "--config.num_steps=6", "--config.log_every=2",
        "--config.checkpoint_every=3", "--config.data.embedded_max_side=96", "--config.eval.enabled=False",
        "--config.progress_bar=False", "--config.tensorboard=False", "--config.mesh_shape=(2,1)"]


def _losses(workdir: Path) -> dict:
    recs = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    return {(r["model"], r["step"]): (r["loss"], r["bpp"]) for r in recs}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_match_one_process_with_two_devices(tmp_path):
    base = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu", "JAX_COMPILATION_CACHE_DIR": CACHE}
    cmd = [sys.executable, "-m", "experiments.sweep", *ARGS]
    one = subprocess.run([*cmd, f"--workdir={tmp_path / 'one'}"], cwd=ROOT, capture_output=True, text=True,
                         env={**base, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}, timeout=900)
    assert one.returncode == 0, one.stderr[-3000:]

    port = _free_port()
    procs = [subprocess.Popen([*cmd, f"--workdir={tmp_path / 'two'}", "--config.distributed=True",
                               f"--config.coordinator_address=localhost:{port}", "--config.num_processes=2",
                               f"--config.process_id={i}"], cwd=ROOT, env=base, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=900) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]

    a, b = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert set(a) == set(b) and len(a) == 8  # 2 λ x steps 2, 3, 4, 6 (logs and checkpoints), by process 0
    for key in a:
        np.testing.assert_allclose(b[key], a[key], rtol=1e-4)
    for lam in ("0.001", "0.05"):  # exported by process 0 from the parameters gathered from both
        pa = np.load(tmp_path / "one" / f"lambda_{lam}" / "params.npz")
        pb = np.load(tmp_path / "two" / f"lambda_{lam}" / "params.npz")
        assert set(pa.files) == set(pb.files)
        for k in pa.files:
            np.testing.assert_allclose(pb[k], pa[k], rtol=1e-4, atol=1e-6)
