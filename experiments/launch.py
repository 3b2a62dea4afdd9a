"""One launch command for multi-process sweeps: N processes on this machine, or every worker of a Cloud TPU
VM slice. The processes run `python -m experiments.sweep` unchanged: JAX's own multi-host engine
(`jax.distributed.initialize`, `--config.distributed=True`) joins them; this shell only starts, watches and
restarts them.

    python -m experiments.launch local --processes 4 --devices-per-process 2 --workdir runs/mp -- \\
        --config.num_steps=100 --config.batch_size=8
    python -m experiments.launch tpu --name jlic-v5e --zone us-west4-a --accelerator-type v5litepod-16 \\
        --workdir gs://BUCKET/runs/hyper [--project P] [--spot] [--delete] [--dry-run] -- \\
        --config experiments/configs/bmshj2018_hyperprior.py --config.batch_size=64

`local`: N processes with D virtual CPU devices each (`XLA_FLAGS=--xla_force_host_platform_device_count=D`)
and a coordinator on 127.0.0.1; the same code path as a pod (each process reads its rows of every batch,
process 0 writes the shared files, all processes join one checkpoint on SIGTERM). SIGTERM/SIGINT to the
launcher go to every process; one process failing stops the others and the launcher exits with its code
after one line saying which.

`tpu`: creates the slice (`gcloud compute tpus tpu-vm create`, or reuses it if it exists), copies this
checkout (`git archive HEAD`) to every worker and installs it with `jax[tpu]` at the local jax version, runs
the sweep on all workers at once (`gcloud compute tpus tpu-vm ssh --worker=all`, where
`jax.distributed.initialize()` finds the other hosts itself), and when the run stops because the slice was
preempted (state no longer READY) recreates it and runs the same command again, which resumes from the last
checkpoint in the workdir. `--delete` deletes the slice at the end; `--dry-run` prints the gcloud commands.
Facts (software versions, hosts per slice) from the Cloud TPU docs: v5e slices (`v5litepod-N`) have N chips,
one host up to 8 chips, else 4 chips per host (v5litepod-16: 4 hosts); v4/v5p-N have N TensorCores, 2 per
chip, 4 chips per host (v4-32: 4 hosts); v2/v3-N have 8 cores per host.
"""

from __future__ import annotations

import argparse
import collections
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ["-m", "experiments.sweep"]
GRACE_S = 60.0  # after one process failed: how long the others get to stop before SIGKILL


# ----------------------------------------------------------------------------------------------- local

def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for the coordinator)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def local_commands(processes: int, workdir: str, sweep_args: list[str], port: int) -> list[list[str]]:
    """The sweep command of each local process (the user's flags, then the multi-process ones)."""
    return [[sys.executable, *SWEEP, f"--workdir={workdir}", *sweep_args, "--config.distributed=True",
             f"--config.coordinator_address=127.0.0.1:{port}", f"--config.num_processes={processes}",
             f"--config.process_id={i}"] for i in range(processes)]


def local_env(devices_per_process: int, base: dict[str, str]) -> dict[str, str]:
    """`base` with D virtual CPU devices per process (any earlier device-count flag replaced)."""
    flags = [f for f in base.get("XLA_FLAGS", "").split() if "xla_force_host_platform_device_count" not in f]
    flags.append(f"--xla_force_host_platform_device_count={devices_per_process}")
    path = os.pathsep.join(p for p in (str(ROOT), base.get("PYTHONPATH", "")) if p)
    return {**base, "XLA_FLAGS": " ".join(flags), "JAX_PLATFORMS": "cpu", "PYTHONPATH": path}


class _Tail:
    """The last lines a process wrote to a pipe (drained by a thread so the process never blocks)."""

    def __init__(self, stream: Any, echo: bool):
        self.lines: collections.deque[str] = collections.deque(maxlen=40)
        self._thread = threading.Thread(target=self._drain, args=(stream, echo), daemon=True)
        self._thread.start()

    def _drain(self, stream: Any, echo: bool) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))
            if echo:
                sys.stderr.write(line)
                sys.stderr.flush()

    def last(self) -> str:
        self._thread.join(timeout=2)
        useful = [x for x in self.lines if x.strip()]
        return useful[-1].strip() if useful else "(no output)"


