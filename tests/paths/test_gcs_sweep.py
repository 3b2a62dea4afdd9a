"""A sweep whose workdir and training images are on GCS (a real fake-gcs-server), run as a user runs it:
`python -m experiments.sweep --workdir gs://BUCKET/run --config.data.train=folder:gs://BUCKET/images` from
an empty working directory, SIGKILLed after its first checkpoint and run again. Every artifact ends up in the
bucket, nothing on local disk; the rerun resumes; `python -m jlic compress/decompress` work on gs:// paths;
a second sweep on the live workdir is refused in one line.
"""

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.gcs_server import list_objects, read_object

ROOT = Path(__file__).parents[2]
STEPS, LOG, CKPT = 48, 4, 8
ARGS = ["--config.model=bmshj2018-factorized", "--config.model_kwargs.N=8", "--config.model_kwargs.M=8",
        "--config.crop=16", "--config.batch_size=2", "--config.lambdas=(0.01,)", "--config.progress_bar=False",
        f"--config.num_steps={STEPS}", f"--config.log_every={LOG}", f"--config.checkpoint_every={CKPT}",
        "--config.eval.data=embedded:astronaut", "--config.eval.max_side=48", "--config.eval.limit=1",
        "--config.eval.live_codecs=()", "--config.eval.anchors=None"]


def _png(seed: int, size: int = 40) -> bytes:
    buf = io.BytesIO()
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


def _sweep(bucket: str, cwd: Path) -> list[str]:
    return [sys.executable, "-m", "experiments.sweep", f"--workdir=gs://{bucket}/run",
            f"--config.data.train=folder:gs://{bucket}/images", *ARGS]


def _env() -> dict[str, str]:
    from tests.conftest import CACHE

    return {**os.environ, "PYTHONPATH": str(ROOT), "JAX_COMPILATION_CACHE_DIR": CACHE}


@pytest.fixture(scope="module")
def gcs_run(gcs_server, tmp_path_factory):
    """(bucket, cwd, killed-run facts, rerun process) of a sweep killed after its first checkpoint and rerun."""
    from google.cloud import storage

    bucket = f"jlic-sweep-{os.getpid()}"
    client = storage.Client()
    client.create_bucket(bucket)
    for i in range(3):
        client.bucket(bucket).blob(f"images/{i}.png").upload_from_string(_png(i))
    cwd = tmp_path_factory.mktemp("cwd")
    first_commit = f"run/checkpoints/vmap/{CKPT}/commit_success.txt"
    proc = subprocess.Popen(_sweep(bucket, cwd), cwd=cwd, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 600
        while time.time() < deadline and proc.poll() is None:
            try:
                if first_commit in list_objects(bucket, "run/checkpoints/", timeout=10):
                    break
            except Exception as e:  # noqa: BLE001 - a slow answer under load: ask again
                print(f"listing failed ({type(e).__name__}), polling on", file=sys.stderr)
            time.sleep(0.1)
        assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read()[-3000:]}"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    killed = {"objects": list_objects(bucket),
              "metrics": [json.loads(x) for x in read_object(bucket, "run/metrics.jsonl").splitlines()]}
    rerun = subprocess.run(_sweep(bucket, cwd), cwd=cwd, env=_env(), capture_output=True, text=True,
                           timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    return bucket, cwd, killed, rerun


def test_every_artifact_in_the_bucket_and_nothing_local(gcs_run):
    bucket, cwd, _, _ = gcs_run
    assert list(cwd.iterdir()) == []  # not even a folder named gs:
    names = list_objects(bucket, "run/")
    for name in ("config.json", "metrics.jsonl", "timing.jsonl", "rd.json", "rd.png", "report.md",
                 "lambda_0.01/model.json", "lambda_0.01/params.npz",
                 f"checkpoints/vmap/{STEPS}/commit_success.txt"):
        assert f"run/{name}" in names, name
    assert any(n.startswith("run/tensorboard/events.out.tfevents.") for n in names)
    assert "run/.lock" not in names  # released at the end
    rd = json.loads(read_object(bucket, "run/rd.json"))
    assert len(rd["results"]["bpp"]) == 1 and rd["results"]["bpp"][0] > 0
    assert read_object(bucket, "run/rd.png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| λ |" in read_object(bucket, "run/report.md").decode()


def test_killed_sweep_resumes_from_its_checkpoint(gcs_run):
    bucket, _, killed, rerun = gcs_run
    assert f"run/checkpoints/vmap/{STEPS}/commit_success.txt" not in killed["objects"]
    assert "run/.lock" in killed["objects"]  # SIGKILL: the lease stayed behind ...
    assert "taking over workdir" in rerun.stderr and "no longer running" in rerun.stderr  # ... and was taken
    before = [r["step"] for r in killed["metrics"] if r["tag"] == "train"]
    assert CKPT in before  # the log up to the checkpoint was uploaded with it
    steps = [r["step"] for r in json.loads("[" + ",".join(
        read_object(bucket, "run/metrics.jsonl").decode().splitlines()) + "]") if r["tag"] == "train"]
    # resumed, not restarted: every logged step once, in order (a restart would log steps 4 and 8 again)
    assert steps == list(range(LOG, STEPS + 1, LOG))
    meta = json.loads(read_object(bucket, "run/lambda_0.01/model.json"))
    assert meta["step"] == STEPS


def test_compress_decompress_on_gcs_bit_exact(gcs_run):
    from jlic import commands
    from jlic.codec.export import load_codec
    from jlic.data.image import read_image

    bucket = gcs_run[0]
    from google.cloud import storage

    storage.Client().bucket(bucket).blob("in/image.png").upload_from_string(_png(7, 48))
    ckpt = f"gs://{bucket}/run/lambda_0.01"
    assert commands.main(["compress", "--checkpoint", ckpt, f"gs://{bucket}/in/image.png",
                          f"gs://{bucket}/out/image.jlic"]) == 0
    assert commands.main(["decompress", "--checkpoint", ckpt, f"gs://{bucket}/out/image.jlic",
                          f"gs://{bucket}/out/image.png"]) == 0
    data = read_object(bucket, "out/image.jlic")
    codec = load_codec(ckpt)
    assert codec.compress(read_image(f"gs://{bucket}/in/image.png")) == data  # the same bytes
    decoded = np.asarray(Image.open(io.BytesIO(read_object(bucket, "out/image.png"))))
    np.testing.assert_array_equal(decoded, codec.decompress(data))  # decoded back bit-exact


def test_second_sweep_on_a_live_gcs_workdir_is_refused(gcs_run):
    from experiments.configs import default
    from jlic.train.loop import train_and_evaluate
    from jlic.train.workdir import WorkdirLockedError
    from tests.paths.test_paths import _holder

    bucket = gcs_run[0]
    holder = _holder(f"gs://{bucket}/run")
    try:
        match = f"gs://{bucket}/run is in use by another run: pid {holder.pid}"
        with pytest.raises(WorkdirLockedError, match=match):
            train_and_evaluate(default.get_config(), f"gs://{bucket}/run")
    finally:
        holder.kill()
        holder.wait()


def test_missing_bucket_stops_before_training_in_one_line(gcs_server, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.sweep", "--workdir=gs://jlic-no-such-bucket/run",
                           "--config.num_steps=1"], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "gs://jlic-no-such-bucket" in last
    assert "gcloud storage buckets create" in last
    assert list(tmp_path.iterdir()) == []
