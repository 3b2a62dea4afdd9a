"""benchmarks/budget.py: the anchor comparison, and one tiny run end to end (train, export, real bytes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import budget

KODAK = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def test_psnr_over_anchor_interpolates_in_log_bpp_and_refuses_outside_its_range():
    jpeg = json.loads((budget.ANCHORS / "jpeg.json").read_text())["results"]
    b0, b1 = jpeg["bpp"][0], jpeg["bpp"][1]
    p0, p1 = jpeg["psnr-rgb"][0], jpeg["psnr-rgb"][1]
    assert budget.psnr_over("jpeg", b0, p0 + 1.0) == pytest.approx(1.0)
    mid = (b0 * b1) ** 0.5  # halfway in log-bpp
    assert budget.psnr_over("jpeg", mid, (p0 + p1) / 2) == pytest.approx(0.0, abs=1e-9)
    assert budget.psnr_over("jpeg", b0 / 2, 30.0) is None


@pytest.mark.slow
def test_tiny_budget_run_writes_an_exported_model_and_a_real_bytes_record(tmp_path, monkeypatch):
    monkeypatch.setattr("benchmarks.records.RESULTS", tmp_path / "results")
    argv = ["--model", "mbt2018-mean", "--cpu-seconds", "2", "--crop", "64", "--batch", "2",
            "--data", f"folder:{KODAK / 'bsds200'}", "--eval", f"folder:{KODAK / 'kodak'}", "--eval-limit", "1",
            "--workdir", str(tmp_path)]
    assert budget.main(argv) == 0
    record = json.loads((tmp_path / "mbt2018-mean" / "record.json").read_text())
    assert record["train_cpu_s"] >= 2.0 and record["train_steps"] >= 2
    assert record["eval_images"] == 1 and record["real_bpp"] > 0
    # the real rate is the file's: above the model's estimate (header, table quantization) by a few percent.
    # Measured 2026-12-07 (AMD EPYC, load ~1, this run's settings): 0.2580 real vs 0.2464 estimated bpp, +4.7%;
    # the bound leaves room for the step count, which depends on the machine's speed within 2 CPU-s.
    gap = record["real_bpp"] / record["real_bpp-estimated"] - 1
    assert 0 < gap < 0.10, gap
    assert (tmp_path / "mbt2018-mean" / "export" / "model.json").exists()
