"""Workdir ownership: one training run per workdir at a time.

`WorkdirLock(workdir)` holds an exclusive `fcntl.flock` on `workdir/.lock` for the whole run and writes
the holder (`pid`, `host`, start time, command line) into it. The kernel drops a flock when its process
dies, however it dies (SIGKILL, OOM, node crash: on NFS the server's lease expires), so a crashed run
never leaves the workdir stuck: the file it leaves behind is only a record, and the next run takes over
(saying so in one line, with the dead holder's pid and host). A second run while the first is alive gets
:class:`WorkdirLockedError` naming the holder.

On an object store (`gs://`) there is no flock: :class:`ObjectLease` takes the workdir by creating the lease
object `workdir/.lock` with a generation precondition (`ifGenerationMatch=0`: the create fails if it
exists, atomically on the server). The holder renews it every `ttl/3` seconds (a rewrite conditioned on the
generation it last wrote, so it notices a takeover) and deletes it when it releases the workdir. Another
run may take it over when it has expired (not renewed for `ttl` seconds, by the server's update time), or at
once when its holder is a dead process of the same machine (same boot id, pid gone: a killed run); the
takeover is again a rewrite conditioned on the generation it read, so of two runs racing for it one wins.
A holder that finds its lease taken (it could not renew for `ttl` seconds) stops its run.

Multi-host runs: only process 0 takes the lock (and writes `config.json`, `metrics.jsonl`, exports); the
others learn from a broadcast whether it got it, so a refused run stops on every host.
"""

from __future__ import annotations

import _thread
import errno
import fcntl
import json
import os
import socket
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from jlic import paths

LOCK_NAME = ".lock"
LEASE_TTL_S = 60.0


