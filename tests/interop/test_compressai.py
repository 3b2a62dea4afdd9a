"""CompressAI state_dict import: same outputs as CompressAI on the same input, files, CLI, errors.

Tests marked `peers` build CompressAI models in the test (see conftest.py) and skip with a clear reason when
torch/compressai are absent; the others check the key/layout mapping without torch.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks.peers.compressai_models import SMALL, SMALL_BY_MODEL, jlic_kwargs, test_image, to_torch
from jlic.commands import import_compressai as import_cmd
from jlic.interop import compressai as ci
from jlic.interop.compressai_dev import DEV_CLASSES
from jlic.models import registry

ZOO = list(ci.COMPRESSAI_CLASSES)
# ELIC: test_compressai_elic.py; the development line's models (compressai-temp): their own files
# (tcm, dcae: test_compressai_tcm.py, test_compressai_dcae.py; MLIC family, STF: test_compressai_devline.py)
DEV_LINE = ("mlic", "mlic-plus", "mlicpp", "stf", "stf-wacnn")
ZOO_FORWARD = [n for n in ZOO if n != "elic2022" and n not in DEV_CLASSES and n not in DEV_LINE]
# Small jlic sizes of the development line's TCM and DCAE (M a multiple of their 5 slices) for the layout tests.
DEV_SMALL = {"tcm": {"N": 16, "M": 40, "hyper_channels": 16, "attention_width": 16, "context_widths": (16, 16)},
             "dcae": {"N": 16, "M": 40, "feature_dims": (16, 16, 32), "blocks": (1, 2, 1), "hyper_channels": 16,
                      "dict_num": 8, "dict_dim": 16, "dict_heads": 2, "context_widths": (16, 16)}}


def _registered(name: str) -> None:
    if name not in registry.names():
        pytest.skip(f"{name} is not registered in jlic yet")


def _random_params(model, seed: int = 0):
    """Random values (not an init: every leaf different) with the structure of the model's params."""
    shapes = jax.eval_shape(lambda k: model.init(k, (1, 128, 128, 3)), jax.random.PRNGKey(0))
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda s: rng.standard_normal(s.shape).astype(np.float32), shapes)


def _small(name: str):
    if name == "elic2022":  # the small groups are the default ones for M=40
        return registry.get(name, 3, N=SMALL_BY_MODEL[name]["N"], M=SMALL_BY_MODEL[name]["M"])
    if name in DEV_SMALL:
        return registry.get(name, 3, **DEV_SMALL[name])
    if name in DEV_LINE:
        return registry.get(name, 3, **jlic_kwargs(name))
    size = {"N": SMALL["N"], "M": SMALL["N"]} if name.startswith("cheng2020") else SMALL
    return registry.get(name, 3, **size)


def _assert_trees_equal(a, b) -> None:
    la, ta = jax.tree.flatten(a)
    lb, tb = jax.tree.flatten(b)
    assert ta == tb
    for x, y in zip(la, lb, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


# ------------------------------------------------------------------------------------------ without torch


def test_rename_keys_maps_old_names():
    a = np.zeros(1, np.float32)
    old = {
        "module.entropy_bottleneck._matrices.0": a, "module.entropy_bottleneck._biases.4": a,
        "module.entropy_bottleneck._factor2": a, "entropy_bottleneck._matrix3": a,
        "g_a.0.downsample.weight": a, "entropy_bottleneck._quantized_cdf": a,
    }
    assert set(ci.rename_keys(old)) == {
        "entropy_bottleneck.matrices.0", "entropy_bottleneck.biases.4", "entropy_bottleneck.factors.2",
        "entropy_bottleneck.matrices.3", "g_a.0.skip.weight", "entropy_bottleneck._quantized_cdf",
    }
    with pytest.raises(ValueError, match="map to"):
        ci.rename_keys({"module.g_a.0.weight": a, "g_a.0.weight": a})


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n == "mlicpp" else n for n in ZOO])
def test_export_then_convert_is_identity(name):  # mlicpp: slow, the key map of mlic-plus
    _registered(name)
    model = _small(name)
    params = _random_params(model)
    sd = ci.export_state_dict(model, params)
    assert ci.build_model(name, sd).kwargs == model.kwargs
    _assert_trees_equal(ci.convert(model, sd), params)


