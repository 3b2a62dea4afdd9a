"""Fine-tuning from given weights (`config.init_from`) and the honest report lines of a sweep."""

from __future__ import annotations

import hashlib
import io
import json

import jax
import numpy as np
import pytest

from jlic.codec.export import load_model, save_model
from jlic.evaluation import report as evaluate
from jlic.train import loop
from tests.train.test_loop import tiny_config


def _leaves(params):
    return [np.asarray(v) for v in jax.tree.leaves(params)]


def test_init_from_an_exported_model_starts_there(tmp_path):
    from jlic.models import registry

    model = registry.get("bmshj2018-factorized", 1, N=8, M=8)
    params = jax.tree.map(lambda a: np.asarray(a) + 0.01, model.init(jax.random.PRNGKey(3), (1, 16, 16, 3)))
    src = save_model(tmp_path / "src", model, params)
    cfg = tiny_config(init_from=str(src), num_steps=0, lambdas=(0.01,))
    cfg.model_kwargs = {"N": 4, "M": 4}  # ignored: the weights define the architecture
    out = loop.train(cfg, tmp_path / "run")
    got_model, got = load_model(out[0.01])
    assert got_model.kwargs["N"] == 8
    for a, b in zip(_leaves(got), _leaves(params), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.peers
@pytest.mark.slow
def test_init_from_pretrained_fine_tunes_served_weights(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    pytest.importorskip("compressai")
    from benchmarks.peers.compressai_models import make_compressai_model
    from jlic.interop.compressai import import_compressai
    from tests.interop.zoo_server import ZooServer

    net = make_compressai_model("bmshj2018-factorized")
    buf = io.BytesIO()
    torch.save(net.state_dict(), buf)
    data = buf.getvalue()
    fname = f"bmshj2018-factorized-2-{hashlib.sha256(data).hexdigest()[:8]}.pth.tar"
    server = ZooServer(files={f"/{fname}": data})
    try:
        index = tmp_path / "index.json"
        index.write_text(json.dumps({"bmshj2018-factorized": {"mse": {"2": f"{server.url}/{fname}"}}}))
        monkeypatch.setenv("JLIC_PRETRAINED_INDEX", str(index))
        monkeypatch.setenv("JLIC_CACHE", str(tmp_path / "cache"))
        cfg = tiny_config(init_from="pretrained:bmshj2018-factorized:2", num_steps=2, lambdas=(0.01,))
        out = loop.train(cfg, tmp_path / "run")
    finally:
        server.close()
    model, tuned = load_model(out[0.01])
    start = import_compressai("bmshj2018-factorized", net, 2).params
    assert model.kwargs["N"] == 16
    diffs = [float(np.abs(a - b).max()) for a, b in zip(_leaves(tuned), _leaves(start), strict=True)]
    assert 0 < max(diffs) < 0.05  # moved by two small steps from the imported weights, not re-initialized


def test_parse_init():
    from jlic.interop.pretrained import parse_init

    assert parse_init("pretrained:mbt2018:4") == ("mbt2018", 4, "mse")
    assert parse_init("pretrained:mbt2018:4:ms-ssim") == ("mbt2018", 4, "ms-ssim")
    with pytest.raises(ValueError, match="pretrained:NAME:QUALITY"):
        parse_init("pretrained:mbt2018")


def test_report_lines_mark_origin_and_what_a_short_run_shows():
    cfg = tiny_config(num_steps=1500, batch_size=8, crop=64)
    note = evaluate.short_run_note(cfg)
    assert "0.0492 Gpx" in note and "python -m jlic reproduce" in note and "train_equivalence" in note
    assert evaluate.short_run_note(tiny_config(init_from="pretrained:mbt2018:3")) is None
    assert evaluate.short_run_note(tiny_config(num_steps=10**6, batch_size=16, crop=256)) is None
    from jlic.evaluation import rdcurve

    anchor = rdcurve.RDCurve("JPEG", {"bpp": [0.1, 0.2], "psnr-rgb": [25.0, 27.0]})
    line = evaluate.curve_origins("mine", "trained here from scratch", [anchor], [])
    assert line == ("Curves: `mine`: trained here from scratch; "
                    "`JPEG`: imported (published numbers, not run here).")
    assert "zero-padded" in evaluate.convention_note("compressai")
    assert "edge-padded" in evaluate.convention_note("jlic")
