"""Learning-rate schedules (`config.lr_schedule`): the lr each update really applies, config errors, and an
exact resume across a decay boundary."""

from __future__ import annotations

import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import default
from jlic.models import get
from jlic.train import loop
from jlic.train.state import create_train_state, lr_schedule, make_optimizer
from jlic.train.step import make_train_step


def _applied_lrs(config: dict, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Per update: (network lr, aux lr) actually applied. With a constant gradient g Adam's bias-corrected
    moments are g and g² (to float32 rounding), so every update is -lr * g / (|g| + eps): its size over
    that factor is the lr of that update."""
    grads = {"w": jnp.array([0.5, -0.25, 0.125]), "entropy_bottleneck": {"quantiles": jnp.array([0.5, -1.0])}}
    params = jax.tree.map(jnp.zeros_like, grads)
    unit = jax.tree.map(lambda g: g / (jnp.abs(g) + 1e-8), grads)
    opt = make_optimizer({"clip_norm": 0.0, **config})
    state, update, lrs = opt.init(params), jax.jit(opt.update), []
    for _ in range(steps):
        u, state = update(grads, state, params)
        lrs.append(jax.tree.map(lambda a, b: -a / b, u, unit))
    main = np.asarray([r["w"] for r in lrs])
    aux = np.asarray([r["entropy_bottleneck"]["quantiles"] for r in lrs])
    np.testing.assert_allclose(main, main[:, :1].repeat(3, 1), rtol=1e-6)  # one lr for every element
    return main[:, 0], aux[:, 0]


def test_constant_is_a_float_and_applied_unchanged():
    assert lr_schedule({"lr": 3e-4}) == 3e-4  # the default: optimizer state as before schedules existed
    main, aux = _applied_lrs({"lr": 3e-4, "aux_lr": 2e-3}, 3)
    np.testing.assert_allclose(main, 3e-4, rtol=1e-4)
    np.testing.assert_allclose(aux, 2e-3, rtol=1e-4)


def test_step_decay_applied_before_and_after_each_boundary():
    """Entroformer's fine-tuning schedule (x0.5 at 0.2, 0.4, 0.6, 0.8 of training) on 20 updates: updates
    0-3 use lr, 4-7 lr/2, ..., 16-19 lr/16; the aux lr stays constant."""
    cfg = {"lr": 1e-3, "aux_lr": 1e-2, "lr_schedule": "step", "lr_boundaries": (0.2, 0.4, 0.6, 0.8),
           "lr_decay": 0.5, "num_steps": 20}
    main, aux = _applied_lrs(cfg, 20)
    np.testing.assert_allclose(main, 1e-3 * 0.5 ** (np.arange(20) // 4), rtol=1e-4)
    np.testing.assert_allclose(aux, 1e-2, rtol=1e-4)
    # one factor per boundary (MLIC++-like 1e-4 -> 3e-5 -> 1e-5) and a linear warm-up of 4 updates
    cfg = {"lr": 1e-4, "lr_schedule": "step", "lr_boundaries": (0.5, 0.75), "lr_decay": (0.3, 1 / 3),
           "lr_warmup": 0.2, "num_steps": 20}
    main, _ = _applied_lrs(cfg, 20)
    i = np.arange(20)
    want = 1e-4 * np.minimum(1.0, (i + 1) / 4) * np.where(i < 10, 1.0, np.where(i < 15, 0.3, 0.1))
    np.testing.assert_allclose(main, want, rtol=1e-4)


def test_train_config_carries_the_schedule():
    c = default.get_config()
    c.lr, c.num_steps, c.lr_schedule, c.lr_boundaries, c.lr_decay = 1e-3, 100, "step", (0.5,), (0.25,)
    sched = lr_schedule(loop.train_config(c, 16))
    assert float(sched(49)) == pytest.approx(1e-3) and float(sched(50)) == pytest.approx(2.5e-4)
    assert lr_schedule(loop.train_config(default.get_config(), 16)) == default.get_config().lr


@pytest.mark.parametrize("bad, match", [
    ({"lr_schedule": "cosine"}, "lr_schedule must be one of"),
    ({"lr_schedule": "step"}, "needs num_steps > 0"),
    ({"lr_schedule": "step", "num_steps": 10}, "needs lr_boundaries"),
    ({"lr_schedule": "step", "num_steps": 10, "lr_boundaries": (0.6, 0.3)}, "must increase"),
    ({"lr_schedule": "step", "num_steps": 10, "lr_boundaries": (0.51, 0.52)}, "distinct steps"),
    ({"lr_schedule": "step", "num_steps": 10, "lr_boundaries": (1.5,)}, r"in \(0, 1\]"),
    ({"lr_schedule": "step", "num_steps": 10, "lr_boundaries": (0.5,), "lr_decay": (0.5, 0.5)}, "one per"),
    ({"lr_schedule": "step", "num_steps": 10, "lr_boundaries": (0.5,), "lr_decay": -0.5}, "positive"),
    ({"lr_warmup": 1.0, "num_steps": 10}, "end before training"),
    ({"lr_warmup": -0.1, "num_steps": 10}, r"lr_warmup must be in \(0, 1\]"),
])
def test_bad_schedule_is_one_line_value_error(bad, match):
    with pytest.raises(ValueError, match=match) as e:
        make_optimizer(bad)
    assert "\n" not in str(e.value)


@pytest.mark.slow  # two short trainings: 87 s on the loaded 2-core box, mostly compiling
def test_resume_across_a_boundary_is_exact(tmp_path):
    """A step schedule with warm-up trained 8 steps straight, and resumed from its step-4 checkpoint (the
    same config, so the same schedule; the update count comes back with the optimizer state): identical
    parameters and metrics."""
    from jlic.train.logging import read_jsonl
    from tests.train.test_loop import _params, tiny_config  # its tiny model and data

    cfg = tiny_config(sweep_mode="vmap", num_steps=8, checkpoint_every=4, keep_checkpoints=2, log_every=1,
                      lr_schedule="step", lr_boundaries=(0.375, 0.75), lr_decay=(0.1,), lr_warmup=0.25)
    loop.train(cfg, tmp_path / "full")
    resumed = tmp_path / "resumed"
    shutil.copytree(tmp_path / "full", resumed)
    shutil.rmtree(resumed / "checkpoints" / "vmap" / "8")
    for lmbda in cfg.lambdas:
        shutil.rmtree(resumed / loop.lambda_name(lmbda))
    loop.train(cfg, resumed)  # resumes at step 4 (warm-up done, before the step-6 boundary)
    timing = [r["step"] for r in read_jsonl(resumed / "timing.jsonl")]
    assert timing == [r["step"] for r in read_jsonl(tmp_path / "full" / "timing.jsonl")] + [5, 6, 7, 8]
    for lmbda in cfg.lambdas:
        jax.tree.map(np.testing.assert_array_equal, _params(resumed, lmbda), _params(tmp_path / "full", lmbda))
    assert read_jsonl(resumed / "metrics.jsonl") == read_jsonl(tmp_path / "full" / "metrics.jsonl")


def test_the_step_reports_the_scheduled_learning_rate():
    """`metrics["lr"]` is the rate of each update: 1e-3, then x0.5 from update 2 of 4 (boundary 0.5)."""
    model = get("bmshj2018-factorized", 1, N=8, M=8)
    config = {"image_shape": (1, 32, 32, 3), "lr": 1e-3, "lr_schedule": "step", "lr_boundaries": (0.5,),
              "lr_decay": 0.5, "num_steps": 4}
    state = create_train_state(model, jax.random.PRNGKey(0), config)
    step = jax.jit(make_train_step(model, config))
    x = jax.random.uniform(jax.random.PRNGKey(2), (1, 32, 32, 3))
    rates = []
    for i in range(4):
        state, metrics = step(state, x, 0.01, jax.random.PRNGKey(i))
        rates.append(float(metrics["lr"]))
    np.testing.assert_allclose(rates, [1e-3, 1e-3, 5e-4, 5e-4], rtol=1e-6)
    _, metrics = jax.jit(make_train_step(model, {"lr": 2e-4}))(state, x, 0.01, jax.random.PRNGKey(9))
    assert float(metrics["lr"]) == np.float32(2e-4)
