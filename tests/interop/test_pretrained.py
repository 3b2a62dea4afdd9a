"""The pretrained zoo without internet: a local HTTP server on 127.0.0.1 serves a small generated CompressAI
state_dict (a real CompressAI model with small N/M, saved by torch) under a zoo-style name carrying its
SHA-256 prefix. Checked: download + conversion + cache, refusal of a corrupt file, resume of a cut download,
the no-network message, CompressAI's own URL table, and the `python -m jlic pretrained` command."""

from __future__ import annotations

import hashlib
import io
import json
import socket
from pathlib import Path

import jax
import numpy as np
import pytest

from benchmarks.peers.compressai_models import SMALL, test_image
from jlic.interop import pretrained as zoo
from tests.interop.zoo_server import ZooServer

NAME = "bmshj2018-hyperprior"


def test_url_table_is_compressais():
    assert zoo.url_for(NAME, 3) == f"{zoo.COMPRESSAI_URL}/bmshj2018-hyperprior-3-6d87be32.pth.tar"
    assert zoo.url_for("cheng2020-attn", 6, "ms-ssim").endswith("/cheng2020_attn-ms-ssim-6-216423ec.pth.tar")
    assert zoo.qualities("cheng2020-anchor") == list(range(1, 7))
    assert zoo.qualities("mbt2018") == list(range(1, 9))
    assert zoo.url_for(NAME, 1, base_url="http://mirror/x/").startswith("http://mirror/x/bmshj2018-hyperprior-1-")
    with pytest.raises(zoo.PretrainedError, match="qualities 1..6"):
        zoo.url_for("cheng2020-anchor", 7)
    with pytest.raises(zoo.PretrainedError, match="available"):
        zoo.url_for("nope", 1)


