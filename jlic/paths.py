"""The one path layer: every file a run or a command reads or writes goes through here, so that a local
path (exactly as before) and an object-store URL (`gs://bucket/run`, or anything else `etils.epath` and
fsspec open, e.g. `s3://`) work alike.

- :func:`as_path` gives an `etils.epath.Path` (pathlib's API; local paths use the OS, `gs://` uses gcsfs);
  :func:`is_local` tells the two apart.
- :func:`atomic_write` (the one writer of jlic's output files): readers see the old content or the new
  one, never a part of it. Locally a temporary file in the same folder then `os.replace`; on an object store
  a single object upload, which the store makes visible all at once (GCS: the object's new generation
  appears when the upload completes).
- :class:`JsonLines`: a log of JSON lines that a killed run never damages. Locally one appended, flushed
  line per record (as before; an unfinished last line is ended on reopen and skipped by readers). Object
  stores cannot append, so there the whole log is kept in memory and rewritten as one object by
  :meth:`JsonLines.flush`, at most every `min_interval` seconds (GCS allows about one write per second to
  one object) and whenever the caller forces it (the training loop forces it at every checkpoint and at the
  end). A killed run therefore loses at most the records since the last upload (never a line that was
  uploaded), and those are after its last checkpoint, so the resumed run logs them again.
- :func:`retrying`: bounded retries with backoff around a storage call (a storage server that is away for
  a while); past them the caller gets a :class:`StorageError`.
- :func:`storage_error` turns what the storage clients raise (no bucket, no credentials, no permission,
  server unreachable) into one line naming the path and what to do; :func:`check_writable` runs that check
  before a run starts.

The GCS clients find their server and credentials themselves (Application Default Credentials on a TPU VM;
`STORAGE_EMULATOR_HOST` for gcsfs and google-cloud-storage, `TENSORSTORE_GCS_HTTP_URL` for tensorstore and
orbax when pointed at a local server); this module reads no environment variable.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path as _LocalPath
from typing import Any, TypeVar

from etils import epath

PathLike = str | os.PathLike
T = TypeVar("T")

# Default retry budget for one storage call: 8 tries, waiting 1, 2, 4, 8, 16, 16, 16 s between them (63 s).
RETRY_ATTEMPTS = 8
RETRY_FIRST_WAIT_S = 1.0
RETRY_MAX_WAIT_S = 16.0


class StorageError(OSError):
    """A storage operation failed for a reason the user must act on (one line: the path, what to do)."""


def as_path(path: PathLike) -> epath.Path:
    """`path` as an `etils.epath.Path` (`gs://...` stays a URL; a local path keeps its meaning)."""
    return path if isinstance(path, epath.Path) else epath.Path(path)


def is_local(path: PathLike) -> bool:
    """True for a path of the local filesystem, False for a URL (`gs://`, `s3://`, ...)."""
    return "://" not in os.fspath(path)


def scheme(path: PathLike) -> str:
    """The URL scheme of `path` (`"gs"`, `"s3"`, ...; `""` for a local path)."""
    text = os.fspath(path)
    return text.split("://", 1)[0] if "://" in text else ""


def bucket_of(path: PathLike) -> str:
    """The bucket of an object-store URL (`gs://b/x/y` -> `b`)."""
    return os.fspath(path).split("://", 1)[1].split("/", 1)[0]


def key_of(path: PathLike) -> str:
    """The object name inside its bucket (`gs://b/x/y` -> `x/y`)."""
    parts = os.fspath(path).split("://", 1)[1].split("/", 1)
    return parts[1] if len(parts) > 1 else ""


class OutputFolderError(FileNotFoundError):
    """The folder an output should be written into does not exist (one-line message)."""


def atomic_write(path: PathLike, data: bytes | str, make_parents: bool = False) -> Any:
    """Write `data` to `path` so that readers see the old content or all of the new, never a part; returns
    the path written.

    Local: a temporary file in the same folder, flushed to disk, then one `os.replace`. `make_parents`:
    create the folder if missing (a run's own outputs); otherwise a missing folder raises
    :class:`OutputFolderError` (a user-named output path with a typo must not create folders).
    Object store: one object upload (retried, see :func:`retrying`); object stores have no folders.
    """
    raw = data.encode() if isinstance(data, str) else bytes(data)
    if not is_local(path):
        target = as_path(path)
        retrying(lambda: target.write_bytes(raw), f"write {path}")
        return target
    local = _LocalPath(path)
    folder = local.parent if str(local.parent) else _LocalPath(".")
    if make_parents:
        folder.mkdir(parents=True, exist_ok=True)
    if not folder.is_dir():
        raise OutputFolderError(f"output folder does not exist: {folder}")
    fd, tmp = tempfile.mkstemp(prefix=f".{local.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, local)
    except BaseException:
        _LocalPath(tmp).unlink(missing_ok=True)
        raise
    return local


def atomic_write_text(path: PathLike, text: str, make_parents: bool = False) -> Any:
    """:func:`atomic_write` of UTF-8 text."""
    return atomic_write(path, text.encode(), make_parents)


def read_bytes(path: PathLike) -> bytes:
    """The content of `path` (retried on an object store)."""
    p = as_path(path)
    return p.read_bytes() if is_local(path) else retrying(p.read_bytes, f"read {path}")


def makedirs(path: PathLike) -> epath.Path:
    """Create the folder `path` (and parents) if missing; a no-op on object stores, which have no folders."""
    p = as_path(path)
    if is_local(path):
        p.mkdir(parents=True, exist_ok=True)
    return p


def remove_tree(path: PathLike) -> None:
    """Delete `path` and everything under it, if it exists."""
    p = as_path(path)
    if p.exists():
        p.rmtree() if p.is_dir() else p.unlink()


def list_files(root: PathLike) -> list[Any]:
    """Every file under the folder `root`, recursively, sorted: `pathlib.Path`s for a local folder,
    `epath.Path`s on an object store (one listing per folder level, not a request per object)."""
    if is_local(root):
        return sorted(p for p in _LocalPath(root).rglob("*") if p.is_file())
    top = as_path(root)
    prefix = f"{scheme(root)}://"
    out = []
    for folder, _, files in top.walk():
        text = os.fspath(folder)
        base = as_path(text if "://" in text else prefix + text.lstrip("/"))
        out += [base / f for f in files]
    return sorted(out, key=os.fspath)


def upload_tree(local_dir: PathLike, dest: PathLike) -> None:
    """Copy every file under the local folder `local_dir` to `dest` (each with :func:`atomic_write`)."""
    root = _LocalPath(local_dir)
    for f in sorted(root.rglob("*")):
        if f.is_file():
            atomic_write(as_path(dest) / f.relative_to(root).as_posix(), f.read_bytes())


@contextlib.contextmanager
def local_copy(path: PathLike) -> Iterator[_LocalPath]:
    """A local file with the content of `path` for the duration of the block (the path itself if local)."""
    if is_local(path):
        yield _LocalPath(path)
        return
    with tempfile.TemporaryDirectory(prefix="jlic-") as d:
        local = _LocalPath(d) / as_path(path).name
        local.write_bytes(read_bytes(path))
        yield local


def _transient(e: BaseException) -> bool:
    """Whether `e` may go away by itself (server unreachable, timeout, 429/5xx), so a retry makes sense."""
    if isinstance(e, (ConnectionError, TimeoutError)):
        return True
    code = getattr(e, "code", None) or getattr(e, "status", None)
    if isinstance(code, int) and (code == 429 or code >= 500):
        return True
    name = type(e).__name__
    if name in ("ClientConnectorError", "ServerDisconnectedError", "ClientOSError", "ServiceUnavailable",
                "InternalServerError", "TooManyRequests", "GatewayTimeout", "RetryError"):
        return True
    text = str(e)
    return any(s in text for s in ("Cannot connect to host", "Connection refused", "Server disconnected",
                                   "Connection reset", "timed out"))


def retrying(fn: Callable[[], T], what: str, *, attempts: int = RETRY_ATTEMPTS,
             first_wait: float = RETRY_FIRST_WAIT_S, max_wait: float = RETRY_MAX_WAIT_S,
             log: Callable[[str], None] | None = None) -> T:
    """`fn()`, retried with exponential backoff while it fails with a transient storage error.

    Raises :class:`StorageError` (one line: `what`, the cause, how long it tried) once `attempts` tries
    failed; a non-transient error (no bucket, no permission) is raised at once, as :func:`storage_error`.
    """
    wait, started = first_wait, time.monotonic()
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except StorageError:
            raise
        except Exception as e:  # noqa: BLE001 - classified below
            if not _transient(e):
                raise storage_error(e, what) from e
            if attempt == attempts:
                raise StorageError(f"{what}: storage unreachable after {attempts} tries over "
                                   f"{time.monotonic() - started:.0f} s ({_one_line(e)}); check the network "
                                   "or the storage service and rerun the same command to resume") from e
            if log is not None:
                log(f"warning: {what} failed ({_one_line(e)}); retry {attempt}/{attempts - 1} in {wait:.0f} s")
            time.sleep(wait)
            wait = min(2 * wait, max_wait)
    raise AssertionError("unreachable")


def _one_line(e: BaseException, limit: int = 200) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return f"{type(e).__name__}: {text[:limit]}{'...' if len(text) > limit else ''}"


def storage_error(e: BaseException, what: str) -> StorageError:
    """One-line :class:`StorageError` for what a storage client raised while doing `what` (which names the
    path): missing bucket, missing credentials, no permission, or else the cause itself."""
    if isinstance(e, StorageError):
        return e
    name, text = type(e).__name__, str(e)
    code = getattr(e, "code", None) or getattr(e, "status", None)
    if name in ("DefaultCredentialsError", "RefreshError", "TransportError") or code == 401 \
            or "credentials were not found" in text or "Anonymous caller" in text:
        return StorageError(f"{what}: no usable Google Cloud credentials ({_one_line(e, 120)}); run "
                            "`gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS "
                            "to a service account key, or give the TPU VM's service account bucket access")
    if isinstance(e, PermissionError) or name == "Forbidden" or code == 403:
        return StorageError(f"{what}: permission denied ({_one_line(e, 120)}); grant your account "
                            "roles/storage.objectAdmin on the bucket, or use a bucket you own")
    if isinstance(e, FileNotFoundError) or name == "NotFound" or code == 404:
        return StorageError(f"{what}: not found ({_one_line(e, 120)}); check the path, and that the bucket "
                            "exists (`gcloud storage buckets create gs://BUCKET`)")
    return StorageError(f"{what}: {_one_line(e)}")


def check_writable(path: PathLike) -> None:
    """Raise :class:`StorageError` (one line) unless `path` can be written: for an object store, its bucket
    must exist and accept a write (a probe object is written and removed). Local paths: the folder is
    created (an OSError says why not)."""
    if is_local(path):
        _LocalPath(path).mkdir(parents=True, exist_ok=True)
        return
    bucket = f"{scheme(path)}://{bucket_of(path)}"
    try:
        exists = retrying(as_path(bucket).exists, f"look up {bucket}")
    except StorageError:
        raise
    if not exists:
        raise StorageError(f"bucket {bucket} of {path} does not exist (or this account cannot see it); create "
                           f"it (`gcloud storage buckets create {bucket}`) or fix the path")
    probe = as_path(path) / f".jlic-write-probe-{os.getpid()}"
    atomic_write(probe, b"")
    with contextlib.suppress(Exception):
        probe.unlink()


class JsonLines:
    """An append-only log of JSON objects, one per line (see the module docstring for the object-store
    design). `read()` skips an unfinished last line."""

    def __init__(self, path: PathLike, *, min_interval: float = 5.0):
        self.path = as_path(path)
        self.local = is_local(path)
        self.min_interval = float(min_interval)
        self._file: Any = None
        self._lines: list[str] = []
        self._dirty, self._last_upload = False, -math.inf
        if self.local:
            self._open_local()
        else:
            self._lines = [json.dumps(r) for r in read_jsonl(self.path)]

    def _open_local(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a")  # noqa: SIM115 - kept open for the run
        if self._file.tell() > 0:  # a killed or disk-full run may have left an unfinished last line: end it
            with open(self.path, "rb") as f:
                f.seek(-1, 2)
                if f.read(1) != b"\n":
                    self._file.write("\n")

    def read(self) -> list[dict[str, Any]]:
        """The records written so far (on an object store: those uploaded, plus this log's pending ones)."""
        return read_jsonl(self.path) if self.local else [json.loads(x) for x in self._lines]

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record)
        if self.local:
            self._file.write(line + "\n")
            self._file.flush()
            return
        self._lines.append(line)
        self._dirty = True
        self.flush(force=False)

    def flush(self, force: bool = True) -> None:
        """Object store: upload the whole log if it changed (unless `force` is False and the last upload
        was less than `min_interval` seconds ago)."""
        if self.local:
            if self._file is not None:
                self._file.flush()
            return
        if not self._dirty or (not force and time.monotonic() - self._last_upload < self.min_interval):
            return
        atomic_write(self.path, "".join(x + "\n" for x in self._lines))
        self._dirty, self._last_upload = False, time.monotonic()

    def rewrite(self, keep: Callable[[dict[str, Any]], bool]) -> None:
        """Keep only the records for which `keep(record)` is true (atomically; used on resume)."""
        if self.local:
            self._file.close()
            kept = [r for r in read_jsonl(self.path) if keep(r)]
            atomic_write(self.path, "".join(json.dumps(r) + "\n" for r in kept))
            self._open_local()
            return
        kept = [x for x in self._lines if keep(json.loads(x))]
        if len(kept) != len(self._lines):
            self._lines, self._dirty = kept, True
            self.flush()

    def close(self) -> None:
        if self.local:
            if self._file is not None:
                self._file.close()
                self._file = None
            return
        self.flush()


def read_jsonl(path: PathLike) -> list[dict[str, Any]]:
    """Records of a JSON-lines file (an unfinished last line from a killed run is skipped; [] if absent)."""
    p = as_path(path)
    try:
        text = read_bytes(p).decode() if p.exists() else ""
    except FileNotFoundError:
        return []
    records = []
    for line in text.splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
