"""Hostile images through `python -m jlic compress`: coded (EXIF orientation applied, warnings) or refused
with one line and exit 2; bombs refused from the header, `--max-pixels` raises the limit."""

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from jlic import commands as cli
from jlic.codec import export as checkpoint_mod


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory, small_model):
    model, params = small_model("bmshj2018-factorized")
    path = tmp_path_factory.mktemp("ckpt") / "model"
    checkpoint_mod.save_model(path, model, params)
    return path


def _chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def test_hostile_inputs(tmp_path, ckpt, capsys):
    rgb = np.random.default_rng(0).integers(0, 256, (12, 20, 3)).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait (rotate 90 degrees clockwise)
    Image.fromarray(rgb).save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    bomb = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 50000, 50000, 8, 2, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(b"\x00" * 4)) + _chunk(b"IEND", b""))
    (tmp_path / "bomb.png").write_bytes(bomb)
    Image.fromarray(rgb).save(tmp_path / "wide.png")
    (tmp_path / "dir.png").mkdir()
    out = tmp_path / "o.jlic"

    def run(*args):
        code = cli.main(["compress", "--checkpoint", str(ckpt), *map(str, args), str(out)])
        return code, capsys.readouterr().err.strip()

    code, err = run(tmp_path / "rotated.jpg")
    assert code == 0 and not err
    dec = tmp_path / "o.png"
    assert cli.main(["decompress", "--checkpoint", str(ckpt), str(out), str(dec)]) == 0
    assert np.asarray(Image.open(dec)).shape == (20, 12, 3)  # as a viewer shows the input
    for args, what in [((tmp_path / "bomb.png",), "50000x50000 = 2500000000 pixels, over the limit"),
                       (("--max-pixels", 100, tmp_path / "wide.png"), "over the limit of 100"),
                       ((tmp_path / "dir.png",), "is a directory")]:
        out.unlink(missing_ok=True)
        code, err = run(*args)
        assert code == 2 and err.count("\n") == 0 and what in err and "Traceback" not in err, err
        assert not out.exists()
    code, err = run("--max-pixels", 240, tmp_path / "wide.png")
    assert code == 0 and out.exists()
