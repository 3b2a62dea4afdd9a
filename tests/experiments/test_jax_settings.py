"""The sweep shell's persistent compilation cache: where it goes, and that a second process loads the train
step from it instead of compiling it again."""

import json
import os
import subprocess
import sys
from pathlib import Path

import ml_collections
import pytest

from experiments import jax_settings

ROOT = Path(__file__).parents[2]

# One process: the sweep shell's settings, then the train step of a tiny model compiled as the loop does.
_CHILD = """
import json, sys
import jax, jax.numpy as jnp
from experiments import jax_settings
from experiments.configs import default
from jlic.train import loop

c = default.get_config()
c.model, c.model_kwargs, c.sweep_mode, c.batch_size, c.crop = "bmshj2018-factorized", {"N": 8, "M": 8}, \\
    "sequential", 1, 16
c.jax_cache_dir, c.jax_cache_min_compile_s = sys.argv[1], 0.0
jax_settings.apply(c)
hits = []
jax.monitoring.register_event_listener(lambda name, **kw: hits.append(name)
                                       if name == "/jax/compilation_cache/cache_hits" else None)
if sys.argv[2] == "step":
    model = loop.build_model(c)
    progs = loop.build_programs(c, model, 1, stacked=False)
    state = progs.init(jnp.int32(0))
    args = (state, jnp.zeros((1, 16, 16, 3)), jnp.int32(0), jnp.float32(0.01), jnp.int32(0))
    before = len(hits)
    progs.step.lower(*args).compile()
else:  # a small program: the shell's settings alone
    before = len(hits)
    jax.jit(lambda x: jnp.cumsum(jnp.sin(x) @ x.T, axis=0)).lower(jnp.ones((8, 8))).compile()
print(json.dumps({"step_hits": len(hits) - before}))
"""


def _run(cache: Path, what: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(cache), what], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("what", ["program", pytest.param("step", marks=pytest.mark.slow)])  # step: ~90 s
def test_second_process_loads_from_the_cache(tmp_path, what):
    cache = tmp_path / "jax-cache"
    assert _run(cache, what)["step_hits"] == 0
    assert any(cache.iterdir())
    assert _run(cache, what)["step_hits"] >= 1


def test_cache_dir_choice(monkeypatch, tmp_path):
    c = ml_collections.ConfigDict({"jax_cache_dir": None})
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    monkeypatch.setenv("JLIC_CACHE", str(tmp_path))
    assert jax_settings.cache_dir(c) == str(tmp_path / "jax-cache")
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", "/elsewhere")
    assert jax_settings.cache_dir(c) == "/elsewhere"
    for off in ("", "none", "None"):
        assert jax_settings.cache_dir(ml_collections.ConfigDict({"jax_cache_dir": off})) is None
    assert jax_settings.cache_dir(ml_collections.ConfigDict({"jax_cache_dir": "gs://b/c"})) == "gs://b/c"
    home = jax_settings.cache_dir(ml_collections.ConfigDict({"jax_cache_dir": "~/c"}))
    assert home == str(Path.home() / "c")


def test_xla_flags_reach_the_backend(tmp_path):
    """`config.xla_flags` is in force in the process (an unknown flag makes XLA abort at backend start)."""
    code = ("import ml_collections, jax; from experiments import jax_settings; "
            "c = ml_collections.ConfigDict({'jax_cache_dir': 'none', 'xla_flags': '--xla_no_such_flag'}); "
            "jax_settings.apply(c); jax.numpy.zeros(1).block_until_ready()")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode != 0 and "xla_no_such_flag" in proc.stderr
