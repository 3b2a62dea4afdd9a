from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from jlic.commands import plot as plot_c
from jlic.evaluation import plot, rdcurve
from jlic.evaluation.rdcurve import RDCurve

BPP = [0.1, 0.2, 0.4, 0.8, 1.6]
PSNR = [27.0, 29.5, 32.0, 34.5, 37.0]
MSSSIM = [0.90, 0.94, 0.965, 0.98, 0.99]


def _curve(name: str, rate_scale: float = 1.0, psnr_shift: float = 0.0, msssim: bool = True) -> RDCurve:
    results = {"bpp": [b * rate_scale for b in BPP], "psnr-rgb": [p + psnr_shift for p in PSNR]}
    if msssim:
        results["ms-ssim-rgb"] = MSSSIM
    return RDCurve(name, results)


def _cells(table: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()]


def test_bd_table_values_and_na():
    anchors = [_curve("JPEG"), RDCurve("far", {"bpp": [5.0, 6.0], "psnr-rgb": [50.0, 51.0]})]
    curves = [_curve("mine", rate_scale=0.8), _curve("psnr-only", msssim=False)]
    rows = _cells(plot.bd_table(curves, anchors, "psnr", "pchip"))
    assert rows[0] == ["curve", "JPEG", "far"]
    assert rows[2] == ["mine", "-20.00%", "n/a"]  # 0.8x the rate at every quality; no overlap with "far"
    assert rows[3] == ["psnr-only", "+0.00%", "n/a"]
    ms = _cells(plot.bd_table(curves, anchors, "ms-ssim", "cubic"))
    assert ms[2][1] == "-20.00%" and ms[3][1] == "n/a"  # no MS-SSIM values
    db = _cells(plot.bd_table([_curve("up", psnr_shift=0.5)], anchors[:1], "psnr", quantity="psnr"))
    assert db[2] == ["up", "+0.50 dB"]
    with pytest.raises(ValueError, match="unknown BD method"):
        plot.bd_table(curves, anchors, method="akima")


def test_classic_and_labels(tmp_path):
    a = rdcurve.save(_curve("JPEG"), tmp_path / "a" / "jpeg.json")
    b = rdcurve.save(_curve("JPEG"), tmp_path / "b" / "jpeg.json")
    c = rdcurve.save(_curve("JPEG"), tmp_path / "b" / "jpeg-444.json")
    curves = [rdcurve.load(p) for p in (a, b, c)]
    assert plot.labels(curves) == ["JPEG (a)", "JPEG (b)", "JPEG (jpeg-444)"]
    assert plot.is_classic(curves[0]) and plot.is_classic(RDCurve("VTM", {"bpp": [1.0]}))
    assert not plot.is_classic(_curve("bmshj2018-hyperprior"))
    hyper = rdcurve.save(_curve("hyper"), tmp_path / "compressai-bmshj2018-hyperprior_mse_cpu.json")
    assert not plot.is_classic(rdcurve.load(hyper))


@pytest.mark.parametrize("metric", ["psnr", "ms-ssim"])
def test_plot_rd_writes_a_png(tmp_path, metric):
    out = plot.plot_rd([_curve("mine", 0.8)], tmp_path / "x" / "rd.png", metric, anchors=[_curve("JPEG", 1.5)])
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size[0] > 500
        pixels = np.asarray(im.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20  # something was drawn
    assert [p.name for p in out.parent.iterdir()] == ["rd.png"]  # no temp files left
    with pytest.raises(ValueError, match="no curve has ms-ssim"):
        plot.plot_rd([_curve("p", msssim=False)], tmp_path / "y.png", "ms-ssim")


def test_cli_workdir_and_anchor_folder(tmp_path, capsys):
    work = tmp_path / "run"
    rdcurve.save(_curve("jlic-hyperprior", 0.5), work / "rd.json")
    anchors = tmp_path / "anchors"
    rdcurve.save(_curve("JPEG"), anchors / "jpeg.json")
    rdcurve.save(_curve("WebP", 0.8), anchors / "webp.json")
    rdcurve.save(_curve("other", 0.9), anchors / "other.json")  # not a default anchor name
    assert plot_c.main([str(work), "--anchors", str(anchors)]) == 0
    assert (work / "rd.png").exists()
    text = (work / "report.md").read_text()
    assert text.strip() in capsys.readouterr().out  # the report is also printed
    rows = _cells(text.split("\n\n")[3])
    assert rows[0] == ["curve", "JPEG", "WebP"]  # default anchors present in the folder: jpeg, webp
    assert rows[2] == ["jlic-hyperprior", "-50.00%", "-37.50%"]
    # --anchor-glob picks files; --reference compares everything to one curve
    out = tmp_path / "o" / "plot.png"
    assert plot_c.main([str(work), "--anchors", str(anchors), "--anchor-glob", "*.json", "--reference", "JPEG",
                      "--out", str(out), "--metric", "ms-ssim", "--bd-method", "cubic"]) == 0
    rows = _cells((tmp_path / "o" / "report.md").read_text().split("\n\n")[3])
    assert rows[0] == ["curve", "JPEG"]
    assert [r[0] for r in rows[2:]] == ["jlic-hyperprior", "other", "WebP"]
    assert rows[2][1] == "-50.00%"


def test_cli_errors(tmp_path, capsys):
    assert plot_c.main([str(tmp_path / "missing.json")]) == 2
    assert "no such file" in capsys.readouterr().err
    rdcurve.save(_curve("a"), tmp_path / "a.json")
    assert plot_c.main([str(tmp_path / "a.json"), "--reference", "zzz", "--out", str(tmp_path / "p.png")]) == 2
    assert "matches no curve" in capsys.readouterr().err