@pytest.fixture(scope="module")
def weights():
    """(bytes, sha256) of a small trained CompressAI ScaleHyperprior state_dict saved by torch.save."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("compressai")
    from benchmarks.peers.compressai_models import make_compressai_model

    net = make_compressai_model(NAME)
    buf = io.BytesIO()
    torch.save(net.state_dict(), buf)
    data = buf.getvalue()
    return data, hashlib.sha256(data).hexdigest(), net


@pytest.fixture
def server():
    s = ZooServer()
    yield s
    s.close()


def _index(tmp_path, server, data, digest, quality=3):
    fname = f"{NAME}-{quality}-{digest[:8]}.pth.tar"
    server.files[f"/zoo/{fname}"] = data
    index = tmp_path / "index.json"
    index.write_text(json.dumps({NAME: {"mse": {str(quality): f"{server.url}/zoo/{fname}"}}}))
    return index, fname


@pytest.mark.peers
def test_download_convert_and_cache(tmp_path, server, weights):
    data, digest, net = weights
    index, fname = _index(tmp_path, server, data, digest)
    cache = tmp_path / "cache"
    pre = zoo.load(NAME, 3, cache=cache, index=index)
    assert (cache / "compressai" / fname).read_bytes() == data
    assert pre.checkpoint == cache / "pretrained" / f"{NAME}_mse_q3"
    assert (pre.model.name, pre.model.kwargs["N"], pre.model.kwargs["M"]) == (NAME, SMALL["N"], SMALL["M"])
    from jlic.interop.compressai import import_compressai

    ref = import_compressai(NAME, net, 3)
    for a, b in zip(jax.tree.leaves(pre.params), jax.tree.leaves(ref.params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert pre.tables is not None and pre.tables.digest() == ref.tables.digest()  # CompressAI's own tables
    image = test_image(64)
    codec = pre.codec()
    assert codec.decompress(codec.compress(image)).shape == image.shape

    requests = len(server.log)
    server.close()  # the second call must not need the network
    again = zoo.load(NAME, 3, cache=cache, index=index)
    assert len(server.log) == requests and again.checkpoint == pre.checkpoint


@pytest.mark.peers
def test_corrupt_download_is_refused_and_deleted(tmp_path, server, weights):
    data, digest, _ = weights
    bad = bytearray(data)
    bad[len(bad) // 2] ^= 0xFF
    index, fname = _index(tmp_path, server, bytes(bad), digest)
    cache = tmp_path / "cache"
    with pytest.raises(zoo.PretrainedError, match=f"does not start with {digest[:8]}"):
        zoo.fetch(NAME, 3, cache=cache, index=index)
    assert not list((cache / "compressai").iterdir())  # neither the file nor a .part is left
    assert not (cache / "pretrained").exists()
    # A corrupt file placed by hand in the cache is refused the same way.
    (cache / "compressai" / fname).write_bytes(bytes(bad))
    with pytest.raises(zoo.PretrainedError, match="corrupt"):
        zoo.fetch(NAME, 3, cache=cache, index=index)
    assert not (cache / "compressai" / fname).exists()


@pytest.mark.peers
def test_cut_download_resumes_with_a_range_request(tmp_path, server, weights):
    data, digest, _ = weights
    index, fname = _index(tmp_path, server, data, digest)
    cache = tmp_path / "cache"
    cut = len(data) // 3
    server.cut_next = cut
    with pytest.raises(zoo.PretrainedError, match=f"cut after {cut} of {len(data)} bytes"):
        zoo.fetch(NAME, 3, cache=cache, index=index)
    part = cache / "compressai" / (fname + ".part")
    assert part.stat().st_size == cut
    directory = zoo.fetch(NAME, 3, cache=cache, index=index)
    assert (directory / "model.json").exists()
    assert server.log[-1]["range"] == f"bytes={cut}-" and server.log[-1]["sent"] == len(data) - cut
    assert (cache / "compressai" / fname).read_bytes() == data and not part.exists()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_network_names_the_url_and_the_manual_path(tmp_path):
    base = f"http://127.0.0.1:{_closed_port()}/models"
    with pytest.raises(zoo.PretrainedError) as e:
        zoo.fetch(NAME, 2, cache=tmp_path, base_url=base, timeout=5)
    msg = str(e.value)
    url = f"{base}/bmshj2018-hyperprior-2-93677231.pth.tar"
    assert url in msg and str(tmp_path / "compressai" / "bmshj2018-hyperprior-2-93677231.pth.tar") in msg
    assert "93677231" in msg and "\n" not in msg


@pytest.mark.peers
def test_mirror_with_the_wrong_file_is_refused(tmp_path, server, weights):
    data, _, _ = weights
    server.files["/v1/bmshj2018-hyperprior-3-6d87be32.pth.tar"] = data  # not CompressAI's published file
    with pytest.raises(zoo.PretrainedError, match="does not start with 6d87be32"):
        zoo.fetch(NAME, 3, cache=tmp_path, base_url=f"{server.url}/v1")


@pytest.mark.peers
def test_cli_pretrained_writes_a_checkpoint_eval_accepts(tmp_path, server, weights, monkeypatch, capsys):
    from PIL import Image

    from jlic import commands as cli

    data, digest, _ = weights
    index, _ = _index(tmp_path, server, data, digest)
    monkeypatch.setenv("JLIC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("JLIC_PRETRAINED_INDEX", str(index))
    out = tmp_path / "ckpt"
    assert cli.main(["pretrained", NAME, "--quality", "3", "--out", str(out)]) == 0
    assert (out / "model.json").exists() and (out / "coding_tables.npz").exists()
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    Image.fromarray(test_image(64)).save(imgs / "a.png")
    results = {}
    for convention in ("jlic", "compressai"):
        js = tmp_path / f"{convention}.json"
        assert cli.main(["eval", "--checkpoint", str(out), "--data", str(imgs), "--convention", convention,
                         "--json", str(js)]) == 0
        (res,) = json.loads(js.read_text()).values()
        assert res["convention"] == convention
        results[convention] = res["mean"]["bytes"]
    assert results["compressai"] < results["jlic"]  # stream bytes only vs the whole file (and other padding)
    assert cli.main(["pretrained", NAME, "--quality", "5"]) == 2
    assert "no bmshj2018-hyperprior mse q5" in capsys.readouterr().err


@pytest.mark.peers
def test_reproduce_command_on_served_test_weights(tmp_path, server, weights, capsys):
    """README's reproduce command, on two qualities of small served test weights instead of the zoo's."""
    from PIL import Image

    from jlic import commands as cli
    from jlic.evaluation.rdcurve import load

    data, digest, _ = weights
    index, _ = _index(tmp_path, server, data, digest, quality=1)
    table = json.loads(index.read_text())  # the same test weights stand in for quality 2
    server.files[f"/zoo/{NAME}-2-{digest[:8]}.pth.tar"] = data
    table[NAME]["mse"]["2"] = f"{server.url}/zoo/{NAME}-2-{digest[:8]}.pth.tar"
    index.write_text(json.dumps(table))
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    Image.fromarray(test_image(128)[:100]).save(imgs / "a.png")  # 100 x 128: zero padding matters
    work = tmp_path / "repro"
    assert cli.main(["reproduce", NAME, "--quality", "1,2", "--data", str(imgs), "--workdir", str(work),
                     "--index", str(index), "--cache", str(tmp_path / "cache")]) == 0
    curve = load(work / "rd.json")
    assert len(curve) == 2 and curve.extra["convention"] == "compressai"
    assert sorted(curve.results["lambda"]) == [0.0018, 0.0035]
    assert (work / "rd.png").stat().st_size > 0
    report = (work / "report.md").read_text()
    assert "Convention: compressai" in report and "imported weights (CompressAI zoo)" in report
    if Path("../shared/reference/kodak-rd/compressai-bmshj2018-hyperprior_mse_cpu.json").exists():
        assert "| bmshj2018-hyperprior | anchor |" in report  # CompressAI's published curve
