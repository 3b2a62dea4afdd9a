import jax
import numpy as np
import pytest

from jlic.latent_codecs import anchor_mask
from jlic.models import get


@pytest.fixture(scope="module")
def setup():
    model = get("he2021-checkerboard", N=8, M=12)
    params = model.init(jax.random.PRNGKey(0), (1, 64, 64, 3))
    return model, params


def test_registry_and_layers():
    m = get("he2021-checkerboard", 5)
    assert m.kwargs["M"] == 320
    s = jax.eval_shape(lambda k: m.init(k, (1, 64, 64, 3)), jax.random.PRNGKey(0))
    assert s["context_prediction"]["kernel"].shape == (5, 5, 320, 640)
    assert s["entropy_parameters"]["layer_4"]["kernel"].shape == (1, 1, 853, 640)


def test_anchor_parity():
    even, odd = anchor_mask(3, 4), anchor_mask(3, 4, "odd")
    assert even[0, 0] and not even[0, 1] and even[1, 1] and np.array_equal(odd, ~even)
    with pytest.raises(ValueError, match="parity"):
        anchor_mask(2, 2, "diagonal")


def test_anchors_use_only_the_hyperprior_and_non_anchors_only_anchors(setup):
    model, params = setup
    y = jax.random.normal(jax.random.PRNGKey(1), (1, 6, 7, 12)) * 3
    hyper = jax.random.normal(jax.random.PRNGKey(2), (1, 6, 7, 24))
    anchor = anchor_mask(6, 7)

    def pass_params(y):
        return np.asarray(model.module.apply({"params": params}, y, hyper,
                                             method=lambda m, *a: m.latent_codec.y.pass_params(*a)))

    p0 = pass_params(y)

    def changed(y2):
        return np.abs(pass_params(y2) - p0).max(-1)[0] > 0

    # Changing a non-anchor latent changes nothing; changing an anchor changes only non-anchor neighbours.
    assert not changed(y.at[0, 2, 3].add(9.0)).any() and not anchor[2, 3]
    c = changed(y.at[0, 2, 2].add(9.0))
    assert anchor[2, 2] and c.any() and not c[anchor].any()
    assert c[2, 3] and c[1, 2] and not c[5, 0]
