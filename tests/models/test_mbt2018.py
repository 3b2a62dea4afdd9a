import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jlic.entropy import gaussian
from jlic.models import get
from jlic.ops.masked import mask_taps


@pytest.fixture(scope="module")
def setup():
    model = get("mbt2018", N=8, M=12)
    params = model.init(jax.random.PRNGKey(0), (1, 64, 64, 3))
    return model, params, None


def test_sizes_and_compressai_names():
    assert get("mbt2018", 4).kwargs["M"] == 192 and get("mbt2018", 5).kwargs["M"] == 320
    assert get("mbt2018", 1).kwargs["N"] == 192
    m = get("mbt2018", 5)
    s = jax.eval_shape(lambda k: m.init(k, (1, 64, 64, 3)), jax.random.PRNGKey(0))
    assert s["context_prediction"]["kernel"].shape == (5, 5, 320, 640)
    assert s["entropy_parameters"]["layer_0"]["kernel"].shape == (1, 1, 1280, 1066)
    assert s["entropy_parameters"]["layer_2"]["kernel"].shape == (1, 1, 1066, 853)
    assert s["entropy_parameters"]["layer_4"]["kernel"].shape == (1, 1, 853, 640)
    assert s["h_s"]["layer_4"]["kernel"].shape == (3, 3, 480, 640)


def test_context_model_is_causal(setup):
    model, params, _ = setup
    y = jax.random.normal(jax.random.PRNGKey(1), (1, 6, 7, 12)) * 3
    hyper = jax.random.normal(jax.random.PRNGKey(2), (1, 6, 7, 24))
    s0, m0 = model.context_full(params, y, hyper)
    for h, w in [(2, 3), (0, 6), (5, 0)]:
        s1, m1 = model.context_full(params, y.at[0, h, w].add(7.0), hyper)
        changed = np.asarray(jnp.maximum(jnp.abs(s1 - s0), jnp.abs(m1 - m0)).max(-1)[0]) > 0
        past = np.array([[(i, j) <= (h, w) for j in range(7)] for i in range(6)])
        assert not changed[past].any()
        assert changed[~past].any()


def test_taps_path_matches_full_path(setup):
    """The coder's per-wavefront step (masked conv on gathered taps) gives the full pass's parameters."""
    model, params, _ = setup
    y = jax.random.normal(jax.random.PRNGKey(1), (1, 5, 6, 12)) * 3
    hyper = jax.random.normal(jax.random.PRNGKey(2), (1, 5, 6, 24))
    s, m = model.context_full(params, y, hyper)
    yp = np.pad(np.asarray(y[0]), ((2, 2), (2, 2), (0, 0)))
    pos = [(0, 0), (2, 3), (4, 5)]
    ii, jj = mask_taps(5, "A")
    taps = jnp.asarray(np.stack([yp[h:h + 5, w:w + 5][ii, jj] for h, w in pos]))
    table = jnp.asarray(gaussian.SCALE_TABLE)
    idx, mp = model.module.apply({"params": params}, taps, jnp.stack([hyper[0, h, w] for h, w in pos]), table,
                                 method=lambda mod, *a: mod.latent_codec.y.step(*a))
    np.testing.assert_array_equal(idx, gaussian.scale_index(np.stack([s[0, h, w] for h, w in pos]), table))
    np.testing.assert_allclose(mp, np.stack([m[0, h, w] for h, w in pos]), rtol=1e-4, atol=1e-5)