def test_exported_layouts_are_pytorch_layouts():
    model = _small("bmshj2018-hyperprior")
    sd = ci.export_state_dict(model, _random_params(model))
    n, m = SMALL["N"], SMALL["M"]
    assert sd["g_a.0.weight"].shape == (n, 3, 5, 5)  # conv (out, in, kh, kw)
    assert sd["g_s.0.weight"].shape == (m, n, 5, 5)  # transposed conv (in, out, kh, kw)
    assert sd["h_a.0.weight"].shape == (n, m, 3, 3)
    assert sd["g_a.1.gamma"].shape == (n, n)
    assert sd["entropy_bottleneck.matrices.0"].shape == (n, 3, 1)
    assert sd["entropy_bottleneck.biases.4"].shape == (n, 1, 1)
    assert sd["entropy_bottleneck.factors.3"].shape == (n, 3, 1)
    assert sd["entropy_bottleneck.quantiles"].shape == (n, 1, 3)


def test_square_transposed_kernel_is_not_taken_for_a_conv():
    """g_s.2 is a 5x5 N->N transposed conv: its kernel must be flipped in/out, which shapes cannot tell."""
    model = _small("bmshj2018-hyperprior")
    sd = ci.export_state_dict(model, _random_params(model))
    params = ci.convert(model, sd)
    np.testing.assert_array_equal(params["g_s"]["layer_2"]["kernel"], sd["g_s.2.weight"].transpose(2, 3, 0, 1))
    np.testing.assert_array_equal(params["g_a"]["layer_2"]["kernel"], sd["g_a.2.weight"].transpose(2, 3, 1, 0))


def test_mismatches_fail_loudly():
    model = _small("bmshj2018-hyperprior")
    sd = ci.export_state_dict(model, _random_params(model))
    with pytest.raises(KeyError, match="h_s/layer_4/kernel"):
        ci.convert(model, {k: v for k, v in sd.items() if k != "h_s.4.weight"})
    with pytest.raises(ValueError, match="no jlic counterpart: extra.weight"):
        ci.convert(model, {**sd, "extra.weight": np.zeros(3, np.float32)})
    ci.convert(model, {**sd, "extra.weight": np.zeros(3, np.float32)}, strict=False)
    with pytest.raises(ValueError, match="does not fit"):
        ci.convert(model, {**sd, "g_a.0.weight": np.zeros((SMALL["N"], 3, 3, 3), np.float32)})
    # A scale-hyperprior state_dict is not a mean-scale one (h_s widths differ).
    with pytest.raises(ValueError, match="does not fit"):
        ci.convert(_small("mbt2018-mean"), sd)


def test_quality_and_size_are_read_off_the_shapes():
    big = registry.get("mbt2018-mean", 5)  # N=192, M=320
    sd = {"g_a.0.weight": np.zeros((192, 3, 5, 5)), "g_a.6.weight": np.zeros((320, 192, 5, 5))}
    assert ci.build_model("mbt2018-mean", sd).kwargs == big.kwargs
    assert ci.build_model("bmshj2018-hyperprior", sd).kwargs["quality"] == 6
    assert ci.build_model("mbt2018-mean", sd, quality=8).kwargs == registry.get("mbt2018-mean", 8).kwargs
    small = ci.build_model("mbt2018-mean", {"g_a.0.weight": np.zeros((8, 3, 5, 5)),
                                            "g_a.6.weight": np.zeros((12, 8, 5, 5))}, quality=2)
    assert (small.kwargs["quality"], small.kwargs["N"], small.kwargs["M"]) == (2, 8, 12)


# ------------------------------------------------------------------------------------- against CompressAI


_RUNS: dict[str, tuple] = {}


