"""Bad input to the overfitted codec: a diverging fit, 16-bit / alpha images, images smaller than the grids."""

import numpy as np
import pytest
from PIL import Image

from jlic import commands as cli
from jlic.models import coolchic as C
from jlic.overfit import codec, fit


def test_a_diverging_fit_raises_one_line():
    img = np.full((4, 6, 3), 100, np.uint8)
    with pytest.raises(fit.FitDivergedError, match="diverged") as e:
        fit.fit_image(img, float("nan"), C.get_config("coolchic", num_grids=2), fit.FitConfig(iterations=2))
    assert "\n" not in str(e.value)


@pytest.mark.slow
def test_cli_diverging_fit_exits_2_and_writes_nothing(tmp_path, capsys):
    Image.fromarray(np.full((3, 2, 3), 90, np.uint8)).save(tmp_path / "in.png")
    out = tmp_path / "o.jlic"
    assert cli.main(["compress", "--overfit", "--iterations", "3", "--lr", "1e38", "--quiet",
                     str(tmp_path / "in.png"), str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("jlic compress: error: the fit diverged") and "\n" not in err
    assert list(tmp_path.iterdir()) == [tmp_path / "in.png"]  # no output, no temporary file


@pytest.mark.slow
def test_cli_16_bit_alpha_and_1x1_images_code_with_one_line_warnings(tmp_path, capsys):
    rng = np.random.default_rng(0)
    rgba16 = rng.integers(0, 65535, (2, 3, 4)).astype(np.uint16)
    Image.fromarray(rgba16[..., 0]).save(tmp_path / "g16.png")  # 16-bit grey
    Image.fromarray(rgba16.astype(np.uint8)).save(tmp_path / "rgba.png")  # alpha
    Image.fromarray(rng.integers(0, 255, (1, 1, 3), dtype=np.uint8)).save(tmp_path / "one.png")  # < every grid
    for name, shape in (("g16", (2, 3, 3)), ("rgba", (2, 3, 3)), ("one", (1, 1, 3))):
        assert cli.main(["compress", "--overfit", "--iterations", "2", "--quiet", str(tmp_path / f"{name}.png"),
                         str(tmp_path / f"{name}.jlic")]) == 0
        assert codec.decode((tmp_path / f"{name}.jlic").read_bytes()).shape == shape
    err = capsys.readouterr().err.strip().splitlines()
    assert any("16-bit" in ln for ln in err) and any("alpha" in ln for ln in err)
