from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from jlic.commands import baselines as baselines_command
from jlic.evaluation import baselines, classic, rdcurve
from jlic.metrics.bdrate import bd_psnr, bd_rate

ROOT = Path(__file__).parents[2]
KODAK = ROOT / ".." / "shared" / "data" / "kodak"
ANCHOR_JPEG = ROOT / ".." / "shared" / "reference" / "kodak-rd" / "jpeg.json"


def _image(i: int, h: int, w: int) -> np.ndarray:
    path = KODAK / f"kodim{i:02d}.png"
    if path.exists():
        return np.asarray(Image.open(path).convert("RGB"))[:h, :w].copy()
    rng = np.random.default_rng(i)
    yy, xx = np.mgrid[0:h, 0:w]
    base = 128 + 80 * np.sin(xx[..., None] / (5.0 + i) + np.arange(3)) * np.cos(yy[..., None] / 9.0)
    return np.clip(base + rng.normal(0, 6, (h, w, 3)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Two small PNGs (one large enough for MS-SSIM) and a non-image file that must be ignored."""
    d = tmp_path_factory.mktemp("imgs")
    Image.fromarray(_image(3, 176, 192)).save(d / "a.png")
    Image.fromarray(_image(4, 192, 168)).save(d / "b.png")
    (d / "notes.txt").write_text("not an image")
    return d


def test_cli_writes_anchor_shaped_curves_from_real_bytes(folder, tmp_path, capsys):
    out = tmp_path / "out"
    rc = baselines_command.main(["--data", str(folder), "--out", str(out), "--codecs", "jpeg,webp",
                         "--settings", "jpeg=20,80", "--settings", "webp=30,90", "-q"])
    assert rc == 0
    assert sorted(p.name for p in out.iterdir()) == ["jpeg.json", "webp.json"]
    curve = rdcurve.load(out / "jpeg.json")
    data = json.loads((out / "jpeg.json").read_text())
    assert set(data["results"]) == {"bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time"}
    assert data["settings"] == {"quality": [20.0, 80.0]}
    assert curve.name == "JPEG" and len(curve) == 2
    # Recompute the first point independently: Pillow bytes -> bpp, skimage PSNR, averaged over the images.
    imgs = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("*.png"))]
    bpps, psnrs = [], []
    for img in imgs:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=20)
        bpps.append(len(buf.getvalue()) * 8 / (img.shape[0] * img.shape[1]))
        rec = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
        psnrs.append(peak_signal_noise_ratio(img, rec, data_range=255))
    assert curve.results["bpp"][0] == pytest.approx(np.mean(bpps), rel=1e-12)
    assert curve.results["psnr-rgb"][0] == pytest.approx(np.mean(psnrs), abs=1e-6)
    assert 0.5 < curve.results["ms-ssim-rgb"][0] < curve.results["ms-ssim-rgb"][1] < 1.0
    assert "jpeg.json" in capsys.readouterr().out


def test_limit_and_small_images_skip_ms_ssim(folder, tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    Image.fromarray(_image(5, 40, 48)).save(small / "s.png")
    paths = baselines.run(small, tmp_path / "o", ["jpeg2000"], settings={"jpeg2000": (1.0, 2.0)})
    res = json.loads(paths[0].read_text())["results"]
    assert "ms-ssim-rgb" not in res and len(res["bpp"]) == 2
    assert len(baselines.find_images(folder, limit=1)) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--data", "{missing}"], "no such folder"),
        (["--data", "{empty}"], "no images"),
        (["--data", "{folder}", "--codecs", "bpg"], "unknown codec"),
        (["--data", "{folder}", "--settings", "jpeg="], "expected CODEC=v1,v2"),
        (["--data", "{folder}", "--settings", "jpeg=a,b"], "expected CODEC=v1,v2"),
    ],
)
def test_cli_errors(folder, tmp_path, capsys, argv, message):
    (tmp_path / "empty").mkdir()
    subst = {"missing": tmp_path / "nope", "empty": tmp_path / "empty", "folder": folder}
    argv = [a.format(**subst) for a in argv] + ["--out", str(tmp_path / "out")]
    assert baselines_command.main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not (KODAK.is_dir() and ANCHOR_JPEG.exists()), reason="Kodak or the JPEG anchor is absent")
def test_kodak_jpeg_matches_the_compressai_anchor():
    """All 24 Kodak images, 6 of the anchor's 19 qualities, PSNR only (~10 s).

    Tolerance: per-quality bpp within 0.5% of the anchor (the bytes are nearly identical), and the curve
    within 3% BD-rate / 0.2 dB BD-PSNR. Measured with Pillow 13 / libjpeg-turbo 3.2: bpp -0.01..-0.28%,
    PSNR +0.07..+0.13 dB above the anchor (computed with Pillow 7.1.2, an older libjpeg-turbo).
    """
    qualities = (10, 25, 40, 55, 70, 85)
    images = [baselines.load_rgb8(p) for p in baselines.find_images(KODAK)]
    assert len(images) == 24
    curve = baselines.evaluate_codec(classic.get("jpeg"), images, qualities, with_ms_ssim=False)
    anchor = json.loads(ANCHOR_JPEG.read_text())["results"]
    idx = [q // 5 - 1 for q in qualities]  # the anchor's qualities are 5, 10, ..., 95
    ref_bpp = np.asarray(anchor["bpp"])[idx]
    ref_psnr = np.asarray(anchor["psnr-rgb"])[idx]
    np.testing.assert_allclose(curve.results["bpp"], ref_bpp, rtol=5e-3)
    np.testing.assert_allclose(curve.results["psnr-rgb"], ref_psnr, atol=0.25)
    assert abs(bd_rate(ref_bpp, ref_psnr, curve.results["bpp"], curve.results["psnr-rgb"], "pchip")) < 3.0
    assert abs(bd_psnr(ref_bpp, ref_psnr, curve.results["bpp"], curve.results["psnr-rgb"], "pchip")) < 0.2