class WorkdirLockedError(RuntimeError):
    """Another live run holds the workdir."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def read_holder(workdir: str | os.PathLike) -> dict[str, Any] | None:
    """The holder record of `workdir/.lock` (None if absent or unreadable)."""
    try:
        return json.loads(paths.read_bytes(paths.as_path(workdir) / LOCK_NAME).decode())
    except (OSError, ValueError):
        return None


def describe(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "an unknown process (the lock file has no holder record yet)"
    since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(holder.get("started", 0)))
    return f"pid {holder.get('pid')} on host {holder.get('host')} (since {since})"


class WorkdirLock:
    """Exclusive ownership of a workdir for the lifetime of the object (a context manager)."""

    def __init__(self, workdir: str | Path):
        self.workdir = Path(workdir)
        self.path = self.workdir / LOCK_NAME
        self._fd: int | None = None
        self.took_over: dict[str, Any] | None = None  # the record a dead run left, if any

    def acquire(self) -> WorkdirLock:
        self.workdir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise WorkdirLockedError(
                    f"workdir {self.workdir} is in use by another run: {describe(read_holder(self.workdir))}; "
                    "wait for it, stop it, or use another --workdir") from None
            raise WorkdirLockedError(f"cannot lock workdir {self.workdir} ({e.strerror}); "
                                     "its filesystem does not support file locks") from None
        previous = read_holder(self.workdir)
        mine = previous and previous.get("host") == socket.gethostname() and previous.get("pid") == os.getpid()
        if previous and not mine:
            self.took_over = previous
        record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                  "argv": sys.argv}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        os.fsync(fd)
        self._fd = fd
        return self

    def stale_note(self) -> str | None:
        """One line about the run whose record this lock replaced (it had died without releasing it)."""
        p = self.took_over
        if not p:
            return None
        same_host = p.get("host") == socket.gethostname()
        state = ("no longer running" if same_host and not _pid_alive(int(p.get("pid", 0)))
                 else "not holding the lock")
        return (f"taking over workdir {self.workdir} from a run that ended without cleanup "
                f"({describe(p)}, {state})")

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)  # a clean exit leaves no holder record
            except OSError:
                pass
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WorkdirLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


class ObjectLease:
    """Exclusive ownership of an object-store workdir (`gs://`) through a renewed lease object."""

    def __init__(self, workdir: str | os.PathLike, ttl: float = LEASE_TTL_S):
        self.workdir = str(workdir).rstrip("/")
        self.ttl = float(ttl)
        self.path = f"{self.workdir}/{LOCK_NAME}"
        self.took_over: dict[str, Any] | None = None
        self.lost: str | None = None
        self._generation: int | None = None
        self._token = uuid.uuid4().hex
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._blob: Any = None

    def _record(self) -> bytes:
        return (json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "boot_id": _boot_id(),
                            "started": self._started, "ttl": self.ttl, "token": self._token,
                            "argv": sys.argv}) + "\n").encode()

    def _blob_of(self) -> Any:
        from google.cloud import storage  # the `cloud` extra; reads STORAGE_EMULATOR_HOST itself

        if paths.scheme(self.workdir) != "gs":
            raise paths.StorageError(f"workdir {self.workdir}: ownership leases exist for gs:// only")
        client = storage.Client()
        return client.bucket(paths.bucket_of(self.path)).blob(paths.key_of(self.path))

    def _upload(self, if_generation_match: int) -> int:
        self._blob.upload_from_string(self._record(), content_type="application/json",
                                      if_generation_match=if_generation_match)
        return int(self._blob.generation)

    def _expired(self, holder: dict[str, Any] | None, updated: float) -> tuple[bool, str]:
        if not holder:
            return True, "released"
        if holder.get("boot_id") and holder.get("boot_id") == _boot_id() and not _pid_alive(int(holder["pid"])):
            return True, "no longer running"
        age = time.time() - updated
        if age > float(holder.get("ttl", LEASE_TTL_S)):
            return True, f"lease expired {age:.0f} s after its last renewal"
        return False, f"lease renewed {age:.0f} s ago"

    def acquire(self) -> ObjectLease:
        from google.api_core import exceptions as gexc

        self._started = time.time()
        try:
            self._blob = self._blob_of()
            try:
                self._generation = paths.retrying(lambda: self._upload(0), f"take workdir lease {self.path}")
            except paths.StorageError as e:
                if not isinstance(e.__cause__, gexc.PreconditionFailed):
                    raise
                self._take_over()
        except (WorkdirLockedError, paths.StorageError):
            raise
        except Exception as e:  # noqa: BLE001 - no credentials, no bucket, no permission: one line
            raise paths.storage_error(e, f"take workdir lease {self.path}") from None
        self._thread = threading.Thread(target=self._renew_loop, name="jlic-workdir-lease", daemon=True)
        self._thread.start()
        return self

    def _take_over(self) -> None:
        """The lease object exists: take it if its holder is gone, else raise :class:`WorkdirLockedError`."""
        from google.api_core import exceptions as gexc

        current = self._blob.bucket.get_blob(self._blob.name)
        if current is None:  # released between the two calls
            self._generation = self._upload(0)
            return
        try:
            holder = json.loads(current.download_as_bytes(if_generation_match=current.generation))
        except (ValueError, gexc.PreconditionFailed):
            holder = None
        if holder and holder.get("token") == self._token:  # our create went through, its reply was lost
            self._generation = int(current.generation)
            return
        expired, state = self._expired(holder, current.updated.timestamp())
        if not expired:
            raise WorkdirLockedError(f"workdir {self.workdir} is in use by another run: {describe(holder)}, "
                                     f"{state}; wait for it, stop it, or use another --workdir")
        try:
            self._generation = self._upload(int(current.generation))
        except gexc.PreconditionFailed:
            raise WorkdirLockedError(f"workdir {self.workdir} was just taken by another run "
                                     f"({describe(read_holder(self.workdir))})") from None
        self.took_over = {**(holder or {}), "_state": state}

    def _renew_loop(self) -> None:
        from google.api_core import exceptions as gexc

        while not self._stop.wait(self.ttl / 3):
            try:
                self._generation = paths.retrying(lambda: self._upload(self._generation),
                                                  f"renew workdir lease {self.path}", attempts=4)
            except paths.StorageError as e:
                if isinstance(e.__cause__, gexc.PreconditionFailed) and self._still_mine():
                    continue  # our renewal went through but its reply was lost, and the retry was refused
                if isinstance(e.__cause__, gexc.PreconditionFailed):
                    self.lost = (f"workdir lease {self.path} was taken over by another run "
                                 f"({describe(read_holder(self.workdir))}); this run stops")
                    print(f"error: {self.lost}", file=sys.stderr, flush=True)
                    _thread.interrupt_main()
                    return
                print(f"warning: {e}", file=sys.stderr, flush=True)  # retried at the next renewal

    def _still_mine(self) -> bool:
        """Whether the lease object holds this lease's record (then adopt its generation)."""
        try:
            current = self._blob.bucket.get_blob(self._blob.name)
            holder = json.loads(current.download_as_bytes(if_generation_match=current.generation))
        except Exception:  # noqa: BLE001 - unreadable or gone: not ours any more
            return False
        if holder.get("token") != self._token:
            return False
        self._generation = int(current.generation)
        return True

    def stale_note(self) -> str | None:
        p = self.took_over
        if not p:
            return None
        return (f"taking over workdir {self.workdir} from a run that ended without cleanup "
                f"({describe(p)}, {p.get('_state')})")

    def release(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        if self.lost is None and self._generation is not None:
            try:  # a clean exit leaves no holder record
                self._blob.delete(if_generation_match=self._generation)
            except Exception as e:  # noqa: BLE001 - the lease expires by itself
                why = paths.storage_error(e, "delete")
                print(f"warning: could not release workdir lease {self.path} ({why}); it expires in "
                      f"{self.ttl:.0f} s", file=sys.stderr)

    def __enter__(self) -> ObjectLease:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def take_workdir(workdir: str | os.PathLike) -> WorkdirLock | ObjectLease:
    """Take `workdir` for this process: a flock locally, a lease object on `gs://`."""
    if paths.is_local(workdir):
        return WorkdirLock(workdir).acquire()
    paths.check_writable(workdir)  # one line for a missing bucket / credentials / permission, before anything
    return ObjectLease(workdir).acquire()


def lock_workdir(workdir: str | os.PathLike) -> WorkdirLock | ObjectLease | None:
    """Take the workdir lock on process 0 and agree on the outcome with every other process.

    Returns the held lock on process 0 (None elsewhere); raises :class:`WorkdirLockedError` on every
    process if process 0 could not take it.
    """
    import jax

    lock, error = None, None
    if jax.process_index() == 0:
        try:
            lock = take_workdir(workdir)
        except (WorkdirLockedError, paths.StorageError) as e:
            error = e
    if jax.process_count() > 1:
        import numpy as np
        from jax.experimental import multihost_utils

        ok = multihost_utils.broadcast_one_to_all(np.int32(error is None))
        if not int(ok):
            raise error or WorkdirLockedError(f"workdir {workdir} is in use by another run (see process 0)")
    if error is not None:
        raise error
    note = lock.stale_note() if lock is not None else None
    if note:
        print(f"note: {note}", file=sys.stderr)
    return lock
