import importlib
import json

import numpy as np
import pytest


@pytest.mark.slow
def test_overfit_sweep_writes_rd_json_png_report_and_resumes(tmp_path):
    from jlic.overfit.sweep import run_sweep

    c = importlib.import_module("experiments.configs.coolchic").get_config()
    with c.unlocked():
        c.lambdas = (0.005, 0.05)
        c.iterations = 30
        c.progress_bar = False
        c.model_kwargs.num_grids = 3
        c.eval.data, c.eval.limit, c.eval.crop = "embedded:astronaut", 1, 40
        c.eval.live_codecs = ("jpeg",)
        c.eval.anchors = ""
    run_sweep(c, tmp_path)
    rd = json.loads((tmp_path / "rd.json").read_text())["results"]
    assert len(rd["bpp"]) == 2 and all(np.isfinite(rd["psnr-rgb"]))
    rec = json.loads((tmp_path / "lambda_0.005" / "00.json").read_text())
    assert rec["bit_exact"] and rec["bytes"] == (tmp_path / "lambda_0.005" / "00.jlic").stat().st_size
    assert (tmp_path / "report.md").is_file() and (tmp_path / "rd.png").is_file()
    mtime = (tmp_path / "lambda_0.005" / "00.jlic").stat().st_mtime_ns
    run_sweep(c, tmp_path)  # resumes: nothing refitted
    assert (tmp_path / "lambda_0.005" / "00.jlic").stat().st_mtime_ns == mtime


def test_overfit_sweep_refuses_a_workdir_in_use(tmp_path):
    from jlic.overfit.sweep import run_sweep
    from jlic.train.workdir import WorkdirLock, WorkdirLockedError

    c = importlib.import_module("experiments.configs.coolchic").get_config()
    with WorkdirLock(tmp_path):  # another run holds it (flock conflicts across open files, same process too)
        with pytest.raises(WorkdirLockedError, match="in use by another run"):
            run_sweep(c, tmp_path)
    assert not (tmp_path / "config.json").exists()  # refused before writing anything
