"""Every registered model has a config in experiments/configs/ that loads, names real anchors and builds."""

import importlib
import json
from pathlib import Path

import ml_collections
import numpy as np
import pytest

from jlic.models import registry

ROOT = Path(__file__).parents[2]
CONFIGS = sorted(p.stem for p in (ROOT / "experiments" / "configs").glob("*.py") if p.stem != "__init__")
ANCHORS = ROOT / ".." / "shared" / "reference" / "kodak-rd"
CONTEXT_CONFIGS = ("mbt2018", "he2021_checkerboard", "minnen2020_channelwise", "cheng2020_anchor",
                   "cheng2020_attn")


def _config(stem: str) -> ml_collections.ConfigDict:
    return importlib.import_module(f"experiments.configs.{stem}").get_config()


def test_every_registered_model_has_a_config():
    models = {_config(stem).model for stem in CONFIGS}
    if any(_config(stem).get("sweep_mode") == "variable_rate" for stem in CONFIGS):
        models.add("variable-rate")  # the wrapper over a registered model that sweep_mode trains
    models.add("kamisli2024-vbr")  # CompressAI's *-vbr weights, imported (jlic.interop.compressai_vbr)
    assert set(registry.names()) <= models, set(registry.names()) - models


@pytest.mark.parametrize("stem", CONFIGS)
def test_config_loads_and_builds(stem):
    c = _config(stem)
    doc = importlib.import_module(f"experiments.configs.{stem}").__doc__
    assert "python -m experiments.sweep" in doc  # the exact command
    assert stem == "default" or "arXiv" in doc  # the paper the architecture comes from
    assert len(c.lambdas) >= 2 and list(c.lambdas) == sorted(c.lambdas)
    if c.get("overfit"):  # overfitted per-image codecs: a preset of jlic.models.coolchic, not a registry model
        from jlic.models import coolchic

        assert coolchic.get_config(c.model, **dict(c.model_kwargs)).num_grids >= 1
    else:
        model = registry.get(c.model, c.quality, **dict(c.model_kwargs))
        assert model.name == c.model
    if ANCHORS.is_dir():
        missing = [n for n in c.eval.anchor_names if not (ANCHORS / f"{n}.json").is_file()]
        assert not missing, missing


@pytest.mark.slow
@pytest.mark.parametrize("stem", CONTEXT_CONFIGS)
def test_context_config_runs(stem, tmp_path):
    """A CPU-sized copy of each context-model config trains, exports and evaluates with real bytes."""
    from jlic.train.loop import train_and_evaluate

    c = _config(stem)
    with c.unlocked():
        small = {"N": 16, "M": 20} if stem == "minnen2020_channelwise" else {"N": 16, "M": 16}
        if stem == "minnen2020_channelwise":
            small["hidden"] = (16, 16)
        c.model_kwargs = ml_collections.ConfigDict(small)
        c.lambdas = (0.001, 0.05)
        c.num_steps, c.batch_size, c.crop, c.lr = 20, 2, 64, 1e-3
        c.log_every = c.checkpoint_every = 10
        c.progress_bar = False
        c.data.train = "embedded"
        c.data.embedded_max_side = 128
        c.eval.data, c.eval.limit, c.eval.max_side = "embedded:astronaut", 1, 96
        c.eval.live_codecs = ()
    train_and_evaluate(c, tmp_path)
    rd = json.loads((tmp_path / "rd.json").read_text())["results"]
    assert len(rd["bpp"]) == 2 and all(np.isfinite(rd["bpp"])) and all(b > 0 for b in rd["bpp"])
    assert (tmp_path / "report.md").is_file() and (tmp_path / "rd.png").stat().st_size > 5000


def test_missing_anchors_warn_not_fail(tmp_path):
    from jlic.evaluation.report import load_anchors

    with pytest.warns(UserWarning, match="not found"):
        assert load_anchors(tmp_path / "nowhere", ("jpeg",)) == []
    if ANCHORS.is_dir():
        with pytest.warns(UserWarning, match="has no no-such-anchor"):
            got = load_anchors(ANCHORS, ("jpeg", "no-such-anchor"))
        assert [c.name for c in got] and len(got) == 1


@pytest.mark.slow
@pytest.mark.parametrize("stem", ["elic2022_cpu", "mlicpp_cpu"])
def test_cpu_config_runs(tmp_path, stem):
    """The CPU-sized ELIC config (its own small N/M, scaled groups) and MLIC++ config (10 slices x 2 passes)
    train, export and evaluate with real bytes, shortened to 20 steps."""
    from jlic.train.loop import train_and_evaluate

    c = _config(stem)
    with c.unlocked():
        c.lambdas = (0.001, 0.05)
        c.num_steps, c.batch_size = 20, 2
        c.log_every = c.checkpoint_every = 10
        c.progress_bar = False
        c.data.embedded_max_side = 128
        c.eval.data, c.eval.limit, c.eval.max_side = "embedded:astronaut", 1, 128
        c.eval.live_codecs = ()
    train_and_evaluate(c, tmp_path)
    rd = json.loads((tmp_path / "rd.json").read_text())["results"]
    assert len(rd["bpp"]) == 2 and all(np.isfinite(rd["bpp"])) and all(b > 0 for b in rd["bpp"])