def run_local(processes: int, devices_per_process: int, workdir: str, sweep_args: list[str],
              port: int | None = None) -> int:
    """Start the processes, forward SIGTERM/SIGINT to all of them, wait; returns the exit code."""
    cmds = local_commands(processes, workdir, sweep_args, port or free_port())
    env = local_env(devices_per_process, dict(os.environ))
    procs, tails = [], []
    for i, cmd in enumerate(cmds):
        p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=None if i == 0 else subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
        procs.append(p)
        tails.append(_Tail(p.stderr, echo=i == 0))

    forwarded: list[int] = []

    def forward(signum: int, frame: Any) -> None:
        forwarded.append(signum)
        for p in procs:
            if p.poll() is None:
                p.send_signal(signum)

    old = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        failed: tuple[int, int] | None = None
        deadline = None
        while any(p.poll() is None for p in procs):
            for i, p in enumerate(procs):
                code = p.poll()
                if code not in (None, 0) and failed is None:
                    failed, deadline = (i, code), time.monotonic() + GRACE_S
                    for q in procs:  # the others cannot go on without it: let them stop (and checkpoint)
                        if q.poll() is None:
                            q.send_signal(signal.SIGTERM)
            if deadline is not None and time.monotonic() > deadline:
                for q in procs:
                    if q.poll() is None:
                        q.kill()
            time.sleep(0.1)
        codes = [p.wait() for p in procs]
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    if failed is None:
        bad = [(i, c) for i, c in enumerate(codes) if c != 0]
        failed = bad[0] if bad else None
    if failed is None:
        return 0
    i, code = failed
    code = 128 - code if code < 0 else code  # killed by a signal: as a shell reports it
    if forwarded or all(c == codes[0] for c in codes):
        if i != 0:  # process 0's stderr was shown already
            print(tails[i].last(), file=sys.stderr)
        return code
    print(f"error: process {i} of {processes} exited with {code} ({tails[i].last()}); stopped the other "
          f"processes (exit codes {codes})", file=sys.stderr)
    return code


# ------------------------------------------------------------------------------------------------- tpu

@dataclass(frozen=True)
class Slice:
    """A Cloud TPU VM slice: its name, zone, project and accelerator type."""

    name: str
    zone: str
    accelerator_type: str
    project: str | None = None
    version: str | None = None
    spot: bool = False

    @property
    def hosts(self) -> int:
        return hosts(self.accelerator_type)

    @property
    def software(self) -> str:
        return self.version or software_version(self.accelerator_type)

    def where(self) -> list[str]:
        return [f"--zone={self.zone}", *([f"--project={self.project}"] if self.project else [])]


def _generation_and_size(accelerator_type: str) -> tuple[str, int]:
    gen, _, size = accelerator_type.rpartition("-")
    if not gen or not size.isdigit():
        raise ValueError(f"accelerator type {accelerator_type!r} is not of the form v5litepod-16, v4-32, ...")
    return gen, int(size)


