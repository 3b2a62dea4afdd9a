"""Entroformer's two-stage recipe (experiments/configs/entroformer.py, arXiv 2202.05492): the stage configs,
`init_from_kwargs`, and token-mask pre-training followed by fine-tuning from its export, at CPU size."""

from __future__ import annotations

import jax
import ml_collections
import numpy as np
import pytest

from experiments.configs import entroformer
from experiments.configs.entroformer_cpu import MODEL_KWARGS
from jlic.codec.export import load_model, save_model
from jlic.models import get
from jlic.train import loop


def test_stage_configs():
    pre, fine = entroformer.get_config("pretrain"), entroformer.get_config()
    assert pre.model_kwargs.token_mask_ratio == 0.5 and pre.lambdas == (0.3,) and pre.crop == 256
    assert pre.lr_schedule == "constant" and pre.lr_warmup == 0.05 and not pre.init_from
    assert fine.init_from == f"{pre.workdir}/{loop.lambda_name(0.3)}"
    assert dict(fine.init_from_kwargs) == {"token_mask_ratio": 0.0} and fine.crop == 384
    assert (fine.lr_schedule, fine.lr_boundaries, fine.lr_decay) == ("step", (0.2, 0.4, 0.6, 0.8), (0.5,))
    with pytest.raises(ValueError, match="stage must be one of"):
        entroformer.get_config("finetuning")


def test_init_from_kwargs_must_not_change_parameters(tmp_path):
    model = get("bmshj2018-factorized", N=8, M=8)
    save_model(tmp_path / "m", model, model.init(jax.random.PRNGKey(0), (1, 16, 16, 3)))
    c = ml_collections.ConfigDict({"init_from": str(tmp_path / "m"), "init_from_kwargs": {}})
    assert loop.build_model(c).kwargs == model.kwargs
    c.init_from_kwargs = {"M": 12}
    with pytest.raises(ValueError, match="init_from_kwargs .*do not fit") as e:
        loop.build_model(c)
    assert "\n" not in str(e.value)


def _small(c: ml_collections.ConfigDict, **kwargs) -> ml_collections.ConfigDict:
    with c.unlocked():
        c.model_kwargs = ml_collections.ConfigDict({**MODEL_KWARGS, "depth": 1, **kwargs})
        c.num_steps, c.batch_size, c.crop = 2, 2, 64
        c.log_every = c.checkpoint_every = 2
        c.tensorboard = c.progress_bar = False
        c.data.train, c.data.embedded_max_side = "embedded", 128
        c.eval.enabled = False
    return c


def _max_diff(a, b) -> float:
    return max(float(np.abs(np.asarray(x) - np.asarray(y)).max())
               for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


@pytest.mark.slow  # two Entroformer train steps to compile: 200 s on the loaded 2-core box
def test_pretrain_then_finetune(tmp_path):
    """2 token-mask pre-training steps, then 2 fine-tuning steps of two λ from that export (warm-up and
    step schedule on): the fine-tuned models start from the pre-trained weights and code without masks."""
    pre = _small(entroformer.get_config("pretrain"), token_mask_ratio=0.5)
    (path,) = loop.train(pre, tmp_path / "pre").values()
    pre_model, pre_params = load_model(path)
    assert pre_model.kwargs["token_mask_ratio"] == 0.5
    fine = _small(entroformer.get_config())
    with fine.unlocked():
        fine.init_from, fine.lambdas = str(path), (0.0067, 0.025)
        fine.lr_boundaries = (0.5,)  # four boundaries need at least 5 steps
    exports = loop.train(fine, tmp_path / "fine")
    fresh = pre_model.init(jax.random.PRNGKey(0), (1, 64, 64, 3))
    for lmbda in fine.lambdas:
        model, params = load_model(exports[lmbda])
        assert model.kwargs["token_mask_ratio"] == 0.0
        moved, far = _max_diff(params, pre_params), _max_diff(params, fresh)
        assert 0 < moved < 0.01 < far, (moved, far)
