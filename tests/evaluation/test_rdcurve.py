from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from jlic.evaluation import rdcurve
from jlic.evaluation.rdcurve import RDCurve, RDCurveError

ANCHORS = Path(__file__).parents[2] / ".." / "shared" / "reference" / "kodak-rd"


def _curve(name="c"):
    results = {"bpp": [0.5, 0.1, 0.3], "psnr-rgb": [35.0, 28.0, 31.0], "ms-ssim-rgb": [0.99, 0.9, 0.95]}
    return RDCurve(name, results, "test curve")


def test_anchor_files_load_and_round_trip(tmp_path):
    if not ANCHORS.exists():
        pytest.skip("reference anchors not present")
    curves = rdcurve.load_many([ANCHORS])
    assert len(curves) == len(list(ANCHORS.glob("*.json")))
    for curve in curves:
        original = json.loads(Path(curve.source).read_text())
        out = rdcurve.save(curve, tmp_path / Path(curve.source).name)
        again = json.loads(out.read_text())
        assert again["results"] == original["results"]
        assert again["name"] == original["name"]
        assert again.get("meta") == original.get("meta")
        assert curve.has("psnr") == ("psnr-rgb" in original["results"])


def test_quality_db_and_ms_ssim_variants():
    c = _curve()
    np.testing.assert_allclose(c.quality_db("psnr"), [35.0, 28.0, 31.0])
    np.testing.assert_allclose(c.quality_db("ms-ssim"), [20.0, 10.0, -10 * np.log10(0.05)])
    only_db = RDCurve("p", {"bpp": [0.1, 0.2], "ms-ssim-db-rgb": [10.0, 12.0]})
    assert only_db.has("ms-ssim") and not only_db.has("psnr")
    np.testing.assert_allclose(only_db.quality_db("ms-ssim"), [10.0, 12.0])
    with pytest.raises(KeyError):
        only_db.quality_db("psnr")
    with pytest.raises(ValueError, match="unknown metric"):
        c.quality_db("ssim")


def test_sorted_merge_and_from_points():
    c = _curve().sorted()
    assert c.results["bpp"] == [0.1, 0.3, 0.5] and c.results["psnr-rgb"] == [28.0, 31.0, 35.0]
    a = RDCurve("a", {"bpp": [0.2], "psnr-rgb": [30.0], "lambda": [0.01]})
    b = RDCurve("b", {"bpp": [0.1], "psnr-rgb": [27.0]})
    m = rdcurve.merge([a, b], name="ab")
    assert m.name == "ab" and m.results == {"bpp": [0.1, 0.2], "psnr-rgb": [27.0, 30.0]}
    pts = [{"bpp": 0.4, "psnr-rgb": 33.0, "lambda": 0.02}, {"bpp": 0.2, "psnr-rgb": 30.0, "lambda": 0.01}]
    f = rdcurve.from_points("sweep", pts, kind="jlic")
    assert f.results["lambda"] == [0.01, 0.02] and f.extra == {"kind": "jlic"}


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    path = tmp_path / "sub" / "rd.json"
    rdcurve.save(_curve(), path)
    before = path.read_text()

    def boom(*_args, **_kw):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        rdcurve.save(_curve("other"), path)
    assert path.read_text() == before  # the old file is intact
    assert sorted(p.name for p in path.parent.iterdir()) == ["rd.json"]


def test_workdirs_files_and_folders(tmp_path):
    work = tmp_path / "run"
    rdcurve.save(_curve("mine"), work / "rd.json")
    rdcurve.save(_curve("x"), tmp_path / "anchors" / "x.json")
    rdcurve.save(_curve("y"), tmp_path / "anchors" / "y.json")
    names = [c.name for c in rdcurve.load_many([work, tmp_path / "anchors", tmp_path / "anchors" / "x.json"])]
    assert names == ["mine", "x", "y", "x"]
    assert rdcurve.load(work).name == "mine"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"name": "a"}', "missing 'results'"),
        ('{"name": "a", "results": {"psnr-rgb": [1.0]}}', "'bpp' list"),
        ('{"name": "a", "results": {"bpp": [0.1, 0.2], "psnr-rgb": [1.0]}}', "has 1 points"),
        ('{"name": "a", "results": {"bpp": [0.0], "psnr-rgb": [1.0]}}', "positive"),
        ('{"name": "a", "results": {"bpp": [0.1], "psnr-rgb": ["x"]}}', "list of numbers"),
    ],
)
def test_invalid_files_raise_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(RDCurveError, match=message) as info:
        rdcurve.load(path)
    assert "bad.json" in str(info.value)


def test_missing_file_and_empty_folder(tmp_path):
    with pytest.raises(RDCurveError, match="no such file"):
        rdcurve.load(tmp_path / "nope.json")
    with pytest.raises(RDCurveError, match="no RD JSON files"):
        rdcurve.load_many([tmp_path])
