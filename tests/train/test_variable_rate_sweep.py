"""`sweep_mode=variable_rate`: one model, one checkpoint, one RD curve; `compress --level / --lambda`."""

import json
from pathlib import Path

import jax
import numpy as np
import pytest
from PIL import Image
from test_loop import tiny_config as loop_tiny_config

from jlic.codec.export import load_model, save_model
from jlic.commands import coding as coding_cli
from jlic.entropy import bitstream
from jlic.models.variable_rate import VariableRateModel
from jlic.train import loop

LAMBDAS = (0.001, 0.1)


def tiny_config(**overrides):
    """test_loop's tiny factorized model as one variable-rate model, evaluated on one 48 px image."""
    c = loop_tiny_config(sweep_mode="variable_rate", lambdas=LAMBDAS, num_steps=3, log_every=3,
                         checkpoint_every=3)
    c.eval.enabled, c.eval.interpolate = True, 1
    c.eval.data, c.eval.limit, c.eval.max_side = "embedded:astronaut", 1, 48
    c.eval.live_codecs, c.eval.anchors = (), ""
    for k, v in overrides.items():
        c[k] = v
    return c


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    wd = tmp_path_factory.mktemp("vr")
    out = loop.train_and_evaluate(tiny_config(), wd)
    return wd, out


def test_sweep_writes_one_model_and_one_curve_with_interpolated_points(sweep):
    wd, out = sweep
    assert sorted(p.name for p in wd.iterdir() if (p / "model.json").exists()) == ["variable_rate"]
    assert set(out["exports"].values()) == {wd / "variable_rate"}
    model, _ = load_model(wd / "variable_rate")
    assert isinstance(model, VariableRateModel) and model.lambdas == LAMBDAS
    assert model.kwargs["base"] == "bmshj2018-factorized"
    recs = [json.loads(line) for line in (wd / "metrics.jsonl").read_text().splitlines()]
    assert {r["model"] for r in recs} == {"variable_rate"} and max(r["step"] for r in recs) == 3
    res = json.loads((wd / "rd.json").read_text())["results"]
    assert sorted(res["level"]) == [0.0, 0.5, 1.0]  # trained levels and one interpolated between them
    assert sorted(res["lambda"])[::2] == list(LAMBDAS)
    assert all(b > 0 for b in res["bpp"]) and all(np.isfinite(res["psnr-rgb"]))
    report = (wd / "report.md").read_text()
    assert len([line for line in report.splitlines() if line.startswith("| 0.")]) == 3
    assert (wd / "rd.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_level_and_lambda(sweep, tmp_path, capsys):
    wd, _ = sweep
    ckpt = str(wd / "variable_rate")
    src = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (24, 40, 3)).astype(np.uint8)).save(src)
    sizes = {}
    for flag, value, level in (("--level", "0.5", 0.5), ("--lambda", "0.1", 1.0), ("--level", "0", 0.0)):
        out = tmp_path / f"{flag}{value}.jlic"
        assert coding_cli.compress_main(["--checkpoint", ckpt, flag, value, str(src), str(out)]) == 0
        assert f"level {level:g}" in capsys.readouterr().out
        c = bitstream.unpack(out.read_bytes())
        assert np.frombuffer(c.extensions["rate_level"], "<f8")[0] == level
        assert coding_cli.decompress_main(["--checkpoint", ckpt, str(out), str(tmp_path / "o.png")]) == 0
        assert np.asarray(Image.open(tmp_path / "o.png")).shape == (24, 40, 3)
        sizes[level] = out.stat().st_size
    fixed_model, fixed_params = load_model(ckpt)
    save_model(tmp_path / "fixed", fixed_model.base, {k: v for k, v in fixed_params.items() if "vr_" not in k})
    for argv, match in ((["--level", "1.5"], "outside 0..1"), (["--lambda", "0.5"], "outside the trained"),
                        (["--level", "nan"], "outside")):
        assert coding_cli.compress_main(["--checkpoint", ckpt, *argv, str(src), str(tmp_path / "x.jlic")]) == 2
        err = capsys.readouterr().err
        assert match in err and err.count("\n") == 1, err
    with pytest.raises(SystemExit) as e:  # argparse: both flags at once
        coding_cli.compress_main(["--checkpoint", ckpt, "--level", "1", "--lambda", "0.1", str(src), "x.jlic"])
    assert e.value.code == 2 and "not allowed with" in capsys.readouterr().err
    assert not (tmp_path / "x.jlic").exists()
    assert coding_cli.compress_main(["--checkpoint", str(tmp_path / "fixed"), "--level", "1", str(src),
                                     str(tmp_path / "x.jlic")]) == 2
    assert "need a variable-rate checkpoint" in capsys.readouterr().err


@pytest.mark.slow
def test_variable_rate_resumes(tmp_path):
    """A killed variable-rate run resumes from its checkpoint to the same parameters."""
    loop.train(tiny_config(num_steps=2, checkpoint_every=2, eval={"enabled": False}), tmp_path / "a")
    loop.train(tiny_config(num_steps=4, checkpoint_every=2, eval={"enabled": False}), tmp_path / "a")
    loop.train(tiny_config(num_steps=4, checkpoint_every=2, eval={"enabled": False}), tmp_path / "b")
    pa, pb = (load_model(Path(tmp_path) / w / "variable_rate")[1] for w in ("a", "b"))
    for x, y in zip(jax.tree.leaves(pa), jax.tree.leaves(pb), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-6, atol=1e-7)


@pytest.mark.slow
def test_variable_rate_fine_tunes_from_fixed_rate_weights(tmp_path):
    """`init_from` a fixed-rate export: its weights plus initial gains, then one variable-rate model."""
    from jlic.models import registry

    base = registry.get("bmshj2018-factorized", quality=1, N=8, M=8)
    params = base.init(jax.random.key(7), (1, 16, 16, 3))
    save_model(tmp_path / "fixed", base, params)
    cfg = tiny_config(num_steps=1, init_from=str(tmp_path / "fixed"), eval={"enabled": False})
    loop.train(cfg, tmp_path / "w")
    model, tuned = load_model(tmp_path / "w" / "variable_rate")
    assert isinstance(model, VariableRateModel) and "vr_log_gain" in tuned
    moved = [float(np.max(np.abs(np.asarray(tuned["g_a"][k]["kernel"]) - np.asarray(v["kernel"]))))
             for k, v in params["g_a"].items() if "kernel" in v]
    assert moved and max(moved) < 0.05  # one step from the fixed-rate weights, not a fresh init
