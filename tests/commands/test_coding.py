"""Tests of jlic.commands.coding: compress/decompress/eval through the dispatcher, errors, odd images."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from jlic import commands as cli
from jlic.codec import codec
from jlic.codec import export as checkpoint_mod
from jlic.commands import coding as coding_cli
from jlic.entropy import bitstream

REPO = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def loaded():
    return {}


@pytest.fixture(autouse=True)
def reuse_loaded_codecs(monkeypatch, loaded):
    """Each CLI call loads the checkpoint and compiles; within this test module, load each one once."""
    real = coding_cli.load_codec

    def load_once(path, *args, **kwargs):
        key = str(path) if not (args or kwargs) else (str(path), args, tuple(sorted(kwargs.items())))
        if key not in loaded:
            loaded[key] = real(path, *args, **kwargs)
        return loaded[key]

    monkeypatch.setattr(coding_cli, "load_codec", load_once)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory, small_model):
    model, params = small_model("bmshj2018-hyperprior")
    path = tmp_path_factory.mktemp("ckpt") / "model"
    checkpoint_mod.save_model(path, model, params)
    return path


def write(path, array, mode=None):
    Image.fromarray(array, mode=mode).save(path)
    return path


def rgb(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3)).astype(np.uint8)


def test_round_trip_through_the_dispatcher(tmp_path, ckpt, capsys):
    src = write(tmp_path / "in.png", rgb(30, 45))
    assert cli.main(["compress", "--checkpoint", str(ckpt), str(src), str(tmp_path / "a.jlic")]) == 0
    assert "bpp" in capsys.readouterr().out
    argv = ["decompress", "--checkpoint", str(ckpt), str(tmp_path / "a.jlic"), str(tmp_path / "o.png")]
    assert cli.main(argv) == 0
    out = np.asarray(Image.open(tmp_path / "o.png"))
    model, params = checkpoint_mod.load_model(ckpt)
    expected = codec.Codec(model, params).decompress((tmp_path / "a.jlic").read_bytes())
    np.testing.assert_array_equal(out, expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jlic", "in.png", "o.png"]  # no temp files left


@pytest.mark.parametrize(
    "array, mode, warning",
    [
        (np.full((7, 5), 100, np.uint8), "L", None),
        (np.random.default_rng(0).integers(0, 256, (6, 9, 4)).astype(np.uint8), "RGBA", "alpha"),
        ((np.arange(48).reshape(6, 8) * 1000).astype(np.uint16), None, "16-bit"),
        (rgb(1, 1), "RGB", None),
    ],
)
def test_odd_images(tmp_path, ckpt, capsys, array, mode, warning):
    src = write(tmp_path / "in.png", array, mode)
    assert coding_cli.compress_main(["--checkpoint", str(ckpt), str(src), str(tmp_path / "a.jlic")]) == 0
    err = capsys.readouterr().err
    assert (warning in err) if warning else ("warning" not in err)
    argv = ["decompress", "--checkpoint", str(ckpt), str(tmp_path / "a.jlic"), str(tmp_path / "o.png")]
    assert cli.main(argv) == 0
    assert np.asarray(Image.open(tmp_path / "o.png")).shape == (*array.shape[:2], 3)


def test_palette_image(tmp_path, ckpt):
    src = tmp_path / "p.png"
    Image.fromarray(rgb(8, 8)).convert("P").save(src)
    assert coding_cli.compress_main(["--checkpoint", str(ckpt), str(src), str(tmp_path / "a.jlic")]) == 0


def test_errors_are_one_line_with_exit_code_2(tmp_path, ckpt, capsys):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    good = write(tmp_path / "in.png", rgb(8, 8))
    cases = [
        ["compress", "--checkpoint", str(ckpt), str(tmp_path / "missing.png"), str(tmp_path / "x.jlic")],
        ["compress", "--checkpoint", str(ckpt), str(text), str(tmp_path / "x.jlic")],
        ["compress", "--checkpoint", str(ckpt), str(tmp_path), str(tmp_path / "x.jlic")],
        ["compress", "--checkpoint", str(tmp_path / "nockpt"), str(good), str(tmp_path / "x.jlic")],
        ["compress", "--checkpoint", str(ckpt), str(good), str(tmp_path / "nodir" / "x.jlic")],
        ["decompress", "--checkpoint", str(ckpt), str(tmp_path / "missing.jlic"), str(tmp_path / "x.png")],
        ["decompress", "--checkpoint", str(ckpt), str(text), str(tmp_path / "x.png")],
    ]
    for argv in cases:
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "error" in err and "Traceback" not in err, err
    assert not (tmp_path / "x.jlic").exists() and not (tmp_path / "x.png").exists()


def test_corrupt_file_leaves_no_output_and_no_checkpoint_is_explained(tmp_path, ckpt, capsys, monkeypatch):
    src = write(tmp_path / "in.png", rgb(16, 16))
    assert coding_cli.compress_main(["--checkpoint", str(ckpt), str(src), str(tmp_path / "a.jlic")]) == 0
    data = bytearray((tmp_path / "a.jlic").read_bytes())
    data[-5] ^= 0x40  # the stream's last byte (the CRC32 is the 4 bytes after it)
    (tmp_path / "b.jlic").write_bytes(bytes(data))
    argv = ["--checkpoint", str(ckpt), str(tmp_path / "b.jlic"), str(tmp_path / "o.png")]
    assert coding_cli.decompress_main(argv) == 2
    assert "CRC32" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()
    monkeypatch.delenv("JLIC_CHECKPOINT", raising=False)
    assert coding_cli.decompress_main([str(tmp_path / "a.jlic"), str(tmp_path / "o.png")]) == 2
    assert "--checkpoint" in capsys.readouterr().err
    monkeypatch.setenv("JLIC_CHECKPOINT", str(ckpt))
    assert coding_cli.decompress_main([str(tmp_path / "a.jlic"), str(tmp_path / "o.png")]) == 0


def test_eval_prints_per_image_and_mean(tmp_path, ckpt, capsys):
    data = tmp_path / "imgs"
    data.mkdir()
    write(data / "a.png", rgb(20, 24, 1))
    write(data / "b.png", rgb(20, 24, 2))
    (data / "readme.txt").write_text("ignored")
    out_json = tmp_path / "r.json"
    argv = ["--checkpoint", str(ckpt.parent), "--data", str(data), "--json", str(out_json)]
    assert coding_cli.eval_main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("a.png") for line in lines) and any(line.startswith("mean") for line in lines)
    result = json.loads(out_json.read_text())[str(ckpt)]
    assert len(result["images"]) == 2
    assert result["mean"]["bpp"] == pytest.approx(np.mean([r["bpp"] for r in result["images"]]))
    assert result["images"][0]["bytes"] * 8 / (20 * 24) == pytest.approx(result["images"][0]["bpp"])
    assert coding_cli.eval_main(["--checkpoint", str(ckpt), "--data", str(tmp_path / "nothing")]) == 2


@pytest.mark.slow
def test_python_dash_m_jlic(tmp_path, ckpt):
    src = write(tmp_path / "in.png", rgb(9, 9))
    def run(*a):
        return subprocess.run([sys.executable, "-m", "jlic", *a], cwd=REPO, capture_output=True, text=True)

    assert run("compress", "--checkpoint", str(ckpt), str(src), str(tmp_path / "a.jlic")).returncode == 0
    bad = run("compress", "--checkpoint", str(ckpt), str(tmp_path / "nope.png"), str(tmp_path / "b.jlic"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_stored_tables_are_used_and_give_the_same_file(tmp_path, ckpt, loaded):
    src = write(tmp_path / "in.png", rgb(12, 12))
    assert coding_cli.compress_main(["--checkpoint", str(ckpt), str(src), str(tmp_path / "a.jlic")]) == 0
    copy = tmp_path / "exported"
    checkpoint_mod.save_model(copy, *checkpoint_mod.load_model(ckpt))
    path = coding_cli.export_tables(copy)
    assert path.exists()
    codec_with_tables = coding_cli.load_codec(copy)
    assert codec_with_tables.tables.digest() == loaded[str(ckpt)].tables.digest()
    assert codec_with_tables.compress(np.asarray(Image.open(src))) == (tmp_path / "a.jlic").read_bytes()
    path.write_bytes(b"garbage")
    loaded.pop(str(copy), None)
    assert coding_cli.compress_main(["--checkpoint", str(copy), str(src), str(tmp_path / "b.jlic")]) == 2


def test_tile_flag(tmp_path, ckpt, capsys, monkeypatch):
    monkeypatch.setenv("JLIC_TILE_ABOVE", "0")  # tile even this small image
    src = write(tmp_path / "in.png", rgb(70, 100))
    out = tmp_path / "t.jlic"
    assert cli.main(["compress", "--tile", "64", "--checkpoint", str(ckpt), str(src), str(out)]) == 0
    assert "tiles" in bitstream.unpack(out.read_bytes()).extensions
    assert cli.main(["decompress", "--checkpoint", str(ckpt), str(out), str(tmp_path / "o.png")]) == 0
    assert np.asarray(Image.open(tmp_path / "o.png")).shape == (70, 100, 3)
    capsys.readouterr()
    assert cli.main(["compress", "--tile", "8", "--checkpoint", str(ckpt), str(src), str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "smaller than the model's stride 64" in err and "\n" not in err
