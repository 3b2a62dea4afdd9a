"""`python -m experiments.launch tpu --dry-run` prints the gcloud commands of a pod launch (cheap: nothing
runs), and the local launcher's process commands; the 4-process runs are in tests/train/test_multihost.py."""

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from experiments import launch

ROOT = Path(__file__).parents[2]
SWEEP_FLAGS = ["--config", "experiments/configs/bmshj2018_hyperprior.py", "--config.batch_size=64",
               "--config.data.train=folder:gs://jlic-data/images"]


def _dry_run(accelerator: str, *extra: str) -> list[str]:
    out = subprocess.run([sys.executable, "-m", "experiments.launch", "tpu", "--name", "jlic-test", "--zone",
                          "us-west4-a", "--accelerator-type", accelerator, "--workdir", "gs://jlic-runs/hyper",
                          *extra, "--dry-run", "--", *SWEEP_FLAGS], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


@pytest.mark.parametrize(("accelerator", "hosts", "software"), [("v5litepod-16", 4, "v2-alpha-tpuv5-lite"),
                                                                 ("v4-32", 4, "tpu-ubuntu2204-base")])
def test_tpu_dry_run_prints_the_pod_commands(accelerator, hosts, software):
    lines = _dry_run(accelerator, "--project", "my-proj", "--spot", "--delete")
    assert lines[0].startswith(f"# {accelerator}: {hosts} workers (hosts), TPU software {software}")
    cmds = [shlex.split(line) for line in lines[1:]]
    create, archive, copy, install, run, delete = cmds
    assert create[:6] == ["gcloud", "compute", "tpus", "tpu-vm", "create", "jlic-test"]
    for flag in ("--zone=us-west4-a", "--project=my-proj", f"--accelerator-type={accelerator}",
                 f"--version={software}", "--spot"):
        assert flag in create
    assert archive[:2] == ["git", "-C"] and "archive" in archive
    tarball = next(a for a in archive if a.startswith("--output=")).split("=", 1)[1]
    assert copy[4:6] == ["scp", tarball] and "--worker=all" in copy
    for cmd in (install, run):  # both on every worker of the slice
        assert cmd[:6] == ["gcloud", "compute", "tpus", "tpu-vm", "ssh", "jlic-test"]
        assert "--worker=all" in cmd and "--zone=us-west4-a" in cmd and "--project=my-proj" in cmd
    remote_install = install[-1].removeprefix("--command=")
    assert "tar -xzf ~/jlic.tar.gz" in remote_install and "'jax[tpu]==" in remote_install
    assert "pip install" in remote_install and "-e '.[cloud]'" in remote_install
    remote_run = shlex.split(run[-1].removeprefix("--command=").split("&&", 1)[1])
    assert remote_run[:3] == ["python3", "-m", "experiments.sweep"]
    assert "--workdir=gs://jlic-runs/hyper" in remote_run and "--config.distributed=True" in remote_run
    assert remote_run[-len(SWEEP_FLAGS):] == SWEEP_FLAGS  # the user's flags, unchanged, on every worker
    assert not any(a.startswith("--config.process_id") for a in remote_run)  # found by jax on a TPU VM
    assert delete[4:6] == ["delete", "jlic-test"] and "--quiet" in delete


def test_tpu_dry_run_without_delete_keeps_the_slice():
    cmds = [shlex.split(line) for line in _dry_run("v5litepod-16")[1:]]
    assert [c[4] for c in cmds if c[0] == "gcloud"] == ["create", "scp", "ssh", "ssh"]
    assert "--spot" not in cmds[0]


@pytest.mark.parametrize(("accelerator", "hosts"), [
    ("v5litepod-8", 1), ("v5litepod-16", 4), ("v5litepod-256", 64), ("v4-8", 1), ("v4-32", 4),
    ("v5p-128", 16), ("v3-32", 4)])
def test_hosts_per_slice(accelerator, hosts):
    assert launch.hosts(accelerator) == hosts


def test_bad_accelerator_type_is_one_line():
    out = subprocess.run([sys.executable, "-m", "experiments.launch", "tpu", "--name", "x", "--zone", "z",
                          "--accelerator-type", "tpu16", "--workdir", "gs://b/r", "--dry-run"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "v5litepod-16" in out.stderr


def test_local_commands_and_env():
    cmds = launch.local_commands(4, "runs/x", ["--config.num_steps=3"], 12345)
    assert len(cmds) == 4
    for i, cmd in enumerate(cmds):
        assert cmd[1:4] == ["-m", "experiments.sweep", "--workdir=runs/x"]
        assert cmd[4] == "--config.num_steps=3"
        assert cmd[-4:] == ["--config.distributed=True", "--config.coordinator_address=127.0.0.1:12345",
                            "--config.num_processes=4", f"--config.process_id={i}"]
    env = launch.local_env(2, {"XLA_FLAGS": "--xla_force_host_platform_device_count=8 --foo"})
    assert env["XLA_FLAGS"] == "--foo --xla_force_host_platform_device_count=2"
    assert env["JAX_PLATFORMS"] == "cpu"


FAKE_SWEEP = ["-c", "import sys, time\n"
              "i = [a for a in sys.argv if a.startswith('--config.process_id=')][0].split('=')[1]\n"
              "print('process', i, 'fails', file=sys.stderr) if i == '1' else None\n"
              "sys.exit(3) if i == '1' else time.sleep(120)"]


def test_local_one_failing_process_stops_the_others(monkeypatch, capsys):
    """Real processes (a stand-in for the sweep: process 1 exits with 3, the others would run 2 min): the
    launcher stops the others at once and exits with 3 after one line naming process 1."""
    monkeypatch.setattr(launch, "SWEEP", FAKE_SWEEP)
    t0 = __import__("time").monotonic()
    code = launch.run_local(3, 1, "unused", [])
    assert code == 3 and __import__("time").monotonic() - t0 < 30
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: process 1 of 3 exited with 3 (process 1 fails); stopped the other")
