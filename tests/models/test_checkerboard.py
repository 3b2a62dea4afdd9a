from pathlib import Path

import jax
import numpy as np
import pytest
from PIL import Image

from jlic.coding import codec
from jlic.entropy.context.passes import CheckerboardLatents
from jlic.models import get
from jlic.models.checkerboard import anchor_mask

DATA = Path(__file__).parents[2] / ".." / "shared" / "data"


def crop(h=64, w=96):
    path = DATA / "kodak" / "kodim19.png"
    if path.exists():
        return np.asarray(Image.open(path).convert("RGB"))[300:300 + h, 100:100 + w]
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([np.sin(yy / 7.0), np.cos(xx / 5.0), np.sin((xx + yy) / 9.0)], -1)
    return (img * 100 + 128).astype(np.uint8)


@pytest.fixture(scope="module")
def setup():
    model = get("he2021-checkerboard", N=8, M=12)
    params = model.init(jax.random.PRNGKey(0), (1, 64, 64, 3))
    return model, params, codec.Codec(model, params)


def test_registry_and_layers():
    m = get("he2021-checkerboard", 5)
    assert m.kwargs["M"] == 320
    s = jax.eval_shape(lambda k: m.init(k, (1, 64, 64, 3)), jax.random.PRNGKey(0))
    assert s["context_prediction"]["kernel"].shape == (5, 5, 320, 640)
    assert s["entropy_parameters"]["layer_4"]["kernel"].shape == (1, 1, 853, 640)


def test_anchors_use_only_the_hyperprior_and_non_anchors_only_anchors(setup):
    model, params, _ = setup
    y = jax.random.normal(jax.random.PRNGKey(1), (1, 6, 7, 12)) * 3
    hyper = jax.random.normal(jax.random.PRNGKey(2), (1, 6, 7, 24))
    anchor = anchor_mask(6, 7)[..., 0].astype(bool)
    s0, m0 = map(np.asarray, model.checkerboard_params(params, y, hyper))

    def changed(y2):
        s1, m1 = map(np.asarray, model.checkerboard_params(params, y2, hyper))
        return np.maximum(np.abs(s1 - s0), np.abs(m1 - m0)).max(-1)[0] > 0

    # Changing a non-anchor latent changes nothing; changing an anchor changes only non-anchor neighbours.
    assert not changed(y.at[0, 2, 3].add(9.0)).any() and not anchor[2, 3]
    c = changed(y.at[0, 2, 2].add(9.0))
    assert anchor[2, 2] and c.any() and not c[anchor].any()
    assert c[2, 3] and c[1, 2] and not c[5, 0]


def test_round_trip_on_a_real_image_is_exact(setup):
    model, params, c = setup
    img = crop()
    data, latents = c.compress_with_latents(img)
    _, decoded = c.decompress_latents(data)
    for key in ("z", "y", "y_hat"):
        np.testing.assert_array_equal(decoded[key], latents[key], err_msg=key)
    y = np.asarray(model.analysis(params, c.pad(img)[0]))
    assert np.abs(latents["y_hat"] - y).max() <= 0.5 + 1e-4
    assert c.decompress(data).shape == img.shape


@pytest.mark.slow
def test_decoder_without_jit_gets_the_same_latents(setup):
    model, params, c = setup
    data, latents = c.compress_with_latents(crop(40, 70))
    c2 = codec.Codec(model, params, c.tables)
    c2.latent_codec = CheckerboardLatents(model, jit=False)
    _, decoded = c2.decompress_latents(data)
    np.testing.assert_array_equal(decoded["y"], latents["y"])
