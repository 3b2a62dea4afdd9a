"""("lambda", "data") meshes; a sharded sweep on 8 virtual CPU devices equals the single-device sweep."""

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

from jlic.train import sharding
from jlic.train.sharding import make_mesh, mesh_shape

ROOT = Path(__file__).parents[2]
CACHE = os.path.join(tempfile.gettempdir(), "jlic-test-jax-cache")


@pytest.mark.parametrize(("devices", "lambdas", "batch", "expect"), [
    (8, 4, 4, (4, 2)), (8, 3, 8, (1, 8)), (8, 4, 2, (4, 2)), (8, 2, 6, (2, 2)), (1, 5, 3, (1, 1)),
    (4, 1, 8, (1, 4)),
])
def test_mesh_shape(devices, lambdas, batch, expect):
    lam, data = mesh_shape(devices, lambdas, batch)
    assert (lam, data) == expect
    assert devices % (lam * data) == 0 and lambdas % lam == 0 and batch % data == 0


def test_make_mesh_single_device():
    """One device: a 1x1 ("lambda", "data") mesh holding it; by default, all devices in `mesh_shape`'s shape."""
    one = jax.devices()[:1]
    mesh = make_mesh(3, 4, devices=one)
    assert mesh.axis_names == ("lambda", "data")
    assert mesh.devices.shape == (1, 1) and mesh.devices[0, 0] == one[0]
    assert make_mesh(3, 4).devices.shape == mesh_shape(len(jax.devices()), 3, 4)
    with pytest.raises(ValueError, match="does not divide"):
        make_mesh(3, 4, shape=(2, 1), devices=jax.devices() * 2)


SCRIPT = textwrap.dedent("""
    import json, sys
    import jax
    jax.config.update("jax_compilation_cache_dir", sys.argv[2])
    assert len(jax.devices()) == 8, jax.devices()
    from tests.train.test_loop import tiny_config
    from jlic.train import loop
    from jlic.train.logging import read_jsonl
    out = {}
    for name, shape in (("single", (1, 1)), ("sharded", None)):
        cfg = tiny_config(sweep_mode="vmap", lambdas=(0.001, 0.01, 0.1, 1.0), batch_size=4, num_steps=3,
                          log_every=1, checkpoint_every=3)
        cfg.mesh_shape = shape
        wd = sys.argv[1] + "/" + name
        loop.train(cfg, wd)
        progs = loop.build_programs(cfg, loop.build_model(cfg), 4, True)
        recs = read_jsonl(wd + "/metrics.jsonl")
        out[name] = {"mesh": dict(progs.mesh.shape),
                     "loss": [[r["model"], r["step"], r["loss"], r["bpp"]] for r in recs]}
    print("RESULT" + json.dumps(out))
""")


FAST_SCRIPT = textwrap.dedent("""
    import json
    import jax, jax.numpy as jnp, numpy as np
    from jlic.train import lambda_axis, sharding
    assert len(jax.devices()) == 8
    # a toy per-λ model: least squares with a rate-like penalty weighted by λ, one SGD step
    def step(state, batch, lmbda, rng):
        def loss(w):
            noise = 0.01 * jax.random.normal(rng, w.shape)
            return jnp.mean((batch @ (w + noise) - 1.0) ** 2) + lmbda * jnp.sum(jnp.abs(w))
        l, g = jax.value_and_grad(loss)(state["w"])
        return {"w": state["w"] - 0.1 * g}, {"loss": l}
    lams = jnp.asarray([0.001, 0.01, 0.1, 1.0])
    state = lambda_axis.stack([{"w": jnp.full((3,), float(i))} for i in range(4)])
    batch = jnp.asarray(np.random.default_rng(0).random((8, 3)), jnp.float32)
    rngs = jax.random.split(jax.random.key(0), 4)
    vstep = jax.jit(lambda_axis.vmap_step(step))
    out = {}
    for name, shape in (("single", (1, 1)), ("sharded", None)):
        mesh = sharding.make_mesh(4, 8, shape=shape)
        st = jax.device_put(state, sharding.stacked_sharding(mesh, state))
        b = sharding.global_batch(np.asarray(batch), sharding.batch_sharding(mesh))
        new, m = vstep(st, b, jax.device_put(lams, sharding.lambda_sharding(mesh)), rngs)
        out[name] = {"mesh": dict(mesh.shape), "loss": np.asarray(m["loss"]).tolist(),
                     "w": np.asarray(new["w"]).tolist(), "ndev": len(new["w"].sharding.device_set)}
    print("RESULT" + json.dumps(out))
""")


def test_sharded_toy_step_equals_single_device():
    """Fast: the mesh/sharding helpers on 8 virtual devices give the single-device result."""
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8", "PYTHONPATH": str(ROOT),
           "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", FAST_SCRIPT], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.split("RESULT", 1)[1])
    assert out["single"]["mesh"] == {"lambda": 1, "data": 1} and out["single"]["ndev"] == 1
    assert out["sharded"]["mesh"] == {"lambda": 4, "data": 2} and out["sharded"]["ndev"] == 8
    np.testing.assert_allclose(out["sharded"]["loss"], out["single"]["loss"], rtol=1e-5)
    np.testing.assert_allclose(out["sharded"]["w"], out["single"]["w"], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_sharded_sweep_equals_single_device(tmp_path):
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8", "PYTHONPATH": str(ROOT),
           "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), CACHE], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.split("RESULT", 1)[1])
    assert out["single"]["mesh"] == {"lambda": 1, "data": 1}
    assert out["sharded"]["mesh"] == {"lambda": 4, "data": 2}
    single, sharded = out["single"]["loss"], out["sharded"]["loss"]
    assert len(single) == len(sharded) == 12
    for a, b in zip(single, sharded, strict=True):
        assert a[:2] == b[:2]
        assert b[2] == pytest.approx(a[2], rel=1e-4) and b[3] == pytest.approx(a[3], rel=1e-4, abs=1e-6)


class FakeDevice:
    def __init__(self, process_index, id):
        self.process_index, self.id = process_index, id

    def __repr__(self):
        return f"d{self.id}@p{self.process_index}"


@pytest.mark.parametrize(("processes", "per", "lam", "data", "rows"), [
    (4, 2, 2, 4, [[0], [1], [2], [3]]),          # λ within a host, data across hosts: a quarter each
    (4, 2, 1, 8, [[0, 1], [2, 3], [4, 5], [6, 7]]),
    (2, 4, 2, 4, [[0, 1], [2, 3]]),
    (2, 1, 2, 1, [[0], [0]]),                    # λ across processes: both need the whole batch
])
def test_device_grid_puts_the_data_axis_across_processes(processes, per, lam, data, rows):
    """Which data-axis columns each process's devices hold: contiguous, disjoint where the mesh allows."""
    devices = [FakeDevice(p, p * per + i) for p in range(processes) for i in range(per)][::-1]  # any order
    grid = sharding.device_grid(devices, lam, data)
    assert grid.shape == (lam, data)
    cols = [sorted({d for (_, d), dev in np.ndenumerate(grid) if dev.process_index == p})
            for p in range(processes)]
    assert cols == rows
