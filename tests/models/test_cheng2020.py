import jax

from jlic.models import get, qualities


def test_qualities_and_compressai_layer_list():
    assert qualities("cheng2020-anchor") == list(range(1, 7)) == qualities("cheng2020-attn")
    assert [get("cheng2020-anchor", q).kwargs["N"] for q in range(1, 7)] == [128] * 3 + [192] * 3
    assert get("cheng2020-attn", 4).kwargs["M"] == 192
    m = get("cheng2020-attn", 1)
    s = jax.eval_shape(lambda k: m.init(k, (1, 64, 64, 3)), jax.random.PRNGKey(0))
    ga = s["g_a"]
    assert ga["layer_0"]["conv1"]["kernel"].shape == (3, 3, 3, 128)
    assert ga["layer_0"]["skip"]["kernel"].shape == (1, 1, 3, 128)
    assert "skip" not in ga["layer_1"] and ga["layer_6"]["kernel"].shape == (3, 3, 128, 128)
    assert ga["attn_1"]["conv_b_3"]["kernel"].shape == (1, 1, 128, 128)
    assert ga["attn_0"]["conv_a_0"]["layer_0"]["kernel"].shape == (1, 1, 128, 64)
    assert s["g_s"]["layer_1"]["upsample"]["conv"]["kernel"].shape == (3, 3, 128, 512)
    assert s["g_s"]["layer_7"]["conv"]["kernel"].shape == (3, 3, 128, 12)
    assert s["h_s"]["layer_8"]["kernel"].shape == (3, 3, 192, 256)
    assert s["h_a"]["layer_8"]["kernel"].shape == (3, 3, 128, 128)
    assert s["context_prediction"]["kernel"].shape == (5, 5, 128, 256)
    mix = get("cheng2020-anchor", 1, likelihood="mixture")
    s = jax.eval_shape(lambda k: mix.init(k, (1, 64, 64, 3)), jax.random.PRNGKey(0))
    assert s["entropy_parameters"]["layer_4"]["kernel"].shape == (1, 1, 341, 9 * 128)
    assert "attn_0" not in s["g_a"]
