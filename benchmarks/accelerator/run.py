"""Every GPU figure jlic owes, in one device call: install the carried wheels, then five capped stages.

    python3 -m benchmarks.accelerator.run --out $OUT          # on the lent GPU machine (benchmarks/README.md)
    python -m benchmarks.accelerator.run --tiny --out /tmp/o  # CPU dry run: tiny sizes, the install not run

Stages, each a subprocess with its own time cap (a slow one is killed, recorded as 'timed out', and the
next one starts); the training stage gets whatever time is left:

0. install (here, not a subprocess stage): the wheels of `.whl/` into /tmp/site (the device README's
   command), checked against `benchmarks/accelerator/wheels.py`; with `--dry-install` (default with
   `--tiny`) only the check and the command;
1. env: machine, devices, package versions, every carried wheel imported and its needs checked;
2. tests: a pytest subset that matters on a GPU (models, coding, train step, CompressAI interop);
3. sync: every registered model encodes on the accelerator and decodes on the CPU and the reverse;
4. train_step: `benchmarks.train_step` jlic vs CompressAI on CUDA, batch 8/16, 256², fp32 and bf16, 4 λ vmap;
5. training: bmshj2018-hyperprior q3 at 256² for the time left, then a real-bytes RD point on Kodak.

Writes under `--out` (at most 8 files, all that comes back from the device): `log.txt` (every stage's
output), one JSON per stage (`env.json`, `tests.json`, `sync.json`, `train_step.json`, `training.json`,
each rewritten as results come, so a killed stage keeps what it had), and `accelerator-<date>.json`, all
of it in one record (copy it to `benchmarks/results/`). Prints a short table last.

Standard library only (the stages import jax, torch and jlic in their own processes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.accelerator import wheels

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("env", "tests", "sync", "train_step", "training")

GPU_TESTS = ["tests/models", "tests/latent_codecs", "tests/codec/test_codec.py", "tests/entropy/test_coder.py",
             "tests/entropy", "tests/train/test_step.py", "tests/interop/test_compressai.py"]

FULL: dict[str, Any] = {
    "budget_s": 520,  # the whole command; the run tool's limit is 600 s
    "caps": {"install": 60, "env": 45, "tests": 80, "sync": 120, "train_step": 150},
    "min_training_s": 60,
    "tests": {"paths": GPU_TESTS, "per_test_timeout_s": 60},
    # 3 crops of one shape: one compile per transform and side, so that all 8 models fit the cap
    "sync": {"models": None, "quality": 3, "kwargs": {}, "max_crops": 3},
    "train_step": {
        "models": ["bmshj2018-hyperprior", "mbt2018-mean", "mbt2018"],
        # in order of value: the first is the headline (and carries the 4-λ vmap figure)
        "configs": [{"batch": 8, "dtype": "fp32", "vmap": 4}, {"batch": 16, "dtype": "fp32", "vmap": 0},
                    {"batch": 16, "dtype": "bf16", "vmap": 0}, {"batch": 8, "dtype": "bf16", "vmap": 0}],
        "size": 256, "steps": 10, "quality": 3, "worker_timeout_s": 90},
    "training": {"model": "bmshj2018-hyperprior", "quality": 3, "model_kwargs": {}, "lmbda": 0.0067,
                 "batch": 16, "crop": 256, "lr": 1e-4, "calib_steps": 200, "log_every": 50,
                 "eval_reserve_s": 60, "num_threads": 8, "max_s": None, "tensorboard": True},
}

# The CPU dry run: every stage's code path on the smallest work; the caps only guard a loaded machine.
TINY: dict[str, Any] = {
    "budget_s": 900,
    "caps": {"install": 60, "env": 150, "tests": 150, "sync": 150, "train_step": 200},
    "min_training_s": 10,
    "tests": {"paths": ["tests/metrics/test_psnr.py"], "per_test_timeout_s": 60},
    # one model for sync and training, so the training stage's evaluation reuses sync's compiled programs
    "sync": {"models": ["bmshj2018-factorized"], "quality": 1, "kwargs": {"N": 16, "M": 24}, "max_crops": 2},
    "train_step": {"models": ["bmshj2018-factorized"], "configs": [{"batch": 1, "dtype": "fp32", "vmap": 0}],
                   "size": 64, "steps": 1, "quality": 1, "worker_timeout_s": 150},
    "training": {"model": "bmshj2018-factorized", "quality": 1, "model_kwargs": {"N": 16, "M": 24},
                 "lmbda": 0.0067, "batch": 2, "crop": 64, "lr": 1e-4, "calib_steps": 2, "fixed_more_steps": 0,
                 "log_every": 1, "eval_reserve_s": 0, "num_threads": 1, "max_s": None, "tensorboard": False},
}


TINY_XLA_FLAGS = "--xla_backend_optimization_level=0"


class Log:
    """`log.txt` under the out folder, and the short lines also on stdout."""

    def __init__(self, path: Path):
        self.path = path
        self.f = path.open("a", buffering=1)

    def say(self, msg: str) -> None:
        line = f"[accel {time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        self.f.write(line + "\n")


def _kill_group(proc: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(5)
            return
        except subprocess.TimeoutExpired:
            continue


def children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_capped(cmd: list[str], cap_s: float, log: Log, env: dict[str, str]) -> tuple[str, float, int | None]:
    """Run `cmd` (its output into the log) in its own process group; kill the group after `cap_s`.
    Returns (status 'ok' / 'failed' / 'timed out', seconds, return code)."""
    t0 = time.perf_counter()
    log.f.flush()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.f, stderr=subprocess.STDOUT, process_group=0)
    try:
        rc = proc.wait(timeout=max(1.0, cap_s))
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        return "timed out", time.perf_counter() - t0, None
    except BaseException:
        _kill_group(proc)
        raise
    return ("ok" if rc == 0 else "failed"), time.perf_counter() - t0, rc


def install(args: argparse.Namespace, log: Log, env: dict[str, str]) -> dict[str, Any]:
    """Check `.whl/` against the list and (unless dry) install it into the target; sets PYTHONPATH in `env`."""
    folder = Path(args.wheels)
    rec: dict[str, Any] = {"folder": str(folder), "target": args.site, "dry": args.dry_install,
                           "list": [f"{w.name}=={w.version}" for w in wheels.WHEELS]}
    rec["check"] = check = wheels.check_folder(folder) if folder.is_dir() else {
        "ok": False, "errors": [f"no wheel folder {folder}: run python -m benchmarks.accelerator.prepare"],
        "files": [], "bytes": 0}
    cmd = wheels.install_command(folder, args.site)
    rec["command"] = " ".join(cmd[2:])
    if args.dry_install:
        rec["status"] = "dry"
        log.say(f"install (dry): {len(wheels.WHEELS)} wheels listed; folder check "
                f"{'ok' if check['ok'] else 'failed: ' + '; '.join(check['errors'][:3])}")
        return rec
    if not check["files"]:
        rec["status"] = "failed"
        log.say("install: no wheels to install: " + "; ".join(check["errors"][:2]))
        return rec
    for e in check["errors"]:
        log.say(f"install: wheel folder: {e}")
    status, secs, rc = run_capped(cmd, args.caps["install"], log, env)
    rec.update(seconds=secs, rc=rc)
    if status != "ok":  # one bad wheel stops pip's whole install: retry one by one, keep what installs
        rec["one_by_one"] = {}
        for f in wheels.wheel_files(folder):
            one = [*cmd[: cmd.index("--target") + 2], str(f)]
            rec["one_by_one"][f.name] = run_capped(one, 30, log, env)[0]
    rec["status"] = status if status == "ok" else "partial"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (args.site, env.get("PYTHONPATH", "")) if p)
    log.say(f"install: {status} in {secs:.1f} s -> PYTHONPATH={env['PYTHONPATH']}")
    return rec


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _summary_lines(name: str, rec: Any) -> list[str]:
    if isinstance(rec, dict) and isinstance(rec.get("summary"), list):
        return [f"  {name}: {s}" for s in rec["summary"]]
    return []


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.accelerator.run",
                                description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, type=Path, help="output folder ($OUT on the device)")
    p.add_argument("--tiny", action="store_true", default=os.environ.get("JLIC_ACCEL_TINY") == "1",
                   help="CPU dry run: tiny models and steps, 2 crops, the install only checked (env "
                        "JLIC_ACCEL_TINY=1 too)")
    p.add_argument("--wheels", default=str(ROOT / ".whl"))
    p.add_argument("--data", default=str(ROOT / ".accel"),
                   help="folder written by benchmarks.accelerator.prepare")
    p.add_argument("--site", default=wheels.TARGET, help="where the wheels are installed")
    p.add_argument("--dry-install", action=argparse.BooleanOptionalAction, default=None,
                   help="check the wheel list and build the command, do not install (default: with --tiny)")
    p.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated subset of {STAGES}")
    p.add_argument("--budget", type=float, default=None,
                   help="seconds for the whole run (default 520; tiny 900)")
    p.add_argument("--cap", action="append", default=[], metavar="STAGE=SECONDS", help="override a stage's cap")
    args = p.parse_args(argv)
    plan = json.loads(json.dumps(TINY if args.tiny else FULL))
    args.dry_install = args.tiny if args.dry_install is None else args.dry_install
    budget = float(args.budget or plan["budget_s"])
    for c in args.cap:
        k, _, v = c.partition("=")
        plan["caps"][k] = float(v)
    args.caps = plan["caps"]
    stages = [s for s in args.stages.split(",") if s]
    unknown = set(stages) - set(STAGES)
    if unknown:
        p.error(f"unknown stages {sorted(unknown)}; choose from {STAGES}")

    t_start = time.monotonic()
    deadline = t_start + budget
    args.out.mkdir(parents=True, exist_ok=True)
    log = Log(args.out / "log.txt")
    date = dt.datetime.now(dt.UTC)
    record: dict[str, Any] = {
        "benchmark": "accelerator", "time": date.isoformat(timespec="seconds"),
        "command": "python -m benchmarks.accelerator.run "
                   + " ".join(argv if argv is not None else sys.argv[1:]),
        "mode": "tiny" if args.tiny else "full", "budget_s": budget, "host": platform.node(),
        "python": platform.python_version(), "stages": {},
    }
    final = args.out / f"accelerator-{date.date().isoformat()}.json"

    def save() -> None:
        record["total_s"] = time.monotonic() - t_start
        final.write_text(json.dumps(record, indent=1, default=str) + "\n")

    env = {**os.environ, "PYTHONUNBUFFERED": "1", "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    log.say(f"mode {record['mode']}, budget {budget:.0f} s, stages {','.join(stages)}, out {args.out}")
    record["install"] = install(args, log, env)
    save()
    accel_info: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="jlic-accel-") as tmp:
        # one persistent XLA cache for all stages (programs that recur across stages compile once); the dry
        # run caches every program, as the test suite's conftest does
        env.setdefault("JAX_COMPILATION_CACHE_DIR", str(Path(tmp) / "jax-cache"))
        if args.tiny:  # the dry run checks code paths, not speed: cheaper XLA:CPU compiles (measured: half)
            env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
            env["XLA_FLAGS"] = " ".join(x for x in (env.get("XLA_FLAGS", ""), TINY_XLA_FLAGS) if x)
        record["xla_flags"] = env.get("XLA_FLAGS", "")
        for name in stages:
            now = time.monotonic()
            if name == "training":
                cap = deadline - now - 10
                if plan["training"].get("max_s"):
                    cap = min(cap, plan["training"]["max_s"] + 30)
                if cap < plan["min_training_s"]:
                    record["stages"][name] = {"status": "skipped", "why": f"{cap:.0f} s left"}
                    log.say(f"{name}: skipped, {cap:.0f} s left")
                    continue
            else:
                reserve = plan["min_training_s"] if "training" in stages else 0
                cap = min(plan["caps"][name], deadline - now - reserve)
                if cap < 5:
                    record["stages"][name] = {"status": "skipped", "why": f"{cap:.0f} s left"}
                    log.say(f"{name}: skipped, {cap:.0f} s left")
                    continue
            cfg = {"stage": name, "out": str(args.out), "data": args.data, "tiny": args.tiny,
                   "deadline": time.monotonic() + cap - (20 if name == "training" else 3),
                   "params": plan.get(name, {}), "accel": accel_info, "tmp": tmp}
            cfg_path = Path(tmp) / f"{name}.json"
            cfg_path.write_text(json.dumps(cfg))
            log.say(f"{name}: start (cap {cap:.0f} s)")
            cpu0 = children_cpu_s()
            cmd = [sys.executable, "-m", "benchmarks.accelerator.stages", str(cfg_path)]
            status, secs, rc = run_capped(cmd, cap, log, env)
            rec = _read_json(args.out / f"{name}.json")
            record["stages"][name] = {"status": status, "seconds": round(secs, 1), "cap_s": round(cap, 1),
                                      "cpu_s": round(children_cpu_s() - cpu0, 1), "rc": rc, "record": rec}
            if name == "env" and isinstance(rec, dict):
                accel_info = rec.get("accelerator", {})
            log.say(f"{name}: {status} in {secs:.0f} s ({record['stages'][name]['cpu_s']:.0f} s CPU)")
            for line in _summary_lines(name, rec):
                log.say(line)
            save()
    save()
    log.say(f"done in {record['total_s']:.0f} s -> {final}")
    print("\nstage        status      seconds  cpu_s")
    for name, r in record["stages"].items():
        print(f"{name:12s} {r['status']:11s} {r.get('seconds', 0):7.0f} {r.get('cpu_s', 0):6.0f}")
    return 0 if all(r["status"] == "ok" for r in record["stages"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
