import json

import numpy as np

from jlic.train.logging import MetricsLogger, Progress, read_jsonl, truncate_jsonl


def test_jsonl_and_tensorboard(tmp_path):
    with MetricsLogger(tmp_path) as log:
        log.write(1, {"loss": np.float32(1.5), "bpp": 0.25})
        # flushed immediately: readable while the logger is open
        assert read_jsonl(tmp_path / "metrics.jsonl") == [{"step": 1, "tag": "train", "loss": 1.5, "bpp": 0.25}]
        log.write(2, {"loss": float("nan")}, tag="eval")
    recs = read_jsonl(tmp_path / "metrics.jsonl")
    assert recs[1] == {"step": 2, "tag": "eval", "loss": "nan"}
    events = list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0


def test_truncate_while_open_keeps_logging(tmp_path):
    with MetricsLogger(tmp_path, tensorboard=False) as log:
        for s in (1, 2, 3):
            log.write(s, {"loss": float(s)})
        log.truncate(lambda r: r["step"] <= 1)
        log.write(2, {"loss": 20.0})
    assert [(r["step"], r["loss"]) for r in read_jsonl(tmp_path / "metrics.jsonl")] == [(1, 1.0), (2, 20.0)]


def test_read_ignores_partial_line_and_truncate(tmp_path):
    p = tmp_path / "metrics.jsonl"
    p.write_text(json.dumps({"step": 1}) + "\n" + json.dumps({"step": 5}) + "\n" + '{"step": 9, "lo')
    assert [r["step"] for r in read_jsonl(p)] == [1, 5]
    truncate_jsonl(p, lambda r: r["step"] <= 3)
    assert read_jsonl(p) == [{"step": 1}]


def test_progress_shows_steps_and_the_latest_mean_metrics(capsys):
    """The bar counts steps to the total and shows loss, bpp and PSNR (means over λ); disabled, it prints
    nothing."""
    bar = Progress(total=4, disable=False)  # (None, the default, disables it off a terminal)
    for s in range(1, 5):
        bar.update(s, {"loss": 1.0 + s, "bpp": np.array([0.1, 0.2]), "psnr": 20.0})
    bar.close()
    last = capsys.readouterr().err.replace("\n", "\r").split("\r")
    last = [line for line in last if line.strip()][-1]
    assert "4/4" in last and "loss=5," in last and "bpp=0.15," in last and "psnr=20" in last, last
    quiet = Progress(total=4, disable=True)
    quiet.update(4, {"loss": 1.0})
    quiet.close()
    assert capsys.readouterr().err == ""
