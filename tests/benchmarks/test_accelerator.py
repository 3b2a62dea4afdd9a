"""The accelerator run (benchmarks/accelerator): wheel list and commands, and its CPU dry run end to end.

The dry run is the same script the lent GPU machine runs, with tiny sizes (`--tiny`): every stage runs
(env, tests, sync, train_step, training), the wheel install only checked. It must detect and record that it
ran on the CPU.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.accelerator import prepare, wheels

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_list_is_one_version_each_and_covers_the_needs():
    names = [wheels.normalize(w.name) for w in wheels.WHEELS]
    assert len(names) == len(set(names))
    # the packages of setup.cfg's install_requires that the device image lacks, and the peer
    for need in ("constriction", "ml-collections", "grain", "tensorboardx", "compressai"):
        assert need in names
    # grain's and compressai's needs that the image lacks
    for need in ("array-record", "portpicker", "pytorch-msssim"):
        assert need in names


def test_download_commands_follow_the_device_recipe(tmp_path):
    cmds = wheels.download_commands(tmp_path / ".whl", python="python3")
    assert len(cmds) == len(wheels.WHEELS)
    for cmd, w in zip(cmds, wheels.WHEELS, strict=True):
        assert cmd[:4] == ["python3", "-m", "pip", "download"]
        for flag in ("--no-deps", "--only-binary=:all:", "--implementation"):
            assert flag in cmd
        assert cmd[cmd.index("--python-version") + 1] == "3.12"
        plats = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--platform"]
        assert "manylinux2014_x86_64" in plats and "manylinux_2_34_x86_64" in plats  # compressai's tag
        assert cmd[-1] == f"{w.name}=={w.version}"


def test_install_command_and_folder_check(tmp_path):
    folder = tmp_path / ".whl"
    folder.mkdir()
    res = wheels.check_folder(folder)
    assert not res["ok"] and len(res["errors"]) == len(wheels.WHEELS)  # all missing
    for w in wheels.WHEELS:  # empty files with the index's names: the check reads names only
        (folder / f"{w.name.replace('-', '_')}-{w.version}-py3-none-any.whl").write_bytes(b"")
    res = wheels.check_folder(folder)
    assert res["ok"], res["errors"]
    (folder / "grain-0.2.17-cp312-cp312-manylinux_2_28_x86_64.whl").write_bytes(b"")
    res = wheels.check_folder(folder)
    assert not res["ok"]
    assert any("2 versions" in e for e in res["errors"]) and any("pins 0.2.18" in e for e in res["errors"])
    cmd = wheels.install_command(folder, "/tmp/site", python="python3")
    assert cmd[:4] == ["python3", "-m", "pip", "install"]
    for flag in ("--no-index", "--no-deps", "--no-compile", "--no-cache-dir", "--upgrade"):
        assert flag in cmd
    assert cmd[cmd.index("--target") + 1] == "/tmp/site"
    assert sum(a.endswith(".whl") for a in cmd) == len(wheels.WHEELS) + 1


def test_crop_boxes_include_a_padded_shape():
    boxes = prepare.crop_boxes(4, 64)
    assert [b[2:] for b in boxes] == [(64, 64), (64, 64), (64, 64), (48, 80)]


@pytest.mark.skipif(not prepare.KODAK.is_dir() or not prepare.BSDS.is_dir(), reason="../shared/data missing")
def test_cpu_dry_run_runs_every_stage(tmp_path):
    data, out = tmp_path / "accel", tmp_path / "out"
    assert prepare.main(["--no-wheels", "--crops", "2", "--crop-size", "64", "--eval-images", "0",
                         "--train-images", "3", "--data", str(data), "--wheels", str(tmp_path / "none")]) == 0
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "benchmarks.accelerator.run", "--tiny", "--out", str(out),
                           "--data", str(data), "--wheels", str(tmp_path / "none")],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    files = sorted(p.name for p in out.iterdir())
    assert len(files) <= 8, files  # all that comes back from the device
    (final,) = [f for f in files if f.startswith("accelerator-")]
    rec = json.loads((out / final).read_text())
    assert rec["mode"] == "tiny" and rec["total_s"] <= wall
    assert rec["install"]["status"] == "dry" and "--target /tmp/site" in rec["install"]["command"]
    assert not rec["install"]["check"]["ok"]  # no wheel folder here: named, not ignored
    st = rec["stages"]
    assert list(st) == ["env", "tests", "sync", "train_step", "training"]
    assert all(s["status"] == "ok" for s in st.values()), {k: s["status"] for k, s in st.items()}

    env = st["env"]["record"]
    assert env["accelerator"]["on_accelerator"] is False and env["jax"]["backend"] == "cpu"
    assert any("ran on CPU" in s for s in env["summary"])
    assert env["wheels"]["packages"]["constriction"]["import"] == "ok"

    tests = st["tests"]["record"]
    assert tests["counts"]["passed"] > 0 and tests["counts"]["failed"] == 0

    sync = st["sync"]["record"]
    assert sync["cross_device"] is False
    for name, m in sync["models"].items():
        f = m["float"]
        assert f["files_total"] == 2 * 2 and f["in_sync_total"] == f["files_total"], (name, f)
        assert m["deterministic"] == "absent" or isinstance(m["deterministic"], dict)

    (run,) = st["train_step"]["record"]["runs"]
    assert run["status"] == "ok" and run["model"] == "bmshj2018-factorized"
    res = run["record"]["results"]["bmshj2018-factorized"]
    assert run["record"]["device"] == "cpu" and res["jlic"]["backend"] == "cpu"
    assert res["jlic"]["step_s"] > 0 and res["jlic"]["loss_last"] > 0
    try:
        import compressai  # noqa: F401
    except ImportError:
        pass
    else:
        assert res["compressai"]["step_s"] > 0 and res["ratio_jlic_over_compressai"] > 0

    tr = st["training"]["record"]
    assert tr["steps"] == 2 and tr["steps_per_s"] > 0 and tr["config"]["backend"] == "cpu"
    assert tr["eval"]["images"] == 2 and tr["eval"]["bpp"] > 0 and tr["eval"]["psnr-rgb"] > 0
    log = (out / "log.txt").read_text()
    assert "training: ok" in log