def _run_both(name, net, size=128):
    """(imported, image, CompressAI forward, jlic forward) on the same input; cached per model name."""
    if name not in _RUNS:
        _RUNS[name] = _run_both_uncached(name, net, size)
    return _RUNS[name]


def _run_both_uncached(name, net, size):
    import torch

    imp = ci.import_compressai(name, net)
    image = test_image(size)
    with torch.no_grad():
        ref = net(to_torch(image))
    out = imp.model.apply(imp.params, jnp.asarray(image, jnp.float32)[None] / 255.0)
    return imp, image, ref, out


def _nhwc(t) -> np.ndarray:
    return t.detach().numpy().transpose(0, 2, 3, 1)


@pytest.mark.peers
@pytest.mark.parametrize("name", ZOO_FORWARD)
def test_reconstruction_matches_compressai(name, compressai_model):
    _registered(name)
    _, _, ref, out = _run_both(name, compressai_model(name))
    np.testing.assert_allclose(np.asarray(out.x_hat), _nhwc(ref["x_hat"]), rtol=0, atol=1e-4)




@pytest.mark.peers
@pytest.mark.parametrize("name", ZOO_FORWARD)
def test_likelihoods_and_bits_match_compressai(name, compressai_model):
    _registered(name)
    _, _, ref, out = _run_both(name, compressai_model(name))
    assert set(out.likelihoods) == set(ref["likelihoods"])
    for k, p_ref in ref["likelihoods"].items():
        p_ref = _nhwc(p_ref).astype(np.float64)
        p = np.asarray(out.likelihoods[k], np.float64)
        big = p_ref > 1e-6
        assert big.mean() > 0.5
        np.testing.assert_allclose(p[big], p_ref[big], rtol=1e-4, err_msg=f"likelihoods of {k}")
        bits, bits_ref = -np.log2(p).sum(), -np.log2(p_ref).sum()
        assert abs(bits / bits_ref - 1) < 5e-3, (k, bits, bits_ref)


@pytest.mark.peers
@pytest.mark.parametrize("name", ["mbt2018", "cheng2020-anchor", "cheng2020-attn"])
def test_context_model_likelihoods_in_compressai_convention(name, compressai_model):
    """The imported context model gives CompressAI's y likelihoods when evaluated as CompressAI does:
    context from round(y), likelihood at round(y - mu) + mu."""
    _registered(name)
    from jlic.entropy import gaussian

    imp, image, ref, _ = _run_both(name, compressai_model(name))
    m, p = imp.model, imp.params
    y = m.analysis(p, jnp.asarray(image, jnp.float32)[None] / 255.0)
    z = m.hyper_analysis(p, y)
    med = p["entropy_bottleneck"]["quantiles"][:, 1]
    hyper = m.hyper_params(p, jnp.round(z - med) + med)
    scales, means = m.context_full(p, jnp.round(y), hyper)
    lik = np.asarray(gaussian.likelihood(jnp.round(y - means) + means, scales, means), np.float64)
    p_ref = _nhwc(ref["likelihoods"]["y"]).astype(np.float64)
    big = p_ref > 1e-6
    np.testing.assert_allclose(lik[big], p_ref[big], rtol=1e-4)
    assert abs(np.log2(lik).sum() / np.log2(p_ref).sum() - 1) < 5e-3


@pytest.mark.peers
def test_file_import_with_old_key_names(tmp_path, compressai_model):
    """A training-checkpoint file with `module.` prefixes and pre-1.1 entropy-bottleneck names imports to
    the same params as the live module."""
    import torch

    net = compressai_model("mbt2018-mean")
    sd = {}
    for k, v in net.state_dict().items():
        k = k.replace("entropy_bottleneck.matrices.", "entropy_bottleneck._matrices.")
        k = k.replace("entropy_bottleneck.biases.", "entropy_bottleneck._bias")
        sd[f"module.{k}"] = v
    path = tmp_path / "checkpoint_best_loss.pth.tar"
    torch.save({"epoch": 3, "state_dict": sd, "loss": 1.5}, path)
    from_file = ci.import_compressai("mbt2018-mean", path)
    live = ci.import_compressai("mbt2018-mean", net)
    _assert_trees_equal(from_file.params, live.params)
    assert from_file.model.kwargs == live.model.kwargs


