"""The default sweep with its workdir on GCS (a local fake-gcs-server) vs on local disk: steps/s, and the
seconds to save and to restore one training checkpoint.

    python -m benchmarks.storage                      # default config, 60 steps, checkpoint every 20
    python -m benchmarks.storage --steps 40 --repeats 3

Both runs are made in this one process (one compilation, same load), the local one first; steps/s is
taken from each run's `timing.jsonl` without its first log window (which holds the compilation). Then the
train state of the finished run is saved to and restored from a fresh checkpoint directory `--repeats`
times on each storage (orbax through tensorstore; `wait` included). The GCS server runs on 127.0.0.1, so
these figures measure the client path (HTTP, tensorstore's GCS driver, gcsfs, commit markers), not the
network to a real bucket. A JSON record (with CPU and load) is appended to
`benchmarks/results/storage-<date>.jsonl`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from typing import Any


def _sweep(workdir: str, steps: int) -> dict[str, Any]:
    from experiments.configs import default
    from jlic import paths
    from jlic.train.loop import train_and_evaluate

    config = default.get_config()
    config.num_steps, config.log_every, config.checkpoint_every = steps, 10, 20
    config.eval.enabled, config.progress_bar = False, False
    t0 = time.perf_counter()
    train_and_evaluate(config, workdir)
    wall = time.perf_counter() - t0
    timing = paths.read_jsonl(paths.as_path(workdir) / "timing.jsonl")
    step_s = [t["step_s"] for t in timing if t["step"] > config.log_every]
    return {"wall_s": wall, "steps_per_s": 1.0 / statistics.mean(step_s), "windows": len(step_s)}


def _checkpoint_times(source: str, target: str, repeats: int) -> dict[str, Any]:
    import orbax.checkpoint as ocp

    from jlic.train.checkpoint import CheckpointManager

    raw = ocp.CheckpointManager(source, item_names=("state", "data", "meta"))
    step = raw.latest_step()
    restored = raw.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(),
                                                         data=ocp.args.JsonRestore()))
    raw.close()
    state, data = restored["state"], restored["data"]
    save, restore = [], []
    for r in range(repeats):
        mgr = CheckpointManager(f"{target}/{r}", max_to_keep=1)
        t0 = time.perf_counter()
        mgr.save(step, state, data, {})
        mgr.wait()
        save.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        mgr.restore(step, state)
        restore.append(time.perf_counter() - t0)
        mgr.close()
    return {"save_s": save, "restore_s": restore, "save_s_median": statistics.median(save),
            "restore_s_median": statistics.median(restore)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args(argv)
    from benchmarks.gcs_server import GcsServer

    server = GcsServer().start()
    os.environ.update(server.env())  # before the first gcsfs import: the GCS clients read these themselves
    from google.cloud import storage

    from benchmarks.records import append_record, cpu_name

    storage.Client().create_bucket("jlic-bench")
    out: dict[str, Any] = {"benchmark": "storage", "steps": args.steps, "cpu": cpu_name(),
                           "loadavg_before": open("/proc/loadavg").read().split()[:3]}
    try:
        with tempfile.TemporaryDirectory(prefix="jlic-storage-") as tmp:
            out["local"] = _sweep(f"{tmp}/run", args.steps)
            out["gcs"] = _sweep("gs://jlic-bench/run", args.steps)
            out["local"]["checkpoint"] = _checkpoint_times(f"{tmp}/run/checkpoints/vmap", f"{tmp}/ck",
                                                           args.repeats)
            out["gcs"]["checkpoint"] = _checkpoint_times("gs://jlic-bench/run/checkpoints/vmap",
                                                         "gs://jlic-bench/ck", args.repeats)
    finally:
        server.close()
    out["loadavg_after"] = open("/proc/loadavg").read().split()[:3]
    out["gcs_over_local"] = {"steps_per_s": out["gcs"]["steps_per_s"] / out["local"]["steps_per_s"],
                             "save_s": out["gcs"]["checkpoint"]["save_s_median"]
                             / out["local"]["checkpoint"]["save_s_median"],
                             "restore_s": out["gcs"]["checkpoint"]["restore_s_median"]
                             / out["local"]["checkpoint"]["restore_s_median"]}
    print(json.dumps(out, indent=1))
    if not args.no_record:
        print(append_record("storage", out))
    return out


if __name__ == "__main__":
    main()
