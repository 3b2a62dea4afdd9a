"""CompressAI's variable-rate models (Kamisli et al. 2024, arXiv 2402.18930) imported into kamisli2024-vbr.

Against the real CompressAI classes (small N/M, perturbed weights, tests/interop/vbr_models.py): the forward
pass (x_hat, likelihoods) at an integer level below the top, the top level and an interpolated level
(CompressAI's `inputscale` at the interpolated gain); real coding: jlic's bytes decode to the encoder's
latents bit for bit (with another jit setting and batch), the decoded reconstruction is CompressAI's
`decompress` output (the same symbols: any symbol difference moves x_hat far beyond the tolerance) and the
byte counts agree within 5% + 8 bytes. The default suite runs mbt2018-mean-vbr at levels 3 and 5.5; `-m slow`
the others, and every integer level plus 6.5 and 0.25 of all three against CompressAI's real coding.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from benchmarks.peers.compressai_models import test_image, to_torch
from jlic.interop import compressai as ci

pytestmark = pytest.mark.peers
pytest.importorskip("torch", reason="the peers extra (torch + compressai) is not installed")
pytest.importorskip("compressai", reason="the peers extra (compressai) is not installed")

from benchmarks.peers.vbr_models import coding_at, gain_at, make_vbr_model  # noqa: E402

NAMES = [pytest.param("bmshj2018-hyperprior-vbr", marks=pytest.mark.slow), "mbt2018-mean-vbr",
         pytest.param("mbt2018-vbr", marks=pytest.mark.slow)]
_NETS: dict[str, object] = {}
_APPLY: dict[str, object] = {}


def _net(name: str):
    if name not in _NETS:
        _NETS[name] = make_vbr_model(name)
    return _NETS[name]


def _compressai_args(net, level: float) -> dict:
    scale = gain_at(net, level)
    return {"stage": 2, "s": int(level), "inputscale": scale if level != int(level) else 0}


def _forward_gap(name: str, net, imp, image: np.ndarray, level: float) -> tuple[float, dict[str, float]]:
    import torch

    with torch.no_grad():
        ref = net(to_torch(image), **_compressai_args(net, level))
    if name not in _APPLY:  # one compile for every level (a traced argument) and for perturbed params
        model = imp.model
        _APPLY[name] = jax.jit(lambda p, x, lv: model.apply(p, x, level=lv))
    out = _APPLY[name](imp.params, image[None].astype(np.float32) / 255, np.float32(level))
    gap = float(np.abs(np.asarray(out.x_hat[0]) - ref["x_hat"][0].numpy().transpose(1, 2, 0)).max())
    bits = {}
    for k in ("y", "z"):
        ours = float(-np.log2(np.asarray(out.likelihoods[k], np.float64)).sum())
        theirs = float(-torch.log2(ref["likelihoods"][k].double()).sum())
        bits[k] = abs(ours - theirs) / max(theirs, 1.0)
    return gap, bits


@pytest.mark.parametrize("name", NAMES)
def test_forward_matches_compressai_at_levels(name):
    net = _net(name)
    imp = ci.import_compressai(name, net)
    assert imp.model.levels == 8 and imp.model.kwargs["variant"] == name.removesuffix("-vbr")
    image = test_image(64)
    for level in (3, 7, 5.5):
        gap, bits = _forward_gap(name, net, imp, image, level)
        assert gap < 1e-5, (level, gap)
        assert max(bits.values()) < 1e-4, (level, bits)


def test_a_perturbed_weight_breaks_the_forward_match():
    name = "mbt2018-mean-vbr"
    net = _net(name)
    sd = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    sd["QuantABCD.4.bias"] = sd["QuantABCD.4.bias"] + 0.05  # reconstruction offsets only
    gap, _ = _forward_gap(name, net, ci.import_compressai(name, sd), test_image(64), 5.0)
    assert gap > 1e-4, gap


def test_import_errors_are_one_line():
    sd = {k: v.detach().numpy().copy() for k, v in _net("mbt2018-mean-vbr").state_dict().items()}
    with pytest.raises(ValueError, match="positive"):
        ci.import_compressai("mbt2018-mean-vbr", {**sd, "Gain": -sd["Gain"]})
    with pytest.raises(ValueError, match="does not fit"):  # a mean-scale h_s is not a scale one
        ci.import_compressai("bmshj2018-hyperprior-vbr", sd)
    with pytest.raises(KeyError, match="Gain"):
        ci.import_compressai("mbt2018-vbr", {k: v for k, v in sd.items() if k != "Gain"})


def _compressai_coded(net, image: np.ndarray, level: float) -> tuple[np.ndarray, int]:
    """CompressAI's real coding of ``image`` at ``level``: (its ``decompress`` x_hat, HWC; its byte count)."""
    import torch

    coding_at(net, level)  # CompressAI's z tables of the level
    args = _compressai_args(net, level)
    with torch.no_grad():
        coded = net.compress(to_torch(image), **args)
        ref = net.decompress(coded["strings"], coded["shape"], **args)["x_hat"]
    return ref[0].numpy().transpose(1, 2, 0), sum(len(s[0]) for s in coded["strings"])


