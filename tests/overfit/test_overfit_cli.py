import numpy as np
import pytest
from PIL import Image

from jlic import commands as cli
from jlic.commands import overfit as ocli
from jlic.models import coolchic as C
from jlic.overfit import codec


def _coolchic_file(tmp_path):
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from test_overfit_codec import _random_quantized

    q = _random_quantized(C.get_config("coolchic", num_grids=3), 10, 14)
    path = tmp_path / "a.jlic"
    path.write_bytes(codec.encode(q, "coolchic"))
    return path


def test_routing(tmp_path):
    path = _coolchic_file(tmp_path)
    assert ocli.wants("decompress", [str(path), "out.png"])
    assert not ocli.wants("decompress", [str(tmp_path / "missing.jlic"), "out.png"])
    assert ocli.wants("compress", ["--overfit", "in.png", "out.jlic"])
    assert not ocli.wants("compress", ["--checkpoint", "x", "in.png", "out.jlic"])


def test_corrupt_and_missing_inputs_exit_2_with_one_line(tmp_path, capsys):
    path = _coolchic_file(tmp_path)
    data = bytearray(path.read_bytes())
    data[-20] ^= 0xFF
    path.write_bytes(bytes(data))
    assert cli.main(["decompress", str(path), str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("jlic decompress: error:") and "\n" not in err
    assert not (tmp_path / "o.png").exists()
    assert cli.main(["compress", "--overfit", str(tmp_path / "nope.png"), str(tmp_path / "o.jlic")]) == 2
    assert "no such file" in capsys.readouterr().err  # jlic.data.image.read_image_with_warnings


def test_decompress_writes_the_decoded_image(tmp_path):
    path = _coolchic_file(tmp_path)
    assert cli.main(["decompress", str(path), str(tmp_path / "o.png")]) == 0
    out = np.asarray(Image.open(tmp_path / "o.png"))
    np.testing.assert_array_equal(out, codec.decode(path.read_bytes()))


@pytest.mark.slow
def test_compress_overfit_then_decompress(tmp_path):
    rng = np.random.default_rng(0)
    img = np.clip(128 + np.cumsum(rng.normal(0, 6, (24, 32, 3)), axis=1), 0, 255).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "in.png")
    assert cli.main(["compress", "--overfit", "--iterations", "40", "--quiet", str(tmp_path / "in.png"),
                     str(tmp_path / "o.jlic")]) == 0
    assert cli.main(["decompress", str(tmp_path / "o.jlic"), str(tmp_path / "o.png")]) == 0
    assert np.asarray(Image.open(tmp_path / "o.png")).shape == img.shape
