from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jlic.coding import codec
from jlic.entropy.context.passes import ChannelwiseLatents
from jlic.models import get

DATA = Path(__file__).parents[2] / ".." / "shared" / "data"
SMALL = {"N": 8, "M": 12, "num_slices": 3, "max_support_slices": 2, "hidden": (16, 12)}


def crop(h=64, w=96):
    path = DATA / "kodak" / "kodim05.png"
    if path.exists():
        return np.asarray(Image.open(path).convert("RGB"))[200:200 + h, 300:300 + w]
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([np.sin(yy / 7.0), np.cos(xx / 5.0), np.sin((xx + yy) / 9.0)], -1)
    return (img * 100 + 128).astype(np.uint8)


@pytest.fixture(scope="module")
def setup():
    model = get("minnen2020-channelwise", **SMALL)
    params = model.init(jax.random.PRNGKey(0), (1, 64, 64, 3))
    return model, params, codec.Codec(model, params)


def test_registry_and_slice_layers():
    m = get("minnen2020-channelwise", 3)
    assert (m.kwargs["N"], m.kwargs["M"], m.module.num_slices) == (192, 320, 10)
    s = jax.eval_shape(lambda k: m.init(k, (1, 64, 64, 3)), jax.random.PRNGKey(0))
    assert s["cc_mean_transforms_0"]["layer_0"]["kernel"].shape == (3, 3, 320, 224)
    assert s["cc_mean_transforms_9"]["layer_0"]["kernel"].shape == (3, 3, 320 + 5 * 32, 224)
    assert s["lrp_transforms_2"]["layer_0"]["kernel"].shape == (3, 3, 320 + 3 * 32, 224)
    assert s["cc_scale_transforms_4"]["layer_4"]["kernel"].shape == (3, 3, 128, 32)
    with pytest.raises(ValueError, match="multiple"):
        get("minnen2020-channelwise", N=8, M=10, num_slices=3).init(jax.random.PRNGKey(0), (1, 64, 64, 3))


def test_slice_parameters_depend_only_on_earlier_slices(setup):
    model, params, _ = setup
    hyper = jax.random.normal(jax.random.PRNGKey(2), (1, 4, 5, 24))
    y = jax.random.normal(jax.random.PRNGKey(1), (1, 4, 5, 12)) * 3
    for i in range(3):
        s0, m0 = model.slice_params(params, hyper, y[..., : 4 * i], i)
        later = y.at[..., 4 * i:].add(5.0)
        s1, m1 = model.slice_params(params, hyper, later[..., : 4 * i], i)
        np.testing.assert_array_equal(s0, s1)
        np.testing.assert_array_equal(m0, m1)
        lrp = model.slice_lrp(params, hyper, y[..., : 4 * (i + 1)], i)
        assert lrp.shape == (1, 4, 5, 4) and float(jnp.abs(lrp).max()) <= 0.5
    # slice 2 does see slice 0 (support) ...
    s0, _ = model.slice_params(params, hyper, y[..., :8], 2)
    s1, _ = model.slice_params(params, hyper, y.at[..., :4].add(5.0)[..., :8], 2)
    assert not np.array_equal(s0, s1)


def test_round_trip_on_a_real_image_is_exact(setup):
    model, params, c = setup
    img = crop()
    data, latents = c.compress_with_latents(img)
    _, decoded = c.decompress_latents(data)
    for key in ("z", "y", "y_hat"):
        np.testing.assert_array_equal(decoded[key], latents[key], err_msg=key)
    # y_hat = round(y - mu) + mu + lrp with |lrp| <= 1/2
    y = np.asarray(model.analysis(params, c.pad(img)[0]))
    assert np.abs(latents["y_hat"] - y).max() <= 1.0 + 1e-4
    assert c.decompress(data).shape == img.shape


@pytest.mark.slow
def test_decoder_without_jit_gets_the_same_latents(setup):
    model, params, c = setup
    data, latents = c.compress_with_latents(crop(40, 70))
    c2 = codec.Codec(model, params, c.tables)
    c2.latent_codec = ChannelwiseLatents(model, jit=False)
    _, decoded = c2.decompress_latents(data)
    np.testing.assert_array_equal(decoded["y"], latents["y"])
