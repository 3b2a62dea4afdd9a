"""Multi-host for real: `python -m experiments.launch local --processes 4 --devices-per-process 2` (four
processes, JAX's own `jax.distributed` engine, gloo collectives on CPU) on a folder of 256 distinct images.

- the four processes read disjoint images, and together exactly the images of every global batch (observed
  with a Python audit hook on `open` inside each process: no hook in the library);
- SIGTERM to every process after a checkpoint: all of them stop at one agreed step with one checkpoint and
  exit 143; rerunning the same command resumes and ends with parameters and metrics identical to an
  uninterrupted 4-process run;
- with the workdir on a GCS server (the `gcs` parameter, once the storage branch's fixture is there), the
  same, plus the server stopped for 10 s mid-run: the run survives, or stops with a restorable checkpoint.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import grain
import numpy as np
import pytest

ROOT = Path(__file__).parents[2]
CACHE = os.path.join(tempfile.gettempdir(), "jlic-test-jax-cache")
PROCESSES, DEVICES, BATCH, STEPS, IMAGES = 4, 2, 8, 24, 256
FLAGS = ["--config.model=bmshj2018-factorized", "--config.model_kwargs.N=8", "--config.model_kwargs.M=8",
         "--config.crop=16", f"--config.batch_size={BATCH}", "--config.lambdas=(0.001,0.1)",
         "--config.sweep_mode=vmap", f"--config.num_steps={STEPS}", "--config.log_every=4",
         "--config.checkpoint_every=8", "--config.keep_checkpoints=4", "--config.eval.enabled=False",
         "--config.tensorboard=False", "--config.progress_bar=False", f"--config.jax_cache_dir={CACHE}",
         "--config.data.num_threads=1"]

# Loaded by every process (PYTHONPATH): logs each image a data-loader call opens (`read_image*` on the
# stack; the folder listing's validation opens are not loads) with the process id, one line per open.
AUDIT = textwrap.dedent("""
    import os, sys
    _log = os.environ.get("JLIC_TEST_OPEN_LOG")
    _root = os.environ.get("JLIC_TEST_IMAGES")
    def _hook(event, args):
        if event != "open" or not _log or not isinstance(args[0], str) or not args[0].startswith(_root):
            return
        f = sys._getframe(1)
        while f is not None and not f.f_code.co_name.startswith("read_image"):
            f = f.f_back
        if f is not None:
            pid = [a for a in sys.argv if a.startswith("--config.process_id=")]
            with open(_log + "." + (pid[0].split("=")[1] if pid else "x"), "a") as out:
                out.write(os.path.basename(args[0]) + "\\n")
    sys.addaudithook(_hook)
""")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """256 distinct small PNGs, 000.png ... 255.png (the folder source's order is the file order)."""
    from PIL import Image

    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for i in range(IMAGES):
        Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(root / f"{i:03d}.png")
    return root


@pytest.fixture(params=["local", "gcs"])
def workdir_root(request, tmp_path):
    """Where the runs' workdirs go: a local folder, or a bucket on a real GCS server (the storage branch's
    `bucket` / `gcs_server` fixtures of tests/conftest.py)."""
    if request.param == "local":
        return str(tmp_path), None
    try:
        bucket = request.getfixturevalue("bucket")
        server = request.getfixturevalue("gcs_server")
    except pytest.FixtureLookupError:
        pytest.skip("needs the GCS server fixtures (`bucket`, `gcs_server`) of the storage branch in "
                    "tests/conftest.py")
    return f"gs://{bucket}/runs", server


def _launch(workdir, images, logs, *, wait=True):
    hook = logs / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(AUDIT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(hook)]),
           "JLIC_TEST_OPEN_LOG": str(logs / Path(workdir).name), "JLIC_TEST_IMAGES": str(images)}
    cmd = [sys.executable, "-m", "experiments.launch", "local", "--processes", str(PROCESSES),
           "--devices-per-process", str(DEVICES), "--workdir", workdir, "--", *FLAGS,
           f"--config.data.train=folder:{images}"]
    if not wait:  # its output to a file: an unread pipe would fill up and block the launcher
        err = open(logs / f"{Path(workdir).name}.stderr", "w+")  # noqa: SIM115 - closed by _finish
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err, text=True)
        proc.err_file = err
        return proc
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    (logs / f"{Path(workdir).name}.run.stderr").write_text(out.stderr)
    return out


def _why(err):
    """The lines of a failed launch that say why (errors first, then the tail)."""
    lines = err.splitlines()
    said = [x for x in lines if any(w in x for w in ("rror", "Fatal", "Check failed", "stopped", "exited"))]
    return "\n".join(said[:20] + ["..."] + lines[-15:])


def _finish(launcher, timeout):
    """Wait for a launcher started with wait=False; its stderr."""
    launcher.wait(timeout=timeout)
    with launcher.err_file as f:
        f.seek(0)
        return f.read()


def _path(p):
    from etils import epath

    return epath.Path(p)


def _params(workdir):
    out = {}
    for lam in ("0.001", "0.1"):
        with (_path(workdir) / f"lambda_{lam}" / "params.npz").open("rb") as f:
            z = np.load(f)
            out[lam] = {k: z[k] for k in z.files}
    return out


def _rows(workdir):
    text = (_path(workdir) / "metrics.jsonl").read_text()
    return [r for r in map(json.loads, text.splitlines()) if r.get("tag") == "train"]


def _committed(workdir, step):
    d = _path(workdir) / "checkpoints" / "vmap" / str(step)
    return d.exists() and (d / "commit_success.txt").exists()


