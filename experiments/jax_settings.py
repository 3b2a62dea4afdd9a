"""JAX process settings of the experiment shells, from the config: the persistent compilation cache and
extra XLA flags.

XLA:CPU takes minutes to compile the train step of the larger CPU configs (`benchmarks/compile.py`); with
the cache on disk a rerun, a resumed sweep or another sweep of the same model loads the compiled programs
instead (λ and the model index are arguments of the step, so a new λ list is a hit too).

`config.jax_cache_dir`: a directory (local, `~` expanded, or anything `etils.epath` opens, e.g. `gs://`);
None (default): `$JAX_COMPILATION_CACHE_DIR` if set, else `jax-cache` in jlic's cache (`$JLIC_CACHE`, default
`~/.cache/jlic`, where the pretrained weights go too), shared by every workdir of the user; "" or "none": no
persistent cache. `config.jax_cache_min_compile_s`:
programs that compiled faster than this are not written (jax's default 1 s keeps the many tiny eager ops
out). `config.jax_cache_max_bytes`: the cache drops least recently used entries above this size.

`config.xla_flags` (default ""): appended to `$XLA_FLAGS` before the backend starts, e.g.
`--xla_backend_optimization_level=1`, which cut XLA:CPU's compile of mbt2018-mean N=32's train step by
35-49% with no step-time change beyond noise, but can change float rounding (`python -m benchmarks.compile
--configs control --variants base,O1`); off by default so results stay reproducible across versions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

DEFAULT_MAX_BYTES = 4 << 30


def default_cache_dir() -> str:
    """`$JAX_COMPILATION_CACHE_DIR`, else `$JLIC_CACHE/jax-cache` (`~/.cache/jlic/jax-cache`)."""
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return os.environ["JAX_COMPILATION_CACHE_DIR"]
    return str(Path(os.environ.get("JLIC_CACHE") or Path.home() / ".cache" / "jlic").expanduser() / "jax-cache")


def cache_dir(config: Any) -> str | None:
    """The persistent compilation cache directory `config` asks for (None: off)."""
    value = config.get("jax_cache_dir", None)
    if value is None:
        return default_cache_dir()
    value = str(value)
    if value.strip().lower() in ("", "none"):
        return None
    return value if "://" in value else os.path.expanduser(value)


def apply(config: Any) -> str | None:
    """Set the persistent compilation cache (and XLA flags) of this process from `config`; returns the cache
    directory (or None). Call before the first computation (XLA reads its flags when the backend starts)."""
    flags = str(config.get("xla_flags", None) or "").strip()
    if flags:
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flags}".strip()
    import jax

    path = cache_dir(config)
    jax.config.update("jax_compilation_cache_dir", path)
    if path is None:
        return None
    min_s = config.get("jax_cache_min_compile_s", None)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0 if min_s is None else float(min_s))
    max_bytes = config.get("jax_cache_max_bytes", None)
    max_bytes = DEFAULT_MAX_BYTES if max_bytes is None else int(max_bytes)
    jax.config.update("jax_compilation_cache_max_size", max_bytes)
    return path
