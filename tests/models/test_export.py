import json

import jax
import pytest

from jlic.codec.export import load_model, save_model
from jlic.models import get


def test_export_round_trip_and_a_foreign_parameter_tree_fails_in_one_line(tmp_path):
    model = get("bmshj2018-hyperprior", N=8, M=12)
    params = model.init(jax.random.PRNGKey(0), (1, 64, 64, 3))
    out = save_model(tmp_path / "m", model, params)
    loaded, _ = load_model(out)
    assert loaded.kwargs == model.kwargs
    meta = json.loads((out / "model.json").read_text())
    meta["name"] = "mbt2018-mean"  # same N/M, other h_s widths
    (out / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="parameters do not fit model mbt2018-mean .*other shape: h_s"):
        load_model(out)
