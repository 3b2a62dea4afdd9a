import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jlic.models import get

SMALL = {"N": 8, "M": 12, "num_slices": 3, "max_support_slices": 2, "hidden": (16, 12)}


@pytest.fixture(scope="module")
def setup():
    model = get("minnen2020-channelwise", **SMALL)
    params = model.init(jax.random.PRNGKey(0), (1, 64, 64, 3))
    return model, params, None


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


def slice_params(model, params, i, prev, hyper):
    return np.asarray(model.module.apply({"params": params}, i, prev, hyper, method="slice_params"))


def test_slice_parameters_depend_only_on_earlier_slices(setup):
    model, params, _ = setup
    hyper = jax.random.normal(jax.random.PRNGKey(2), (1, 4, 5, 24))
    y = jax.random.normal(jax.random.PRNGKey(1), (1, 4, 5, 12)) * 3
    for i in range(3):
        p0 = slice_params(model, params, i, y[..., : 4 * i], hyper)
        later = y.at[..., 4 * i:].add(5.0)
        np.testing.assert_array_equal(p0, slice_params(model, params, i, later[..., : 4 * i], hyper))
        lrp = model.module.apply({"params": params}, i, y[..., : 4 * i], hyper, y[..., 4 * i: 4 * (i + 1)],
                                 method="slice_lrp")
        assert lrp.shape == (1, 4, 5, 4) and float(jnp.abs(lrp).max()) <= 0.5
    # slice 2 does see slice 0 (support) ...
    p0 = slice_params(model, params, 2, y[..., :8], hyper)
    assert not np.array_equal(p0, slice_params(model, params, 2, y.at[..., :4].add(5.0)[..., :8], hyper))
