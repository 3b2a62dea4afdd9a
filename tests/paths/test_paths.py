"""jlic.paths against a real GCS server (fake-gcs-server): atomic writes, JSON-lines logs that survive a
kill, one-line errors, and the workdir lease (atomic create, refusal naming the holder, takeover)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.gcs_server import list_objects, read_object
from jlic import paths
from jlic.train.workdir import ObjectLease, WorkdirLockedError, read_holder, take_workdir

ROOT = Path(__file__).parents[2]


def test_atomic_write_and_read_on_gcs(bucket, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = f"gs://{bucket}/a/b/c.bin"
    paths.atomic_write(url, b"one")
    paths.atomic_write(url, "two")
    assert read_object(bucket, "a/b/c.bin") == b"two" and paths.read_bytes(url) == b"two"
    assert list(tmp_path.iterdir()) == []  # nothing local: not even a folder named gs:
    local = tmp_path / "x" / "y.txt"
    with pytest.raises(paths.OutputFolderError):
        paths.atomic_write(local, b"z")
    paths.atomic_write(local, b"z", make_parents=True)
    assert local.read_bytes() == b"z" and [p.name for p in local.parent.iterdir()] == ["y.txt"]


def test_jsonlines_on_gcs_keeps_every_uploaded_line(bucket):
    url = f"gs://{bucket}/run/metrics.jsonl"
    log = paths.JsonLines(url, min_interval=3600)
    log.append({"step": 1})
    assert list_objects(bucket) == ["run/metrics.jsonl"]  # the first record is uploaded at once
    log.append({"step": 2})  # within min_interval: kept in memory only (what a kill now would lose)
    assert paths.read_jsonl(url) == [{"step": 1}]
    log.flush()  # what the loop does at every checkpoint
    assert paths.read_jsonl(url) == [{"step": 1}, {"step": 2}]
    # a killed run: the log object is never closed; a resumed run continues it and drops later steps
    resumed = paths.JsonLines(url, min_interval=0)
    resumed.rewrite(lambda r: r["step"] <= 1)
    resumed.append({"step": 2, "again": True})
    resumed.close()
    assert [json.loads(x) for x in read_object(bucket, "run/metrics.jsonl").splitlines()] == [
        {"step": 1}, {"step": 2, "again": True}]


def test_missing_bucket_is_one_line_naming_it(gcs_server):
    with pytest.raises(paths.StorageError) as e:
        paths.check_writable("gs://jlic-no-such-bucket/run")
    msg = str(e.value)
    assert "\n" not in msg and "gs://jlic-no-such-bucket" in msg and "gcloud storage buckets create" in msg


@pytest.mark.slow
def test_unreachable_storage_is_retried_then_one_line(gcs_server, bucket):
    """The server away: every try fails, then one line says what failed and that a rerun resumes (slow:
    gcsfs retries each request itself with backoff before jlic's retry sees it fail; 98 s measured)."""
    url = f"gs://{bucket}/x"
    gcs_server.stop()
    try:
        t0 = time.monotonic()
        with pytest.raises(paths.StorageError, match=r"storage unreachable after 3 tries.*rerun"):
            paths.retrying(lambda: paths.as_path(url).write_bytes(b"x"), f"write {url}", attempts=3,
                           first_wait=0.1)
        assert time.monotonic() - t0 < 120
    finally:
        gcs_server.start()
    # back: the same call goes through (a short outage within the retries is survived)
    paths.retrying(lambda: paths.as_path(url).write_bytes(b"x"), f"write {url}")
    assert read_object(bucket, "x") == b"x"


HOLD = ("import sys, time; from jlic.train.workdir import ObjectLease; "
        "lease = ObjectLease(sys.argv[1], ttl=float(sys.argv[2])).acquire(); print('held', flush=True); "
        "time.sleep(120)")


def _holder(workdir, ttl=60.0):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, workdir, str(ttl)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_lease_refuses_a_second_run_and_names_the_holder(bucket):
    workdir = f"gs://{bucket}/run"
    holder = _holder(workdir)
    try:
        assert read_holder(workdir)["pid"] == holder.pid
        with pytest.raises(WorkdirLockedError, match=f"in use by another run: pid {holder.pid} on host"):
            take_workdir(workdir)
    finally:
        holder.kill()
        holder.wait()
    # the holder died (SIGKILL: no release): same machine, pid gone -> taken over at once, with a note
    lease = take_workdir(workdir)
    try:
        assert isinstance(lease, ObjectLease)
        assert "no longer running" in lease.stale_note() and str(holder.pid) in lease.stale_note()
        assert read_holder(workdir)["pid"] == os.getpid()
    finally:
        lease.release()
    assert list_objects(bucket) == []  # a clean release deletes the lease object


def test_lease_of_a_live_holder_elsewhere_expires(bucket):
    """A holder on another machine cannot be checked for life: its lease is taken only once it expired."""
    workdir = f"gs://{bucket}/run"
    other = json.dumps({"pid": 1, "host": "tpu-vm-gone", "boot_id": "another-machine", "started": 0, "ttl": 2})
    from google.cloud import storage

    storage.Client().bucket(bucket).blob("run/.lock").upload_from_string(other, if_generation_match=0)
    with pytest.raises(WorkdirLockedError, match="pid 1 on host tpu-vm-gone"):
        ObjectLease(workdir).acquire()
    time.sleep(2.5)
    lease = ObjectLease(workdir).acquire()
    try:
        assert "lease expired" in lease.stale_note()
    finally:
        lease.release()


def test_lease_is_renewed_by_its_holder(bucket):
    workdir = f"gs://{bucket}/run"
    holder = _holder(workdir, ttl=1.5)  # renews every 0.5 s
    try:
        time.sleep(3.0)  # twice its ttl: still refused, because it renews
        with pytest.raises(WorkdirLockedError, match="lease renewed"):
            ObjectLease(workdir).acquire()
    finally:
        holder.kill()
        holder.wait()
