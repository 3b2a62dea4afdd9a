import json

import jax
import numpy as np
import pytest

from jlic.codec.export import load_model, save_model
from jlic.models import get
from tests.codec.fast_params import fast_params


def test_export_round_trip_and_a_foreign_parameter_tree_fails_in_one_line(tmp_path):
    """save_model then load_model gives the same model (name, kwargs) and every parameter bit for bit; an
    export whose parameters do not fit its model.json is refused in one line naming the mismatch."""
    model = get("bmshj2018-hyperprior", N=8, M=12)
    params = fast_params(model, seed=3)
    out = save_model(tmp_path / "m", model, params)
    loaded, loaded_params = load_model(out)
    assert loaded.name == model.name and loaded.kwargs == model.kwargs
    assert jax.tree.structure(loaded_params) == jax.tree.structure(params)
    jax.tree.map(np.testing.assert_array_equal, loaded_params, params)
    meta = json.loads((out / "model.json").read_text())
    meta["name"] = "mbt2018-mean"  # same N/M, other h_s widths
    (out / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="parameters do not fit model mbt2018-mean .*other shape: h_s") as info:
        load_model(out)
    assert "\n" not in str(info.value)
