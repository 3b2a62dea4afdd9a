"""Deterministic coding mode: encode under one setting, decode under another, identical latents.

Settings: another summation order of every exact conv/dot, another raster batch size and no jit, another
process with XLA flags that change float rounding, and a decoder whose float conv/dot outputs carry relative
noise 1e-3 (what TF32 / bf16 matmuls do). Default suite: a hyperprior and a context model; the full matrix
(every registered model, the mixture leaf) is ``@pytest.mark.slow``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jlic.codec import codec
from jlic.entropy import bitstream
from jlic.fixedpoint import DeterminismError, Options, elementary, evaluate, trace
from jlic.fixedpoint.context import DeterministicContext
from jlic.models import registry
from tests.codec.fast_params import fast_params, scaled_last_layers

ROOT = Path(__file__).resolve().parents[2]
KODAK = ROOT.parent / "shared" / "data" / "kodak"
TINY = {
    "minnen2020-channelwise": {"N": 8, "M": 12, "num_slices": 3, "max_support_slices": 2, "hidden": (16, 12)},
    "elic2022": {"N": 8, "M": 16, "groups": (4, 4, 8)},
}
DEFAULT_MODELS = ["bmshj2018-hyperprior", "mbt2018"]  # a hyperprior and a context model
# Fresh tiny params code only zeros with every scale under the table's lowest entry; these last-layer gains
# give nonzero symbols and scales spread over the table (so that a 1e-3 perturbation can move an index).
SPREAD = {"bmshj2018-hyperprior": {"g_a": 30.0, "h_a": 3.0, "h_s": 100.0},
          "mbt2018": {"g_a": 30.0, "h_a": 3.0, "entropy_parameters": 30.0}}
LATENT_KEYS = ("y", "z", "y_hat")


def tiny(name: str, **extra):
    """A small ``name`` with fast params (last layers scaled as ``SPREAD`` says, for the models it names)."""
    kw = {**TINY.get(name, {"N": 8, "M": 8}), **extra}
    model = registry.get(name, **kw)
    return model, scaled_last_layers(fast_params(model), **SPREAD.get(name, {}))


def image(h: int = 48, w: int = 64) -> np.ndarray:
    path = KODAK / "kodim23.png"
    if path.exists():
        from PIL import Image

        return np.asarray(Image.open(path).convert("RGB"))[200:200 + h, 300:300 + w]
    yy, xx = np.mgrid[0:h, 0:w]
    return (np.stack([np.sin(yy / 7.0), np.cos(xx / 5.0), np.sin((xx + yy) / 9.0)], -1) * 100 + 128
            ).astype(np.uint8)


def same_latents(a: dict, b: dict) -> bool:
    return set(a) == set(b) and all(np.array_equal(a[k], b[k]) for k in a)


def perturb(params, rel: float, seed: int):
    """``params * (1 + rel N(0, 1))`` leaf by leaf (the entropy bottleneck's, which the tables come from, kept).
    """
    rng = np.random.default_rng(seed)

    def leaf(path, x):
        if any("entropy_bottleneck" in str(getattr(p, "key", "")) for p in path):
            return x
        return jnp.asarray(np.asarray(x) * (1 + rel * rng.standard_normal(np.shape(x))), jnp.float32)

    return jax.tree_util.tree_map_with_path(leaf, params)


def decoder(model, params, options: Options, **kw) -> codec.Codec:
    """A Codec whose deterministic-mode decoder runs with ``options`` (another summation order, ...)."""
    c = codec.Codec(model, params, **kw)
    c.contexts["deterministic"] = DeterministicContext.of(c.context, options)
    return c


# ---- the engine ----------------------------------------------------------------------------------------

def test_elementary_functions_are_accurate():
    x = np.linspace(-30, 30, 2001)
    assert np.max(np.abs(elementary.exp(x) / np.exp(x) - 1)) < 1e-14
    assert np.max(np.abs(elementary.tanh(x) - np.tanh(x))) < 1e-15
    assert np.max(np.abs(elementary.logistic(x) - 1 / (1 + np.exp(-x)))) < 1e-15
    p = np.geomspace(1e-30, 1e30, 2001)
    assert np.max(np.abs(elementary.log(p) - np.log(p))) < 1e-13


def test_conv_is_exact_under_any_summation_order():
    rng = np.random.default_rng(0)
    w = jnp.asarray(rng.normal(size=(5, 5, 64, 32)), jnp.float32)

    def f(params, x):
        dn = ("NHWC", "HWIO", "NHWC")
        return jnp.tanh(jax.lax.conv_general_dilated(x, params, (1, 1), "SAME", dimension_numbers=dn)) * 0.5

    x = jnp.asarray(rng.normal(size=(1, 9, 9, 64)) * 20, jnp.float32)
    closed, _ = trace(f, w, x)
    ref = evaluate(closed, w, x)[0]
    for seed in range(3):
        out = evaluate(closed, w, x, opts=Options(shuffle=np.random.default_rng(seed)))[0]
        assert np.array_equal(out, ref)
    float_out = np.asarray(jax.jit(f)(w, x))
    assert np.max(np.abs(ref - float_out)) < 1e-2  # fixed point stays close to the float network


def test_accumulator_bound_is_enforced():
    big = jnp.full((4, 256), 2000.0, jnp.float32)  # data x data: 2**23 * 2**23 * 2**8 > 2**53
    closed, _ = trace(lambda p, a: a @ a.T, jnp.zeros(()), big)
    with pytest.raises(DeterminismError, match="2\\*\\*53"):
        evaluate(closed, jnp.zeros(()), big)
    ok, _ = trace(lambda p, a: a @ a.T, jnp.zeros(()), big[:, :2])
    assert evaluate(ok, jnp.zeros(()), big[:, :2])[0][0, 0] == 2 * 2000.0**2


def test_container_records_the_mode_and_old_files_read_as_float():
    c = bitstream.Container("m", b"\0" * 8, 4, 4, streams=[b"ab"], mode="deterministic")
    assert bitstream.unpack(bitstream.pack(c)).mode == "deterministic"
    f = bitstream.pack(bitstream.Container("m", b"\0" * 8, 4, 4, streams=[b"ab"]))
    assert f[5] == 0 and bitstream.unpack(f).mode == "float"  # the byte every format-2 file has had
    with pytest.raises(ValueError, match="coding mode"):
        bitstream.pack(bitstream.Container("m", b"\0" * 8, 4, 4, mode="fast"))
    bad = bytearray(f)
    bad[5] = 0x70
    bad[-4:] = bitstream._CRC.pack(__import__("zlib").crc32(bytes(bad[:-4])))
    with pytest.raises(bitstream.BitstreamError, match="coding mode"):
        bitstream.unpack(bytes(bad))


# ---- every model: encode under one setting, decode under another --------------------------------------

def check_model(name: str, settings: tuple[str, ...], **kw) -> dict:
    model, params = tiny(name, **kw)
    img = image()
    enc = codec.Codec(model, params, mode="deterministic")
    data, ref = enc.compress_with_latents(img)
    assert bitstream.unpack(data).mode == "deterministic"
    results = {}
    for s in settings:
        if s == "shuffled":  # every exact conv/dot summed in another order
            dec = decoder(model, params, Options(shuffle=np.random.default_rng(1)))
        elif s == "nojit-batch":  # no jit, 3 positions per raster step
            dec = decoder(model, params, Options(), jit=False, batch=3)
        elif s == "perturbed":  # the float networks the decoder still runs (g_s) perturbed by 1e-3
            dec = decoder(model, params, Options(shuffle=np.random.default_rng(2)))
            noisy = perturb(params, 1e-3, seed=2)
            dec._fns["synthesis"] = jax.jit(lambda p, y, noisy=noisy: model.synthesis(noisy, y))
            pixels = dec.decompress(data)
            clean = enc.decompress(data)
            assert np.max(np.abs(pixels.astype(int) - clean.astype(int))) <= 8  # pixels move, latents not
        else:
            raise ValueError(s)
        _, got = dec.decompress_latents(data)
        results[s] = same_latents(ref, got)
    float_codec = codec.Codec(model, params)
    fdata, fref = float_codec.compress_with_latents(img)
    assert bitstream.unpack(fdata).mode == "float"
    _, fgot = enc.decompress_latents(fdata)  # float files still decode (the container's mode is followed)
    assert same_latents(fref, fgot)
    return results


@pytest.mark.parametrize("name", DEFAULT_MODELS)
def test_deterministic_decoder_in_another_setting_gets_the_same_latents(name):
    results = check_model(name, ("shuffled", "nojit-batch"))
    assert all(results.values()), results


def float_desyncs(model, params, img, seeds: range, rel: float = 1e-3) -> int:
    """How many of ``seeds`` perturbed float decoders (conv/dot outputs x (1 + rel N(0,1))) lose sync."""
    enc = codec.Codec(model, params)
    data, ref = enc.compress_with_latents(img)
    opts = Options(exact=False, perturb=rel)
    dec = codec.Codec(model, params, enc.tables)
    dec.contexts["float"] = DeterministicContext.of(dec.context, opts)  # traced once, a new noise per seed
    fails = 0
    for seed in seeds:
        opts.rng = np.random.default_rng(seed)
        try:
            _, got = dec.decompress_latents(data)
            fails += not all(np.array_equal(ref[k], got[k]) for k in ref if k != "y_hat")  # symbols
        except (bitstream.BitstreamError, ValueError):
            fails += 1
    return fails


def perturbed(fn, rel: float, seed: int):
    """``fn(params, *args)`` run as float32 with every conv/dot output x (1 + rel N(0, 1))."""
    opts = Options(exact=False, perturb=rel, rng=np.random.default_rng(seed))

    def run(params, *args):
        closed, tree = trace(fn, params, *args)
        return jax.tree_util.tree_unflatten(tree, evaluate(closed, params, *args, opts=opts))

    return run


@pytest.mark.parametrize("name", DEFAULT_MODELS)
def test_perturbed_decoder_deterministic_passes_float_fails(name):
    """Every conv/dot a decoder computes in float gets relative noise 1e-3 (what TF32 / bf16 matmuls do).

    Float mode: the networks that select the CDFs (hyper-synthesis, context and entropy parameters) are
    float, and at least one of 3 seeds loses sync (none does unperturbed: the harness itself is exact).
    Deterministic mode: those networks are exact (here also summed in another order) and g_s is the one float
    network left; with g_s perturbed (the pixels move) and a perturbed float context at hand (in case the
    file were decoded by it), every symbol and y_hat is the encoder's, and the stream passes its check word
    (a table index that moved would fail it).
    """
    model, params = tiny(name)
    img = image(96, 128)
    assert float_desyncs(model, params, img, range(1), rel=0.0) == 0
    assert float_desyncs(model, params, img, range(3)) > 0
    enc = codec.Codec(model, params, mode="deterministic")
    data, ref = enc.compress_with_latents(img)
    assert np.count_nonzero(ref["y"]) > 0
    dec = decoder(model, params, Options(shuffle=np.random.default_rng(3)))
    dec.contexts["float"] = DeterministicContext.of(
        dec.context, Options(exact=False, perturb=1e-3, rng=np.random.default_rng(5)))
    dec._fns["synthesis"] = perturbed(model.synthesis, 1e-3, seed=6)
    _, got = dec.decompress_latents(data)
    assert same_latents(ref, got)
    moved = np.abs(dec.decompress(data).astype(int) - enc.decompress(data).astype(int))
    assert 0 < moved.max() <= 8, moved.max()  # the noise reached g_s: pixels move, latents do not


_SUBPROCESS = r"""
import sys, numpy as np
from pathlib import Path
from jlic.codec import codec
from jlic.codec.export import load_model
ckpt, path, jit = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "jit"
model, params = load_model(ckpt)
tables = codec.ModelTables.from_bytes((ckpt / "tables.npz").read_bytes())
_, lat = codec.Codec(model, params, tables, jit=jit).decompress_latents(open(path, "rb").read())
np.savez(path + ".npz", **lat)
"""


def decode_in_subprocess(tmp_path, enc: codec.Codec, data: bytes, flags: str, jit: bool = True) -> dict:
    """Decode ``data`` in a fresh process (the exported model and its stored tables), under ``XLA_FLAGS``."""
    from jlic.codec.export import save_model

    ckpt = tmp_path / "model"
    if not ckpt.exists():
        save_model(ckpt, enc.model, enc.params)
        (ckpt / "tables.npz").write_bytes(enc.tables.to_bytes())
    path = tmp_path / f"file-{len(list(tmp_path.iterdir()))}.jlic"
    path.write_bytes(data)
    env = {**os.environ, "XLA_FLAGS": flags, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", _SUBPROCESS, str(ckpt), str(path), "jit" if jit else "nojit"],
                   check=True, env=env, timeout=900)
    with np.load(str(path) + ".npz") as f:
        return {k: f[k] for k in f.files}


FLAGS = "--xla_cpu_enable_fast_math=true --xla_backend_optimization_level=0"


def test_decode_in_another_process_with_float_changing_xla_flags(tmp_path):
    model, params = tiny("bmshj2018-hyperprior")
    enc = codec.Codec(model, params, mode="deterministic")
    data, ref = enc.compress_with_latents(image())
    assert same_latents(ref, decode_in_subprocess(tmp_path, enc, data, FLAGS))


def all_models() -> list:
    # variable-rate is a wrapper over these models (its deterministic mode is not covered here yet);
    # kamisli2024-vbr: the "perturbed" decoder below passes no rate level to synthesis (its "shuffled" and
    # "nojit-batch" settings decode bit-exactly)
    skip = ("bmshj2018-factorized", "variable-rate", "kamisli2024-vbr")
    out = [pytest.param(n, {}, id=n) for n in registry.names() if n not in skip]
    return [*out, pytest.param("cheng2020-anchor", {"likelihood": "mixture"}, id="cheng2020-anchor-mixture")]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "kw"), all_models())
def test_full_matrix_every_model(name, kw, tmp_path):
    results = check_model(name, ("shuffled", "nojit-batch", "perturbed"), **kw)
    assert all(results.values()), results
    model, params = tiny(name, **kw)
    enc = codec.Codec(model, params, mode="deterministic")
    data, ref = enc.compress_with_latents(image())
    assert same_latents(ref, decode_in_subprocess(tmp_path, enc, data, FLAGS, jit=False))
    assert same_latents(ref, decode_in_subprocess(tmp_path, enc, data, "", jit=True))


def test_convert_command_then_compress_and_decompress(tmp_path):
    from PIL import Image

    from jlic.codec.export import read_model_json, save_model
    from jlic.commands import coding as cli
    from jlic.commands import convert

    model, params = tiny("bmshj2018-hyperprior")
    save_model(tmp_path / "float", model, params)
    assert convert.main(["--checkpoint", str(tmp_path / "float"), "--out", str(tmp_path / "det")]) == 0
    meta = read_model_json(tmp_path / "det")
    assert meta["coding_mode"] == "deterministic" and meta["fixedpoint"]["max_accumulator_log2"] < 53
    Image.fromarray(image()).save(tmp_path / "in.png")
    for ckpt, flag, mode in (("det", [], "deterministic"), ("det", ["--float"], "float"),
                             ("float", ["--deterministic"], "deterministic")):
        out = tmp_path / f"{ckpt}{flag}.jlic"
        assert cli.compress_main(["--checkpoint", str(tmp_path / ckpt), *flag, str(tmp_path / "in.png"),
                                  str(out)]) == 0
        assert bitstream.unpack(out.read_bytes()).mode == mode
        assert cli.decompress_main(["--checkpoint", str(tmp_path / "float"), str(out), str(out) + ".png"]) == 0
    assert convert.main(["--checkpoint", str(tmp_path / "nothing"), "--out", str(tmp_path / "x")]) == 1