@pytest.mark.peers
def test_exported_params_load_into_compressai(compressai_model):
    import torch
    from compressai import models as cm

    net = compressai_model("bmshj2018-hyperprior")
    imp = ci.import_compressai("bmshj2018-hyperprior", net)
    fresh = cm.ScaleHyperprior(**SMALL)
    sd = {k: torch.from_numpy(v) for k, v in ci.export_state_dict(imp.model, imp.params).items()}
    result = torch.nn.Module.load_state_dict(fresh, sd, strict=False)  # CompressAI's own wants CDF buffers
    assert not result.unexpected_keys
    x = to_torch(test_image(64))
    with torch.no_grad():
        np.testing.assert_array_equal(fresh.eval()(x)["x_hat"].numpy(), net(x)["x_hat"].numpy())


@pytest.mark.peers
def test_compressai_tables_are_imported_exactly(compressai_model):
    net = compressai_model("bmshj2018-hyperprior")
    tables = ci.import_compressai("bmshj2018-hyperprior", net).tables
    for t, em in ((tables.factorized, net.entropy_bottleneck), (tables.gaussian, net.gaussian_conditional)):
        np.testing.assert_array_equal(t.offset, em._offset.numpy())
        np.testing.assert_array_equal(t.cdf_length, em._cdf_length.numpy())
        cdf = em._quantized_cdf.numpy()
        for row, n in enumerate(t.cdf_length):
            np.testing.assert_array_equal(t.cdf[row, :n], cdf[row, :n])
    np.testing.assert_array_equal(tables.scale_table, net.gaussian_conditional.scale_table.numpy())
    np.testing.assert_array_equal(tables.medians, net.entropy_bottleneck.quantiles[:, 0, 1].detach().numpy())


@pytest.mark.peers
def test_cli_writes_a_checkpoint_that_jlic_codes(tmp_path, compressai_model):
    import torch
    from PIL import Image

    from jlic import commands as cli
    from jlic.codec.export import load_model

    net = compressai_model("bmshj2018-factorized")
    weights = tmp_path / "factorized.pth.tar"
    torch.save(net.state_dict(), weights)
    out = tmp_path / "ckpt"
    assert cli.main(["import-compressai", "bmshj2018-factorized", "2", str(weights), "--out", str(out)]) == 0
    model, params = load_model(out)
    assert (model.name, model.kwargs["quality"], model.kwargs["N"]) == ("bmshj2018-factorized", 2, SMALL["N"])
    assert (out / ci.TABLES_FILE).exists()

    image = test_image(64)
    Image.fromarray(image).save(tmp_path / "in.png")
    png, coded = str(tmp_path / "in.png"), str(tmp_path / "a.jlic")
    assert cli.main(["compress", "--checkpoint", str(out), png, coded]) == 0
    assert cli.main(["decompress", "--checkpoint", str(out), str(tmp_path / "a.jlic"),
                     str(tmp_path / "out.png")]) == 0
    decoded = np.asarray(Image.open(tmp_path / "out.png"))
    with torch.no_grad():
        ref = net.decompress(**net.compress(to_torch(image)))["x_hat"]
    ref = np.round(_nhwc(ref)[0] * 255).astype(np.int16)
    assert np.abs(decoded.astype(np.int16) - ref).max() <= 1


@pytest.mark.peers
def test_cli_rejects_a_mismatched_model(tmp_path, compressai_model, capsys):
    import torch

    weights = tmp_path / "hyper.pth"
    torch.save(compressai_model("bmshj2018-hyperprior").state_dict(), weights)
    assert import_cmd.main(["mbt2018-mean", "3", str(weights), "--out", str(tmp_path / "x")]) == 1
    assert "does not fit" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
