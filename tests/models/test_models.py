import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jlic.codec import codec
from jlic.models import get, names, qualities
from jlic.models.base import crop_image, pad_image
from tests.codec.fast_params import fast_params, scaled_last_layers

SMALL = {"N": 16, "M": 24}
BASE_MODELS = ["bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018-mean"]


def test_registry_has_published_models_and_sizes():
    assert set(BASE_MODELS) <= set(names())
    assert qualities("bmshj2018-hyperprior") == list(range(1, 9))
    assert get("bmshj2018-hyperprior", 5).kwargs["N"] == 128
    assert get("bmshj2018-hyperprior", 6).kwargs["M"] == 320
    assert get("mbt2018-mean", 5).kwargs["M"] == 320
    with pytest.raises(KeyError, match="unknown model"):
        get("nope")
    with pytest.raises(ValueError, match="qualities"):
        get("mbt2018-mean", 9)


def test_layer_shapes_follow_the_paper():
    m = get("mbt2018-mean", 1)
    shapes = jax.eval_shape(lambda k: m.init(k, (1, 64, 64, 3)), jax.random.PRNGKey(0))
    assert shapes["g_a"]["layer_0"]["kernel"].shape == (5, 5, 3, 128)
    assert shapes["g_a"]["layer_6"]["kernel"].shape == (5, 5, 128, 192)
    assert shapes["g_s"]["layer_6"]["kernel"].shape == (5, 5, 128, 3)
    assert shapes["h_a"]["layer_0"]["kernel"].shape == (3, 3, 192, 128)
    assert shapes["h_s"]["layer_2"]["kernel"].shape == (5, 5, 192, 288)
    assert shapes["h_s"]["layer_4"]["kernel"].shape == (3, 3, 288, 384)
    assert shapes["g_a"]["layer_1"]["gamma"].shape == (128, 128)
    assert shapes["entropy_bottleneck"]["matrix_1"].shape == (128, 3, 3)


@pytest.mark.parametrize("name", BASE_MODELS)
def test_odd_sizes_are_padded_and_cropped(name):
    m = get(name, 1, **SMALL)
    params = m.init(jax.random.PRNGKey(0), (1, 64, 64, 3))
    x = jax.random.uniform(jax.random.PRNGKey(1), (1, 97, 131, 3))
    for train in (True, False):
        out = m.apply(params, x, train=train, rng=jax.random.PRNGKey(2))
        assert out.x_hat.shape == x.shape
        stride_y = 16
        assert out.likelihoods["y"].shape[1:3] == (-(-97 // m.stride) * m.stride // stride_y,
                                                  -(-131 // m.stride) * m.stride // stride_y)
        for lik in out.likelihoods.values():
            assert bool(jnp.all((lik > 0) & (lik <= 1)))
    with pytest.raises(ValueError, match="rng"):
        m.apply(params, x, train=True)


# mbt2018-mean exercises every layer type of the other two; their gradient checks run with `pytest -m slow`.
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n != "mbt2018-mean" else n
                                  for n in BASE_MODELS])
def test_gradients_finite(name):
    m = get(name, 1, **SMALL)
    params = m.init(jax.random.PRNGKey(0), (1, 64, 64, 3))
    x = jax.random.uniform(jax.random.PRNGKey(1), (2, 64, 64, 3))

    def loss(p):
        out = m.apply(p, x, train=True, rng=jax.random.PRNGKey(3))
        bits = sum(-jnp.sum(jnp.log2(v)) for v in out.likelihoods.values())
        return bits / x.size + jnp.mean((out.x_hat - x) ** 2) + m.aux_loss(p)

    grads = jax.grad(loss)(params)
    leaves = jax.tree_util.tree_leaves(grads)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in leaves)
    assert sum(float(jnp.sum(jnp.abs(g))) for g in jax.tree_util.tree_leaves(grads["g_a"])) > 0


def test_eval_mode_rounds_latents_around_means():
    m = get("mbt2018-mean", 1, **SMALL)
    params = m.init(jax.random.PRNGKey(0), (1, 64, 64, 3))
    x = jax.random.uniform(jax.random.PRNGKey(1), (1, 64, 64, 3))
    y = m.analysis(params, x)
    z = m.hyper_analysis(params, y)
    from jlic.entropy import factorized, gaussian

    med = factorized.medians(params["entropy_bottleneck"])
    z_hat = jnp.round(z - med) + med
    scales, means = m.hyper_synthesis(params, z_hat)
    y_hat = jnp.round(y - means) + means
    out = m.apply(params, x, train=False)
    np.testing.assert_allclose(out.likelihoods["y"], gaussian.likelihood(y_hat, scales, means), rtol=1e-5)
    np.testing.assert_allclose(out.x_hat, m.synthesis(params, y_hat), rtol=1e-4, atol=1e-5)


def test_pad_crop_roundtrip():
    x = jnp.arange(1 * 7 * 5 * 3, dtype=jnp.float32).reshape(1, 7, 5, 3)
    xp, pads = pad_image(x, 64)
    assert xp.shape == (1, 64, 64, 3)
    np.testing.assert_array_equal(crop_image(xp, pads), x)


CONTEXT_MODELS = {
    "mbt2018": {"N": 8, "M": 12},
    "he2021-checkerboard": {"N": 8, "M": 12},
    "minnen2020-channelwise": {"N": 8, "M": 12, "num_slices": 3, "max_support_slices": 2, "hidden": (16, 12)},
    "cheng2020-anchor": {"N": 8, "M": 8},
}


@pytest.mark.parametrize("name", [*CONTEXT_MODELS, pytest.param("cheng2020-mixture", marks=pytest.mark.slow)])
def test_context_models_code_a_real_crop_exactly(name):
    """The registered composition end to end (the codecs themselves: tests/latent_codecs/test_contract.py):
    a Kodak crop's nonzero symbols decode bit for bit. Params: built leaf by leaf (no training-graph compile),
    g_a / h_a's last layers scaled so that y is not all zeros."""
    kw = {"likelihood": "mixture", "N": 8, "M": 8} if name == "cheng2020-mixture" else CONTEXT_MODELS[name]
    model = get(name.replace("-mixture", "-anchor"), **kw)
    params = scaled_last_layers(fast_params(model), g_a=30.0, h_a=3.0)
    c = codec.Codec(model, params)
    img = _kodak_crop(64, 96)
    data, latents = c.compress_with_latents(img)
    assert np.count_nonzero(latents["y"]) > latents["y"].size // 4, np.count_nonzero(latents["y"])
    _, decoded = c.decompress_latents(data)
    assert set(decoded) == set(latents) == {"y", "z", "y_hat"}
    for key in latents:
        np.testing.assert_array_equal(decoded[key], latents[key], err_msg=key)
    assert c.decompress(data).shape == img.shape


def _kodak_crop(h, w):
    from pathlib import Path

    from PIL import Image

    path = Path(__file__).parents[2] / ".." / "shared" / "data" / "kodak" / "kodim23.png"
    if path.exists():
        return np.asarray(Image.open(path).convert("RGB"))[100:100 + h, 200:200 + w]
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([np.sin(yy / 7.0), np.cos(xx / 5.0), np.sin((xx + yy) / 9.0)], -1)
    return (img * 100 + 128).astype(np.uint8)
