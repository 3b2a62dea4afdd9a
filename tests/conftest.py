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

import os
import tempfile

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
