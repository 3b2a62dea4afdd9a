from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jlic.coding import codec
from jlic.entropy.context.autoregressive import AutoregressiveLatents
from jlic.models import get
from jlic.ops.masked import mask_taps

DATA = Path(__file__).parents[2] / ".." / "shared" / "data"


def crop(h=64, w=96, name="kodim23.png"):
    """A crop of a real Kodak image, or a smooth synthetic image when the data is absent."""
    path = DATA / "kodak" / name
    if path.exists():
        return np.asarray(Image.open(path).convert("RGB"))[100:100 + h, 200:200 + w]
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([np.sin(yy / 7.0), np.cos(xx / 5.0), np.sin((xx + yy) / 9.0)], -1)
    return (img * 100 + 128).astype(np.uint8)


@pytest.fixture(scope="module")
def setup():
    model = get("mbt2018", N=8, M=12)
    params = model.init(jax.random.PRNGKey(0), (1, 64, 64, 3))
    return model, params, codec.Codec(model, params)


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


def test_patch_path_matches_full_path(setup):
    model, params, _ = setup
    y = jax.random.normal(jax.random.PRNGKey(1), (1, 5, 6, 12)) * 3
    hyper = jax.random.normal(jax.random.PRNGKey(2), (1, 5, 6, 24))
    s, m = model.context_full(params, y, hyper)
    yp = np.pad(np.asarray(y[0]), ((2, 2), (2, 2), (0, 0)))
    pos = [(0, 0), (2, 3), (4, 5)]
    ii, jj = mask_taps(5, "A")
    taps = jnp.asarray(np.stack([yp[h:h + 5, w:w + 5][ii, jj] for h, w in pos]))
    sp, mp = model.context_params(params, taps, jnp.stack([hyper[0, h, w] for h, w in pos]))
    np.testing.assert_allclose(sp, np.stack([s[0, h, w] for h, w in pos]), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(mp, np.stack([m[0, h, w] for h, w in pos]), rtol=1e-4, atol=1e-5)


def test_round_trip_on_a_real_image_is_exact(setup):
    model, params, c = setup
    img = crop()
    data, latents = c.compress_with_latents(img)
    _, decoded = c.decompress_latents(data)
    for key in ("z", "y", "y_hat"):
        np.testing.assert_array_equal(decoded[key], latents[key], err_msg=key)
    # The coded y is round(y - mu) + mu with mu from the decoded causal context: close to the analysis.
    y = np.asarray(model.analysis(params, c.pad(img)[0]))
    assert np.abs(latents["y_hat"] - y).max() <= 0.5 + 1e-4
    out = c.decompress(data)
    assert out.shape == img.shape and out.dtype == np.uint8


def test_decoder_with_other_batch_and_without_jit_gets_the_same_latents(setup):
    model, params, c = setup
    img = crop(40, 70)
    data, latents = c.compress_with_latents(img)
    for other in (AutoregressiveLatents(model, batch=2), AutoregressiveLatents(model, jit=False)):
        c2 = codec.Codec(model, params, c.tables)
        c2.latent_codec = other
        _, decoded = c2.decompress_latents(data)
        np.testing.assert_array_equal(decoded["y"], latents["y"])
        np.testing.assert_array_equal(decoded["z"], latents["z"])


def test_real_bits_close_to_the_estimate_and_context_used(setup):
    model, params, c = setup
    img = crop()
    data = c.compress(img)
    out = model.apply(params, img[None].astype(np.float32) / 255, train=False)
    est = sum(float(-jnp.log2(v).sum()) for v in out.likelihoods.values())
    assert len(data) * 8 < 1.3 * est + 8 * 200