def hosts(accelerator_type: str) -> int:
    """Number of TPU VM hosts (workers) of a slice, from the Cloud TPU docs' slice tables."""
    gen, size = _generation_and_size(accelerator_type)
    if gen in ("v5litepod", "v5e", "v6e"):  # N chips; one host holds up to 8, multi-host slices 4 per host
        return 1 if size <= 8 else size // 4
    if gen in ("v4", "v5p"):  # N TensorCores, 2 per chip, 4 chips per host
        return max(1, size // 8)
    if gen in ("v2", "v3"):  # N cores, 8 per host
        return max(1, size // 8)
    raise ValueError(f"unknown TPU generation in {accelerator_type!r} (v2, v3, v4, v5p, v5litepod, v6e)")


def software_version(accelerator_type: str) -> str:
    """The TPU VM software version (`--version`) for a generation, as the Cloud TPU docs give them."""
    gen, _ = _generation_and_size(accelerator_type)
    return {"v5litepod": "v2-alpha-tpuv5-lite", "v5e": "v2-alpha-tpuv5-lite", "v5p": "v2-alpha-tpuv5",
            "v6e": "v2-alpha-tpuv6e"}.get(gen, "tpu-ubuntu2204-base")


def gcloud_tpu(verb: str, tpu: Slice, *extra: str) -> list[str]:
    return ["gcloud", "compute", "tpus", "tpu-vm", verb, tpu.name, *tpu.where(), *extra]


def describe_command(tpu: Slice) -> list[str]:
    return gcloud_tpu("describe", tpu, "--format=value(state)")


def create_command(tpu: Slice) -> list[str]:
    return gcloud_tpu("create", tpu, f"--accelerator-type={tpu.accelerator_type}", f"--version={tpu.software}",
                      *(["--spot"] if tpu.spot else []))


def delete_command(tpu: Slice) -> list[str]:
    return gcloud_tpu("delete", tpu, "--quiet")


def copy_command(tpu: Slice, archive: str) -> list[str]:
    return ["gcloud", "compute", "tpus", "tpu-vm", "scp", archive, f"{tpu.name}:jlic.tar.gz", "--worker=all",
            *tpu.where()]


def ssh_all(tpu: Slice, remote: str) -> list[str]:
    """One command on every worker of the slice at once."""
    return gcloud_tpu("ssh", tpu, "--worker=all", f"--command={remote}")


def install_script(jax_version: str) -> str:
    """What every worker runs once: unpack this checkout into ~/jlic, install it with jax[tpu]."""
    return (f"rm -rf ~/jlic && mkdir -p ~/jlic && tar -xzf ~/jlic.tar.gz -C ~/jlic && cd ~/jlic && "
            f"python3 -m pip install -q -U pip && "
            f"python3 -m pip install -q 'jax[tpu]=={jax_version}' -e '.[cloud]'")


def sweep_script(workdir: str, sweep_args: list[str]) -> str:
    """The sweep every worker runs (the same on all: jax.distributed finds the process ids on a TPU VM)."""
    cmd = ["python3", *SWEEP, f"--workdir={workdir}", "--config.distributed=True", *sweep_args]
    return f"cd ~/jlic && {shlex.join(cmd)}"


def local_jax_version() -> str:
    from importlib.metadata import version

    return version("jax")


def source_archive(path: str) -> list[str]:
    """`git archive` of this checkout's HEAD (committed files only) to `path`."""
    return ["git", "-C", str(ROOT), "archive", "--format=tar.gz", f"--output={path}", "HEAD"]


def plan(tpu: Slice, workdir: str, sweep_args: list[str], archive: str, jax_version: str, create: bool,
         delete: bool) -> list[list[str]]:
    """The commands of one launch, in order (what --dry-run prints)."""
    cmds = [create_command(tpu)] if create else []
    cmds += [source_archive(archive), copy_command(tpu, archive), ssh_all(tpu, install_script(jax_version)),
             ssh_all(tpu, sweep_script(workdir, sweep_args))]
    return cmds + ([delete_command(tpu)] if delete else [])


def _state(tpu: Slice) -> str | None:
    """The slice's state (READY, CREATING, PREEMPTED, ...), or None when it does not exist."""
    r = subprocess.run(describe_command(tpu), capture_output=True, text=True)
    return r.stdout.strip() or None if r.returncode == 0 else None


def _run(cmd: list[str]) -> int:
    print("+ " + shlex.join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd).returncode


def _settled_state(tpu: Slice, poll_s: float, wait_s: float) -> str | None:
    """The state after a stop: READY only if it stays READY for `wait_s` (a preemption takes a moment)."""
    end = time.monotonic() + wait_s
    while True:
        state = _state(tpu)
        if state != "READY" or time.monotonic() > end:
            return state
        time.sleep(poll_s)


def run_tpu(tpu: Slice, workdir: str, sweep_args: list[str], *, delete: bool, dry_run: bool,
            max_restarts: int = 20, poll_s: float = 30.0) -> int:
    """Create or reuse the slice, install, run on all workers, recreate and rerun after preemptions."""
    if not workdir.startswith("gs://"):
        print(f"warning: workdir {workdir} is not on GCS; every host must see the same directory and a "
              "TPU VM's disk is lost with it", file=sys.stderr)
    archive = os.path.join(tempfile.gettempdir(), f"jlic-{tpu.name}.tar.gz")
    if dry_run:
        print(f"# {tpu.accelerator_type}: {tpu.hosts} workers (hosts), TPU software {tpu.software}; "
              "every worker runs the same sweep command")
        for cmd in plan(tpu, workdir, sweep_args, archive, local_jax_version(), True, delete):
            print(shlex.join(cmd))
        return 0
    code, restarts = 1, 0
    try:
        while True:
            state = _state(tpu)
            if state not in (None, "READY", "CREATING"):  # PREEMPTED, TERMINATED, ...: spot VMs do not restart
                if _run(delete_command(tpu)) != 0:
                    return 1
                state = None
            steps = plan(tpu, workdir, sweep_args, archive, local_jax_version(), state is None, False)
            for cmd in steps[:-1]:
                if _run(cmd) != 0:
                    print(f"error: {shlex.join(cmd[:5])} failed; nothing was trained", file=sys.stderr)
                    return 1
            code = _run(steps[-1])
            if code == 0:
                return 0
            state = _settled_state(tpu, poll_s, 3 * poll_s)
            if state == "READY" and code not in (143, 255):  # the slice is fine: the sweep itself failed
                print(f"error: the sweep failed on the slice (exit {code}); the slice is READY, not restarted",
                      file=sys.stderr)
                return code
            restarts += 1
            if restarts > max_restarts:
                print(f"error: stopped after {max_restarts} restarts (last exit {code}, state {state})",
                      file=sys.stderr)
                return code
            print(f"note: the run stopped (exit {code}, slice {state or 'gone'}); restart {restarts}: it "
                  f"resumes from the last checkpoint in {workdir}", file=sys.stderr)
    finally:
        if delete:
            _run(delete_command(tpu))


# ------------------------------------------------------------------------------------------------ main

def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """(launcher options, sweep flags after `--`)."""
    if "--" in argv:
        k = argv.index("--")
        argv, sweep_args = argv[:k], argv[k + 1:]
    else:
        sweep_args = []
    parser = argparse.ArgumentParser(prog="python -m experiments.launch", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="where", required=True)
    loc = sub.add_parser("local", help="N processes on this machine (virtual CPU devices)")
    loc.add_argument("--processes", type=int, required=True)
    loc.add_argument("--devices-per-process", type=int, default=1)
    loc.add_argument("--workdir", required=True)
    loc.add_argument("--port", type=int, default=None, help="coordinator port on 127.0.0.1 (default: free)")
    tpu = sub.add_parser("tpu", help="every worker of a Cloud TPU VM slice")
    tpu.add_argument("--name", required=True)
    tpu.add_argument("--zone", required=True)
    tpu.add_argument("--accelerator-type", required=True, help="e.g. v5litepod-16, v4-32")
    tpu.add_argument("--workdir", required=True, help="gs://BUCKET/path (all hosts write to it)")
    tpu.add_argument("--project", default=None)
    tpu.add_argument("--version", default=None, help="TPU software version (default: by generation)")
    tpu.add_argument("--spot", action="store_true", help="a Spot slice (cheaper, preemptible)")
    tpu.add_argument("--delete", action="store_true", help="delete the slice when the launch ends")
    tpu.add_argument("--dry-run", action="store_true", help="print the gcloud commands, run nothing")
    tpu.add_argument("--max-restarts", type=int, default=20)
    return parser.parse_args(argv), sweep_args


def main(argv: list[str] | None = None) -> int:
    args, sweep_args = parse(sys.argv[1:] if argv is None else argv)
    if args.where == "local":
        if args.processes < 1 or args.devices_per_process < 1:
            print("error: --processes and --devices-per-process must be >= 1", file=sys.stderr)
            return 2
        return run_local(args.processes, args.devices_per_process, args.workdir, sweep_args, args.port)
    try:
        tpu = Slice(args.name, args.zone, args.accelerator_type, args.project, args.version, args.spot)
        tpu.hosts  # noqa: B018 - validates the accelerator type before anything runs
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return run_tpu(tpu, args.workdir, sweep_args, delete=args.delete, dry_run=args.dry_run,
                   max_restarts=args.max_restarts)


if __name__ == "__main__":
    sys.exit(main())