@pytest.mark.parametrize("name", NAMES)
def test_coding_matches_compressai(name):
    """Level 3 with CompressAI's own Gaussian tables (decoded without jit), 5.5 with jlic's (decoded 3
    positions per network call)."""
    from jlic.codec.codec import Codec
    from jlic.entropy import bitstream

    net = _net(name)
    image = test_image(64)
    coding_at(net, 3)  # CompressAI's update(): its Gaussian tables (the same at every level) for the import
    imp = ci.import_compressai(name, net)
    assert imp.tables is not None
    for level, own_tables, jit in ((3, True, False), (5.5, False, True)):
        ref, ref_bytes = _compressai_coded(net, image, level)
        enc = Codec(imp.model.at(level), imp.params, imp.tables if own_tables else None)
        data, latents = enc.compress_with_latents(image)
        # another jit setting or batch than the encoder's; the unbound decoder takes the level from the file
        dec = Codec(imp.model, imp.params, enc.tables, jit=jit, batch=3)
        _, decoded = dec.decompress_latents(data)
        for k in latents:
            np.testing.assert_array_equal(decoded[k], latents[k], err_msg=f"{name} level {level} {k}")
        x_hat = np.clip(np.asarray(dec.fn("synthesis")(imp.params, decoded["y_hat"]))[0], 0, 1)
        assert np.abs(x_hat - ref).max() < 1e-5, (level, np.abs(x_hat - ref).max())
        assert np.abs(dec.decompress(data).astype(int) - np.round(ref * 255)).max() <= 1
        assert np.count_nonzero(latents["y"]) > 0
        jlic_bytes = sum(len(s) for s in bitstream.unpack(data).streams)
        assert abs(jlic_bytes - ref_bytes) <= 0.05 * ref_bytes + 8, (level, jlic_bytes, ref_bytes)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["bmshj2018-hyperprior-vbr", "mbt2018-mean-vbr", "mbt2018-vbr"])
def test_every_level_and_between_matches_compressai(name):
    """Every integer level and two between: jlic's bytes decode to the encoder's latents, and the decoded
    image is the real CompressAI class's ``decompress`` output at that level (the same symbols: a symbol
    difference moves x_hat far beyond the tolerance), with byte counts within 5% + 8 bytes; sizes grow
    with the level."""
    from jlic.codec.codec import Codec
    from jlic.entropy import bitstream

    net = _net(name)
    image = test_image(128)[:64]  # CompressAI codes sizes that are multiples of 64 (h_s's output must fit y)
    imp = ci.import_compressai(name, net)
    decoder = Codec(imp.model, imp.params)  # jlic's own tables, as a checkpoint trained in jlic has
    sizes = []
    for level in (*range(8), 6.5, 0.25):
        ref, ref_bytes = _compressai_coded(net, image, level)
        data, latents = Codec(imp.model.at(level), imp.params, decoder.tables).compress_with_latents(image)
        # at this gain bmshj2018's levels 0 and 0.25 code only zeros (x_hat still CompressAI's); a larger g_a
        # gain (16) codes nonzero symbols there but moves x_hat's float error to 1e-3 (measured), over 1e-5
        assert level < 1 or np.count_nonzero(latents["y"]) > 0, level
        _, decoded = decoder.decompress_latents(data)
        for k in latents:
            np.testing.assert_array_equal(decoded[k], latents[k], err_msg=f"level {level} {k}")
        x_hat = np.clip(np.asarray(decoder.fn("synthesis")(imp.params, decoded["y_hat"]))[0], 0, 1)
        assert np.abs(x_hat - ref).max() < 1e-5, (level, np.abs(x_hat - ref).max())
        assert np.abs(decoder.decompress(data).astype(int) - np.round(ref * 255)).max() <= 1, level
        jlic_bytes = sum(len(s) for s in bitstream.unpack(data).streams)
        assert abs(jlic_bytes - ref_bytes) <= 0.05 * ref_bytes + 8, (level, jlic_bytes, ref_bytes)
        sizes.append(len(data))
    assert sizes[:8] == sorted(sizes[:8]) and sizes[6] <= sizes[8] <= sizes[7], sizes


