"""Workdir ownership: one training run per workdir at a time.

`WorkdirLock(workdir)` holds an exclusive `fcntl.flock` on `workdir/.lock` for the whole run and writes
the holder (`pid`, `host`, start time, command line) into it. The kernel drops a flock when its process
dies, however it dies (SIGKILL, OOM, node crash: on NFS the server's lease expires), so a crashed run
never leaves the workdir stuck: the file it leaves behind is only a record, and the next run takes over
(saying so in one line, with the dead holder's pid and host). A second run while the first is alive gets
:class:`WorkdirLockedError` naming the holder.

Multi-host runs: only process 0 takes the lock (and writes `config.json`, `metrics.jsonl`, exports); the
others learn from a broadcast whether it got it, so a refused run stops on every host.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

LOCK_NAME = ".lock"


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


def read_holder(workdir: str | Path) -> dict[str, Any] | None:
    """The holder record of `workdir/.lock` (None if absent or unreadable)."""
    try:
        return json.loads((Path(workdir) / LOCK_NAME).read_text())
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


def lock_workdir(workdir: str | Path) -> WorkdirLock | None:
    """Take the workdir lock on process 0 and agree on the outcome with every other process.

    Returns the held lock on process 0 (None elsewhere); raises :class:`WorkdirLockedError` on every
    process if process 0 could not take it.
    """
    import jax

    lock, error = None, None
    if jax.process_index() == 0:
        try:
            lock = WorkdirLock(workdir).acquire()
        except WorkdirLockedError as e:
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