def _children(pid):
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _opened(logs, name):
    return {p: [int(x[:3]) for x in (logs / f"{name}.{p}").read_text().split()] for p in range(PROCESSES)}


def _check_reads(opened):
    """Each process read only its rows of every global batch; together they read every global batch."""
    order = grain.MapDataset.range(IMAGES).shuffle(seed=0).repeat(None)  # the config's seed 0
    per = BATCH // PROCESSES
    for p, got in opened.items():
        mine = [order[k * BATCH + p * per + t] for k in range(STEPS) for t in range(per)]
        ahead = [order[k * BATCH + p * per + t] for k in range(STEPS, STEPS + 4) for t in range(per)]
        assert set(mine) <= set(got), f"process {p} did not read all of its rows"
        assert set(got) <= set(mine) | set(ahead), f"process {p} read images of other processes' rows"
        assert len(got) == len(set(got))  # 256 images > 28 batches of 8: no image comes twice
    first = [set(g[: STEPS * per]) for g in opened.values()]
    assert sum(len(s) for s in first) == len(set().union(*first)) == STEPS * BATCH  # disjoint, and all
    assert set().union(*first) == {order[i] for i in range(STEPS * BATCH)}


@pytest.mark.slow
def test_four_processes_read_their_rows_and_resume_after_sigterm(workdir_root, images, tmp_path):
    root, server = workdir_root
    logs = tmp_path / "logs"
    logs.mkdir()
    t0 = time.time()
    full = _launch(f"{root}/full", images, logs)
    assert full.returncode == 0, _why(full.stderr)
    t_full = time.time() - t0
    _check_reads(_opened(logs, "full"))

    t0 = time.time()
    launcher = _launch(f"{root}/stopped", images, logs, wait=False)
    while not _committed(f"{root}/stopped", 8):  # the first checkpoint
        assert launcher.poll() is None, _why(_finish(launcher, 10))
        assert time.time() - t0 < 900
        time.sleep(0.2)
    procs = _children(launcher.pid)
    assert len(procs) == PROCESSES
    for pid in procs:  # what a preempted TPU VM gets: SIGTERM on every host
        os.kill(pid, signal.SIGTERM)
    err = _finish(launcher, 600)
    assert launcher.returncode == 143, _why(err)
    stops = [line for line in err.splitlines() if "stopped by SIGTERM at step" in line]
    assert stops, _why(err)
    step = int(stops[0].split("at step ")[1].split()[0])
    assert 8 <= step < STEPS
    saved = sorted(int(p.name) for p in (_path(f"{root}/stopped") / "checkpoints" / "vmap").iterdir()
                   if p.name.isdigit())
    assert saved[-1] == step and saved[0] == 8, saved  # one consistent checkpoint at the agreed step
    data = _path(f"{root}/stopped") / "checkpoints" / "vmap" / str(step) / "data"
    assert sorted(p.name for p in data.iterdir() if p.name.startswith("process_")) == [
        f"process_{i}-of-{PROCESSES}.json" for i in range(PROCESSES)]  # every host's stream position
    assert not (_path(f"{root}/stopped") / "lambda_0.1").exists()

    again = _launch(f"{root}/stopped", images, logs)
    assert again.returncode == 0, _why(again.stderr)
    t_stopped = time.time() - t0
    a, b = _params(f"{root}/full"), _params(f"{root}/stopped")
    for lam in a:
        assert set(a[lam]) == set(b[lam])
        for k in a[lam]:
            np.testing.assert_array_equal(b[lam][k], a[lam][k])
    assert _rows(f"{root}/stopped") == _rows(f"{root}/full")
    print(json.dumps({"workdir": "gcs" if server else "local", "full_s": round(t_full), "stopped_and_resumed_s":
                      round(t_stopped), "agreed_step": step}))


@pytest.mark.slow
def test_storage_outage_mid_run_survives_or_stops_restorable(workdir_root, images, tmp_path):
    root, server = workdir_root
    if server is None:
        pytest.skip("a storage outage needs the GCS server")
    logs = tmp_path / "logs"
    logs.mkdir()
    full = _launch(f"{root}/full", images, logs)
    assert full.returncode == 0, _why(full.stderr)
    t0 = time.time()
    launcher = _launch(f"{root}/outage", images, logs, wait=False)
    while not _committed(f"{root}/outage", 8):
        assert launcher.poll() is None, _why(_finish(launcher, 10))
        assert time.time() - t0 < 900
        time.sleep(0.2)
    server.stop()
    time.sleep(10)
    server.start()
    err = _finish(launcher, 900)
    if launcher.returncode != 0:  # it stopped: the rerun must resume from a checkpoint that restores
        again = _launch(f"{root}/outage", images, logs)
        assert again.returncode == 0, _why(again.stderr)
    a, b = _params(f"{root}/full"), _params(f"{root}/outage")
    for lam in a:
        for k in a[lam]:
            np.testing.assert_array_equal(b[lam][k], a[lam][k])
    print(json.dumps({"outage_run_exit": launcher.returncode, "last_line": err.strip().splitlines()[-1:]}))


def test_all_finite_is_one_program_that_sees_nan_and_inf():
    """The checkpoint guard of the loop (one jitted program, also on several processes)."""
    import jax.numpy as jnp

    from jlic.train import loop

    tree = {f"w{i}": jnp.ones((2, i + 1), jnp.float32) for i in range(20)} | {"step": jnp.arange(3)}
    assert loop._all_finite(tree)
    assert not loop._all_finite(tree | {"w3": tree["w3"].at[1, 2].set(jnp.nan)})
    assert not loop._all_finite(tree | {"w19": tree["w19"].at[0, 0].set(-jnp.inf)})
