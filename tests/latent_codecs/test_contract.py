"""The latent-codec contract, for every composition in use (`compositions.COMPOSITIONS`).

decode(encode(y)) gives the encoder's y_hat and symbols bit for bit; that y_hat is the forward pass's
hard-rounded y_hat bit for bit (raster scan: the forward pass teacher-forced on the coded context, since its
evaluation forward follows CompressAI's convention); real bits are within 1% + 8 bytes of -Σ log2 p; decoding
with another positions-per-call batch and without jit gives the same result.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from jlic.codec.codec import build_model_tables
from jlic.entropy.coder import Coder
from jlic.entropy.stream import StreamReader, StreamWriter
from jlic.models.base import CompressionModel
from tests.latent_codecs import compositions

KINDS = list(compositions.COMPOSITIONS)


@pytest.fixture(scope="module", params=KINDS)
def case(request):
    harness, params = compositions.init(request.param)
    model = CompressionModel(name=f"test-{request.param}", kwargs={}, module=harness, stride=1)
    tables = build_model_tables(model, params)
    coders = {} if tables.factorized is None else {"factorized": Coder(tables.factorized)}
    if tables.gaussian is not None:
        coders["gaussian"] = Coder(tables.gaussian)
    y = compositions.latent()
    ctx = model.coding_context(params, tables, coders)
    writer = StreamWriter()
    y_hat, symbols = ctx.root().encode(ctx, writer, y, None)
    return request.param, model, params, tables, coders, y, writer.finish(), y_hat, symbols


def _decode(model, params, tables, coders, data, shape, **kw):
    ctx = model.coding_context(params, tables, coders, **kw)
    reader = StreamReader(data)
    out = ctx.root().decode(ctx, reader, shape, None)
    reader.finish()
    return out


def test_decode_gives_the_encoders_latents_bit_for_bit(case):
    _, model, params, tables, coders, y, data, y_hat, symbols = case
    d_hat, d_sym = _decode(model, params, tables, coders, data, y.shape)
    assert set(d_sym) == set(symbols)
    for k in symbols:
        np.testing.assert_array_equal(d_sym[k], symbols[k], err_msg=k)
    np.testing.assert_array_equal(d_hat, y_hat)
    assert np.abs(symbols["y"]).max() > 3  # the latents are not trivial


def _reference(kind, model, params, y, y_hat):
    if kind.startswith("raster"):
        return model.module.apply({"params": params}, y, y_hat, method="teacher_forced")
    out = model.module.apply({"params": params}, y)
    return out.y_hat, out.likelihoods


def test_coded_y_hat_is_the_forward_pass_and_bits_match_the_likelihoods(case):
    kind, model, params, _, _, y, data, y_hat, _ = case
    ref, likelihoods = _reference(kind, model, params, y, y_hat)
    ref = np.asarray(ref)
    if kind.startswith("raster"):
        # The coder evaluates the masked conv on gathered taps, the forward pass as a full conv: the means
        # agree to float rounding (1e-5 here), so the symbols (what is coded) agree exactly: one symbol off
        # would put y_hat a whole unit away.
        np.testing.assert_allclose(ref, y_hat, rtol=0, atol=1e-5)
    else:
        np.testing.assert_array_equal(ref, y_hat)
    est = sum(float(-np.log2(np.asarray(v, np.float64)).sum()) for v in likelihoods.values())
    real = 8 * len(data)
    assert abs(real - est) <= 0.01 * est + 64, (real, est)


def test_other_batch_and_no_jit_decode_the_same(case):
    kind, model, params, tables, coders, y, data, y_hat, symbols = case
    for kw in ({"batch": 5}, {"jit": False}):
        if "batch" in kw and not kind.startswith("raster"):
            continue  # positions per call only exist in the raster scan
        d_hat, d_sym = _decode(model, params, tables, coders, data, y.shape, **kw)
        np.testing.assert_array_equal(d_hat, y_hat, err_msg=str(kw))
        np.testing.assert_array_equal(d_sym["y"], symbols["y"], err_msg=str(kw))


# Training path: finite likelihoods and gradients. The compile of the gradient is the slow part; the ELIC
# composition (which nests every composite codec but the raster scan) runs by default, the others with -m slow.
@pytest.mark.parametrize("kind", [k if k == "elic-even" else pytest.param(k, marks=pytest.mark.slow)
                                  for k in KINDS])
def test_training_path_gives_finite_likelihoods_and_gradients(kind):
    harness, params = compositions.init(kind)
    model = CompressionModel(name=f"test-{kind}", kwargs={}, module=harness, stride=1)
    y = compositions.latent()

    def bits(p, y):
        rngs = {"noise": jax.random.PRNGKey(1)}
        out = model.module.apply({"params": p}, y, method="train_forward", rngs=rngs)
        return sum(-jax.numpy.log2(v).sum() for v in out.likelihoods.values()) + 0.01 * (out.y_hat ** 2).sum()

    g_params, g_y = jax.grad(bits, argnums=(0, 1))(params, y)
    assert all(bool(np.isfinite(np.asarray(g)).all()) for g in jax.tree.leaves(g_params))
    assert np.abs(np.asarray(g_y)).sum() > 0