@pytest.mark.slow
def test_import_cli_then_compress_at_a_level(tmp_path):
    """`python -m jlic import-compressai mbt2018-vbr` then `compress --level 2.5` / `decompress`."""
    import torch
    from PIL import Image

    from jlic import commands as cli
    from jlic.codec import rate_level
    from jlic.entropy import bitstream

    net = _net("mbt2018-vbr")
    torch.save(net.state_dict(), tmp_path / "w.pth.tar")
    ckpt = str(tmp_path / "ckpt")
    assert cli.main(["import-compressai", "mbt2018-vbr", "1", str(tmp_path / "w.pth.tar"), "--out", ckpt]) == 0
    Image.fromarray(test_image(64)).save(tmp_path / "in.png")
    out = str(tmp_path / "out.jlic")
    assert cli.main(["compress", "--checkpoint", ckpt, "--level", "2.5", str(tmp_path / "in.png"), out]) == 0
    c = bitstream.unpack((tmp_path / "out.jlic").read_bytes())
    assert rate_level._VALUE.unpack(c.extensions["rate_level"])[0] == 2.5
    assert cli.main(["decompress", "--checkpoint", ckpt, out, str(tmp_path / "out.png")]) == 0
    assert np.asarray(Image.open(tmp_path / "out.png")).shape == (64, 64, 3)


def test_zoo_url_table_has_the_vbr_files():
    from jlic.interop import pretrained as zoo

    assert zoo.url_for("mbt2018-mean-vbr", 1) == f"{zoo.COMPRESSAI_URL}/mbt2018-mean-mse-vbr-45d095e9.pth.tar"
    assert zoo.qualities("mbt2018-vbr") == [1]
    with pytest.raises(zoo.PretrainedError, match="only"):
        zoo.url_for("bmshj2018-hyperprior-vbr", 1, "ms-ssim")


@pytest.mark.slow
def test_zoo_download_convert_and_code_at_a_level(tmp_path):
    """The zoo path from a local server (tests/interop/zoo_server.py): download, convert, code at level 4.5."""
    import hashlib
    import io
    import json

    import torch

    from jlic.interop import pretrained as zoo
    from tests.interop.zoo_server import ZooServer

    name = "mbt2018-mean-vbr"
    buf = io.BytesIO()
    torch.save(_net(name).state_dict(), buf)
    data = buf.getvalue()
    fname = f"mbt2018-mean-mse-vbr-{hashlib.sha256(data).hexdigest()[:8]}.pth.tar"
    server = ZooServer()
    try:
        server.files[f"/zoo/{fname}"] = data
        index = tmp_path / "index.json"
        index.write_text(json.dumps({name: {"mse": {"1": f"{server.url}/zoo/{fname}"}}}))
        pre = zoo.load(name, 1, cache=tmp_path / "cache", index=index)
    finally:
        server.close()
    assert pre.model.name == "kamisli2024-vbr" and pre.model.kwargs["variant"] == "mbt2018-mean"
    from jlic.codec.conventions import make_codec

    image = test_image(64)
    data = make_codec(pre.model.at(4.5), pre.params, pre.tables, "compressai").compress(image)
    assert pre.codec().decompress(data).shape == image.shape
