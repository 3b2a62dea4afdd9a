"""Entroformer (arXiv 2202.05492) on jlic's latent codecs: sizes, causality of both checkerboard passes,
bit-exact coding of a real Kodak crop, and a short real training run (CPU config)."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from experiments.configs.entroformer_cpu import MODEL_KWARGS
from jlic.codec import codec
from jlic.entropy import bitstream
from jlic.latent_codecs import anchor_mask
from jlic.models import entroformer as E
from jlic.models import get
from tests.codec.fast_params import fast_params

KODAK = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "kodak"
BSDS = KODAK.parent / "bsds200"


def _kodak_crop(name: str = "kodim23.png", size: tuple[int, int] = (128, 128)) -> np.ndarray:
    if not KODAK.is_dir():
        pytest.skip("needs ../shared/data/kodak")
    im = np.asarray(Image.open(KODAK / name).convert("RGB"))
    t, left = (im.shape[0] - size[0]) // 2, (im.shape[1] - size[1]) // 2
    return im[t:t + size[0], left:left + size[1]]


@pytest.fixture(scope="module")
def cpu_model():
    model = get("entroformer", **MODEL_KWARGS)
    params = fast_params(model, shape=(1, 128, 128, 3))
    # Random transforms give latents near 0 (std 0.06 on the crop): spread them to std ~3, and start the
    # predicted scales near 3 (small parameter-network weights, bias 3 on the scale channels), so coding is
    # not trivial and almost no latent falls into the coding tables' tails (as tests/latent_codecs).
    g_a = dict(params["g_a"])
    g_a["layer_6"] = {k: v * 50.0 for k, v in g_a["layer_6"].items()}
    m = MODEL_KWARGS["M"]
    pn = dict(params["entropy_parameters"])
    pn["layer_2"] = {"kernel": pn["layer_2"]["kernel"] * 0.05,
                     "bias": jnp.zeros(2 * m).at[:m].set(3.0)}
    return model, {**params, "g_a": g_a, "entropy_parameters": pn}


# ------------------------------------------------------------------------------------------------ sizes


def official_count(C=192, S=384, Z=192, D=384, depth=6, heads=6, dh=64, r=4, pn=7, scale=2) -> dict[str, int]:
    """Parameters of the official code's modules (damo-cv/entroformer, `--na bidirectional`), from its layer
    list: Balle2Encoder/Decoder (GDN), TransHyperScale down/up, TransDecoder2, the parameter network."""
    conv = lambda i, o, k: i * o * k * k + o  # noqa: E731
    lin = lambda i, o: i * o + o  # noqa: E731
    gdn = C * C + C
    block = D * 3 * heads * dh + heads * dh * D + 2 * 2 * D + lin(D, D * r) + lin(D * r, D)
    per_stage = depth // 2 // (scale + 1)
    tables = sum(n * n for n in E.hyper_position_nums(pn, scale + 1)) * dh
    return {
        "g_a": conv(3, C, 5) + 2 * conv(C, C, 5) + conv(C, S, 5) + 3 * gdn,
        "g_s": conv(S, C, 5) + 2 * conv(C, C, 5) + conv(C, 3, 5) + 3 * gdn,
        "h_a": lin(S, D) + (scale + 1) * per_stage * block + tables + scale * conv(D, D, 3) + 2 * D + lin(D, Z),
        "h_s": lin(Z, D) + (scale + 1) * per_stage * block + tables + scale * conv(D, 4 * D, 3),
        "context_prediction": lin(S, D) + depth * block + pn * pn * dh,
        "entropy_parameters": conv(2 * D, D * r, 1) + conv(D * r, 2 * S, 1),
    }


def test_full_size_parameter_count():
    model = get("entroformer")  # the registered defaults are the paper's sizes
    assert {k: model.kwargs[k] for k in ("N", "M")} == {"N": 192, "M": 384}
    shapes = jax.eval_shape(lambda k: model.init(k, (1, 256, 256, 3)), jax.random.PRNGKey(0))
    count = {k: sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(v)) for k, v in shapes.items()}
    total = sum(count.values())
    print(f"entroformer parameters: {total / 1e6:.2f} M", {k: f"{v / 1e6:.3f} M" for k, v in count.items()})
    # sota-facts.md §3 gives no published count; the official layer list gives the same per module
    # (the z prior differs: jlic's factorized bottleneck, not the official L3C-style `Entropy`).
    assert {k: v for k, v in count.items() if k != "entropy_bottleneck"} == official_count()
    assert 44.9e6 < total < 45.1e6
    p = shapes
    assert p["context_prediction"]["transformer"]["position"]["embedding"].shape == (49, 64)
    assert p["h_a"]["stage_2"]["position"]["embedding"].shape == (25, 64)
    assert p["h_s"]["stage_0"]["position"]["embedding"].shape == (49, 64)
    assert p["context_prediction"]["transformer"]["block_5"]["attn"]["qkv"]["kernel"].shape == (384, 1152)
    assert p["entropy_parameters"]["layer_0"]["kernel"].shape == (1, 1, 768, 1536)
    assert p["h_s"]["up_1"]["conv"]["kernel"].shape == (3, 3, 384, 1536)


def test_hyperprior_stage_settings():
    assert E.hyper_position_nums(7, 3) == (7, 5, 5)
    assert E.stage_k(32, None, 0) == (32, None) and E.stage_k(32, None, 2) == (8, None)
    assert E.stage_k(4, 7, 2) == (2, 2)
    keys = E.context_keys(2, 3)
    anchors = anchor_mask(2, 3, "odd").ravel()
    for q in range(6):
        assert set(np.flatnonzero(keys[q])) == set(np.flatnonzero(anchors)) | {q}


# ------------------------------------------------------------------------------------------- causality


def _pass_params(model, params, y_hat, side):
    return np.asarray(jax.jit(lambda p, a, s: model.module.apply(
        {"params": p}, a, s, method=lambda m, a, s: m.latent_codec.y.pass_params(a, s)))(params, y_hat, side))


def test_both_passes_are_causal(cpu_model):
    """Step 1 (anchors): the parameters at the anchors depend on no latent; step 2 (non-anchors): the
    parameters at the non-anchors depend on no non-anchor. Top-k is active (k=4 of 32 anchors)."""
    model, params = cpu_model
    h, w, m, dim = 8, 8, MODEL_KWARGS["M"], MODEL_KWARGS["dim"]
    rng = np.random.default_rng(0)
    side = jnp.asarray(rng.standard_normal((1, h, w, dim)), jnp.float32)
    y1 = np.round(rng.standard_normal((1, h, w, m)) * 4).astype(np.float32)
    anchor = anchor_mask(h, w, "odd")
    # step 1: what the coder computes (nothing decoded) equals the result for any latent
    p0 = _pass_params(model, params, np.zeros_like(y1), side)
    p1 = _pass_params(model, params, y1, side)
    np.testing.assert_array_equal(p1[0][anchor], p0[0][anchor])
    # step 2: other values at the not-yet-decoded non-anchors change nothing anywhere
    y2 = y1.copy()
    y2[0][~anchor] = np.round(rng.standard_normal((int((~anchor).sum()), m)) * 4)
    p2 = _pass_params(model, params, y2, side)
    np.testing.assert_array_equal(p2, p1)
    # ... while one decoded anchor does change non-anchor parameters, also far from it (global context)
    y3 = y1.copy()
    y3[0, 0, 1] += 5.0  # (0, 1) is an anchor
    p3 = _pass_params(model, params, y3, side)
    np.testing.assert_array_equal(p3[0][anchor], p1[0][anchor])
    changed = np.abs(p3 - p1)[0].max(-1) > 1e-6
    assert changed[~anchor].any()
    far = [(i, j) for i in range(h) for j in range(w) if changed[i, j] and abs(i) + abs(j - 1) > 4]
    assert far, np.argwhere(changed)


# ------------------------------------------------------------------------------ token-mask pre-training


def _visible_params(model, params, y_hat, side, visible):
    return np.asarray(jax.jit(lambda p, a, s, v: model.module.apply(
        {"params": p}, a, s, v, method=lambda m, a, s, v: m.latent_codec.y.visible_params(a, s, v)))(
        params, y_hat, side, visible))


def test_token_visible_draw():
    key = jax.random.PRNGKey(0)
    v = np.asarray(E.token_visible(key, 32, 32, 0.5))
    assert v.dtype == bool and 0.45 < v.mean() < 0.55  # about half the tokens masked
    np.testing.assert_array_equal(np.asarray(E.token_visible(key, 32, 32, 0.5)), v)  # a function of the key
    assert (np.asarray(E.token_visible(jax.random.PRNGKey(1), 32, 32, 0.5)) != v).mean() > 0.3
    assert np.asarray(E.token_visible(key, 32, 32, 0.0)).all()
    assert 0.2 < np.asarray(E.token_visible(key, 32, 32, 0.75)).mean() < 0.3
    keys = np.asarray(E.keys_of(jnp.asarray(v[:4, :4])))
    np.testing.assert_array_equal(keys, E.keys_of(v[:4, :4]))
    for q in range(16):
        assert set(np.flatnonzero(keys[q])) == set(np.flatnonzero(v[:4, :4])) | {q}
    with pytest.raises(ValueError, match="token_mask_ratio must be in"):
        model = get("entroformer", **MODEL_KWARGS, token_mask_ratio=1.0)
        model.init(jax.random.PRNGKey(0), (1, 64, 64, 3))


def test_masked_tokens_carry_no_information(cpu_model):
    """Given a random shown set (ratio 0.5): shown tokens get the zero-context parameters, masked tokens'
    values change no parameter anywhere, one shown token changes masked tokens' parameters; with the
    checkerboard's anchors as the shown set it is the parallel model's pass exactly."""
    model, params = cpu_model
    h, w, m, dim = 8, 8, MODEL_KWARGS["M"], MODEL_KWARGS["dim"]
    rng = np.random.default_rng(1)
    side = jnp.asarray(rng.standard_normal((1, h, w, dim)), jnp.float32)
    y1 = (rng.standard_normal((1, h, w, m)) * 4).astype(np.float32)
    vis = np.asarray(E.token_visible(jax.random.PRNGKey(5), h, w, 0.5))
    assert 20 < vis.sum() < 44 and (vis != anchor_mask(h, w, "odd")).any()
    p1 = _visible_params(model, params, y1, side, vis)
    p0 = _visible_params(model, params, np.zeros_like(y1), side, vis)
    np.testing.assert_array_equal(p1[0][vis], p0[0][vis])
    y2 = y1.copy()
    y2[0][~vis] = rng.standard_normal((int((~vis).sum()), m)) * 4
    np.testing.assert_array_equal(_visible_params(model, params, y2, side, vis), p1)
    y3 = y1.copy()
    y3[0][tuple(np.argwhere(vis)[0])] += 5.0
    p3 = _visible_params(model, params, y3, side, vis)
    assert (np.abs(p3 - p1)[0].max(-1) > 1e-6)[~vis].any()
    anchors = anchor_mask(h, w, "odd")
    np.testing.assert_array_equal(_visible_params(model, params, y1, side, anchors),
                                  _pass_params(model, params, y1, side))


def test_token_mask_training_forward(cpu_model):
    """Training forward of the latent codec with ratio 0.5: the likelihoods of the step's random shown set
    (drawn from the key) over all tokens, so they change with the key; ratio 0 is the unchanged model."""
    from jlic import quantize

    model, params = cpu_model
    masked = get("entroformer", **MODEL_KWARGS, token_mask_ratio=0.5)
    h, w, m, dim = 8, 8, MODEL_KWARGS["M"], MODEL_KWARGS["dim"]
    rng = np.random.default_rng(2)
    side = jnp.asarray(rng.standard_normal((2, h, w, dim)), jnp.float32)
    y = jnp.asarray(rng.standard_normal((2, h, w, m)) * 4, jnp.float32)

    def codec_y(mdl, fn):
        return jax.jit(lambda *a: mdl.module.apply({"params": params}, *a, method=lambda mo, *a: fn(
            mo.latent_codec.y, *a)))

    def forward(mdl):  # one compile per model: key -> (likelihoods of y, decoder input)
        f = codec_y(mdl, lambda c, k: (lambda o: (o.likelihoods["y"], o.y_hat))(c.forward(y, side, True, k)))
        return lambda key: tuple(np.asarray(v) for v in f(key))

    key = jax.random.PRNGKey(7)
    kn, kc = jax.random.split(key)  # the codec's own split: noise, context (top-k), mask
    kc, km = jax.random.split(kc)
    y_lik = quantize.noise(y, kn)
    want = codec_y(masked, lambda c, v, k: c.y.likelihood(y_lik, c.visible_params(y_lik, side, v, k)))(
        E.token_visible(km, h, w, 0.5), kc)
    run = forward(masked)
    lik, y_dec = run(key)
    np.testing.assert_array_equal(lik, np.asarray(want))
    np.testing.assert_array_equal(y_dec, np.asarray(quantize.round_ste(y)))  # what g_s gets
    assert not np.array_equal(run(jax.random.PRNGKey(8))[0], lik)
    # ratio 0 is the default model itself (the same flax module, so the same computation: the checkerboard
    # codec's own forward), whose training forward differs from the masked one
    assert get("entroformer", **MODEL_KWARGS, token_mask_ratio=0.0).module == model.module
    assert not np.array_equal(forward(model)(key)[0], lik)


# ------------------------------------------------------------------------------------------ coding


def test_kodak_crop_round_trip_bit_exact(cpu_model):
    model, params = cpu_model
    img = _kodak_crop()
    enc = codec.Codec(model, params)
    data, latents = enc.compress_with_latents(img)
    _, dec = enc.decompress_latents(data)
    for k in ("y", "z", "y_hat"):
        np.testing.assert_array_equal(dec[k], latents[k], err_msg=k)
    assert np.abs(latents["y"]).max() > 3  # not trivial
    # another positions-per-call batch (the checkerboard makes one call per pass anyway): identical
    _, d2 = codec.Codec(model, params, enc.tables, batch=1).decompress_latents(data)
    for k in ("y", "z", "y_hat"):
        np.testing.assert_array_equal(d2[k], latents[k], err_msg=k)
    # op by op (no jit): the same symbols bit for bit; y_hat = symbol + mean agrees to float rounding only:
    # XLA:CPU fuses LayerNorm's and softmax's reductions under jit and rounds differently (measured: up to
    # 5e-7), unlike convolutions. One symbol off would be a whole unit.
    _, d3 = codec.Codec(model, params, enc.tables, jit=False).decompress_latents(data)
    for k in ("y", "z"):
        np.testing.assert_array_equal(d3[k], latents[k], err_msg=k)
    np.testing.assert_allclose(d3["y_hat"], latents["y_hat"], rtol=0, atol=1e-5)
    # the coded y_hat is the evaluation forward pass's, and the real bits are the estimated ones
    x = jnp.asarray(enc.pad(img)[0])
    y = model.analysis(params, x)
    out = model.module.apply({"params": params}, y, None, False, None,
                             method=lambda m, *a: m.latent_codec.forward(*a))
    np.testing.assert_allclose(np.asarray(out.y_hat), latents["y_hat"], rtol=0, atol=1e-5)  # one jit vs two
    est = sum(float(-np.log2(np.asarray(v, np.float64)).sum()) for v in out.likelihoods.values())
    real = 8 * len(bitstream.unpack(data).streams[0])  # the entropy-coded stream, without the header
    print(f"entroformer (CPU config, random init) 128x128 Kodak crop: {real} bits, estimated {est:.0f}")
    assert abs(real - est) <= 0.01 * est + 64, (real, est)
    assert enc.decompress(data).shape == img.shape
    # token-mask pre-training changes nothing at coding time: the same streams (the header's config hash
    # covers the model kwargs, so it differs), decoded to the same latents
    masked = codec.Codec(get("entroformer", **MODEL_KWARGS, token_mask_ratio=0.5), params, enc.tables)
    data5 = masked.compress(img)
    assert bitstream.unpack(data5).streams == bitstream.unpack(data).streams
    _, d4 = masked.decompress_latents(data5)
    for k in ("y", "z", "y_hat"):
        np.testing.assert_array_equal(d4[k], latents[k], err_msg=k)


# ------------------------------------------------------------------------------------------ training


def _crops(images, size, count, rng):
    out = []
    for i in range(count):
        im = images[i % len(images)]
        t, left = rng.integers(0, im.shape[0] - size + 1), rng.integers(0, im.shape[1] - size + 1)
        out.append(im[t:t + size, left:left + size])
    return jnp.asarray(np.stack(out), jnp.float32) / 255.0


@pytest.mark.slow  # XLA:CPU compiles this train step in ~200 s on the loaded 2-core box (a step runs in 0.9 s)
def test_short_training_run(cpu_model):
    """Real steps of the CPU config on BSDS crops (random top-k from the step key): finite, loss falls."""
    from jlic.train.state import create_train_state
    from jlic.train.step import make_train_step

    if not BSDS.is_dir():
        pytest.skip("needs ../shared/data/bsds200")
    model, params = cpu_model
    images = [np.asarray(Image.open(f).convert("RGB")) for f in sorted(BSDS.glob("*.png"))[:4]]
    config = {"lr": 1e-3, "aux_lr": 1e-2, "clip_norm": 1.0}
    state = create_train_state(model, jax.random.PRNGKey(0), config, params=params)
    step = jax.jit(make_train_step(model, config))
    rng, key, losses = np.random.default_rng(0), jax.random.PRNGKey(1), []
    for _ in range(12):
        key, sub = jax.random.split(key)
        state, metrics = step(state, _crops(images, 64, 2, rng), 0.0067, sub)
        assert float(metrics["finite"]) == 1.0
        losses.append(float(metrics["loss"]))
    print("entroformer CPU config losses:", [round(v, 3) for v in losses])
    assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:3]), losses


# ------------------------------------------------------------------------------------------ timing


@pytest.mark.slow
def test_full_size_kodak_coding_seconds():
    """Encode / decode seconds of one 768x512 Kodak image with the full-size model (random parameters: the
    timing of the networks and the coder, not of a trained model's rate), alternating with jlic's ELIC
    (also full size, random) in one run; prints the figures and the ratio."""
    import time

    if not KODAK.is_dir():
        pytest.skip("needs ../shared/data/kodak")
    img = np.asarray(Image.open(KODAK / "kodim01.png").convert("RGB"))
    if img.shape[0] > img.shape[1]:
        img = img.transpose(1, 0, 2)
    codecs = {}
    for name in ("entroformer", "elic2022"):
        model = get(name)
        codecs[name] = codec.Codec(model, fast_params(model, shape=(1, 256, 256, 3)))
        codecs[name].decompress(codecs[name].compress(img))  # compile
    times: dict[str, dict[str, list[float]]] = {n: {"encode": [], "decode": []} for n in codecs}
    for _ in range(2):
        for name, c in codecs.items():
            t = time.perf_counter()
            data = c.compress(img)
            times[name]["encode"].append(time.perf_counter() - t)
            t = time.perf_counter()
            out = c.decompress(data)
            times[name]["decode"].append(time.perf_counter() - t)
            assert out.shape == img.shape
    best = {n: {k: min(v) for k, v in d.items()} for n, d in times.items()}
    print("768x512 Kodak, random init, best of 2 (s):", best)
    print("entroformer / elic2022:", {k: round(best["entroformer"][k] / best["elic2022"][k], 2)
                                     for k in ("encode", "decode")})
