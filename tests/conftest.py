"""Test-session settings: a persistent XLA compilation cache shared by all tests (and their subprocesses).

Most of the suite's time is XLA compiling small models; identical programs across tests compile once.
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
