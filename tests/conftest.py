"""Test-session settings: a persistent XLA compilation cache shared by all tests (and their subprocesses).

Most of the suite's time is XLA compiling small models; identical programs across tests compile once.
"""

import os
import tempfile

import jax

DEFAULT_CACHE = os.path.join(tempfile.gettempdir(), "jlic-test-jax-cache")
CACHE = os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", DEFAULT_CACHE)
jax.config.update("jax_compilation_cache_dir", CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
