"""Tests of jlic.codec.codec with small randomly initialised registry models."""

import dataclasses
import time

import jax
import numpy as np
import pytest

from jlic.codec import codec
from jlic.entropy import bitstream
from jlic.entropy.bitstream import BitstreamError
from tests.codec.fast_params import scaled_last_layers

MODELS = ["bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018-mean"]
# last-layer gains (fast_params.scaled_last_layers): nonzero symbols, scales spread over the table
GAINS = {"bmshj2018-factorized": {"g_a": 30.0}, "bmshj2018-hyperprior": {"g_a": 30.0, "h_a": 3.0, "h_s": 100.0},
         "mbt2018-mean": {"g_a": 30.0, "h_a": 3.0, "h_s": 30.0}}


@pytest.fixture(scope="module", params=MODELS)
def setup(request, small_model):
    model, params = small_model(request.param)
    params = scaled_last_layers(params, **GAINS[request.param])
    return model, params, codec.Codec(model, params)


def image(h, w, seed=0):
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 1, h * w * 3).reshape(h, w, 3)
    return (np.clip(base + 0.1 * rng.standard_normal((h, w, 3)), 0, 1) * 255).astype(np.uint8)


def test_round_trip_matches_the_model_forward_pass(setup):
    model, params, c = setup
    img = image(50, 60)
    data, latents = c.compress_with_latents(img)
    assert np.count_nonzero(latents["y"]) > 0  # not a round trip of zeros
    container, decoded = c.decompress_latents(data)
    for key in latents:
        np.testing.assert_array_equal(decoded[key], latents[key], err_msg=key)
    out = c.decompress(data)
    assert out.shape == img.shape and out.dtype == np.uint8
    # Same reconstruction as the model's own hard-quantized forward pass (up to float/8-bit rounding).
    ref = np.asarray(model.apply(params, img[None].astype(np.float32) / 255, train=False).x_hat[0])
    ref = np.round(np.clip(ref, 0, 1) * 255)
    assert np.mean(np.abs(out.astype(float) - ref)) < 0.5
    assert container.model_name == model.name and (container.height, container.width) == (50, 60)


@pytest.mark.parametrize("shape", [(1, 1), (7, 5), (17, 3)])
def test_tiny_images(setup, shape):
    _, _, c = setup
    img = image(*shape, seed=1)
    out = c.decompress(c.compress(img))
    assert out.shape == (*shape, 3)


def test_float_and_uint16_inputs_equal_uint8(setup):
    _, _, c = setup
    img = image(16, 16, seed=2)
    a = c.compress(img)
    assert c.compress(img.astype(np.float32) / 255) == a
    assert c.compress(img.astype(np.uint16) * 257) == a


def test_decoder_without_jit_and_with_stored_tables_gets_identical_latents(setup):
    model, params, c = setup
    if model.name != "mbt2018-mean":
        pytest.skip("one model is enough (slow without jit); mbt2018-mean has every hook")
    data, latents = c.compress_with_latents(image(50, 60, seed=3))
    tables = codec.ModelTables.from_bytes(c.tables.to_bytes())
    other = codec.Codec(model, params, tables, jit=False)
    with jax.disable_jit():
        _, decoded = other.decompress_latents(data)
    for key in latents:
        np.testing.assert_array_equal(decoded[key], latents[key], err_msg=key)


def test_foreign_model_or_config_is_rejected(setup, small_model):
    model, params, c = setup
    if model.name != "bmshj2018-hyperprior":
        pytest.skip("checked once")
    data = c.compress(image(8, 8))
    other_name = next(n for n in MODELS if n != model.name)
    other = codec.Codec(*small_model(other_name))
    with pytest.raises(BitstreamError, match="encoded with model"):
        other.decompress(data)
    renamed = dataclasses.replace(model, kwargs={**model.kwargs, "M": 16})
    with pytest.raises(BitstreamError, match="configuration"):
        codec.Codec(renamed, params, c.tables).decompress(data)


def test_every_corruption_and_truncation_of_a_real_file_is_refused(setup):
    """Every truncation and every single-byte change is refused (the CRC32 sees any change of up to 32 bits,
    and a cut file's last 4 bytes are not the CRC of the rest), quickly."""
    _, _, c = setup
    img = image(20, 12, seed=4)
    data = c.compress(img)
    rng = np.random.default_rng(0)
    cases = [data[:n] for n in range(len(data))]
    for pos in range(len(data)):
        corrupt = bytearray(data)
        corrupt[pos] ^= int(rng.integers(1, 256))
        cases.append(bytes(corrupt))
    for i, bad in enumerate(cases):
        t = time.perf_counter()
        with pytest.raises(BitstreamError):
            c.decompress(bad)
        assert time.perf_counter() - t < 2.0, i


def test_streams_that_pass_the_crc_but_are_garbage_raise_bitstream_error(setup):
    """Random coded streams in a valid container (right CRC): the stream's 32-bit check word refuses them."""
    _, _, c = setup
    x = c.compress(image(16, 16))
    parsed = bitstream.unpack(x)
    rng = np.random.default_rng(5)
    for _ in range(20):
        streams = [rng.integers(0, 256, 4 * int(rng.integers(0, 8))).astype(np.uint8).tobytes()
                   for _ in parsed.streams]
        forged = bitstream.pack(bitstream.Container(parsed.model_name, parsed.config_hash, 16, 16, 3, 8,
                                                    parsed.padding, streams))
        with pytest.raises(BitstreamError):
            c.decompress(forged)
    wrong_count = bitstream.pack(bitstream.Container(parsed.model_name, parsed.config_hash, 16, 16, 3, 8,
                                                     parsed.padding, parsed.streams + [b""]))
    with pytest.raises(BitstreamError, match="stream"):
        c.decompress(wrong_count)


def test_other_checkpoint_of_the_same_config_is_rejected(setup):
    model, params, c = setup
    if model.name != "bmshj2018-factorized":
        pytest.skip("checked once")
    data = c.compress(image(8, 8))
    eb = dict(params["entropy_bottleneck"])
    eb["quantiles"] = eb["quantiles"] + 0.25  # another "training step": other medians and tables
    other = codec.Codec(model, {**params, "entropy_bottleneck": eb})
    with pytest.raises(BitstreamError, match="checkpoint"):
        other.decompress(data)


def test_tables_of_a_model_without_an_entropy_bottleneck_round_trip():
    """HPCM's tree has no factorized latent (its z has a learned generalized-Gaussian prior): no factorized
    tables, and they still serialize, load and digest."""
    from jlic.codec.codec import ModelTables

    empty = ModelTables(factorized=None, medians=None)
    back = ModelTables.from_bytes(empty.to_bytes())
    assert back.factorized is None and back.medians is None and back.gaussian is None
    assert back.digest() == empty.digest()
