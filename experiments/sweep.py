"""Train one learned-image-compression model per λ, then measure its RD curve with real bytes.

    python -m experiments.sweep                                   # default config: runs/default
    python -m experiments.sweep --config experiments/configs/bmshj2018_hyperprior.py \\
        --config.lambdas="(0.0018,0.0067,0.025,0.0932)" --config.data.train=folder:/path/to/images \\
        --config.eval.data=folder:../shared/data/kodak --workdir runs/hyper

Any config field can be overridden (`--config.sweep_mode=sequential`, `--config.num_steps=...`). Kill it
at any point and rerun the same command: it resumes from the last checkpoint that restores. SIGTERM saves a
checkpoint and exits with 143; a second run on a workdir in use, an unusable or foreign checkpoint and a
full disk stop with one line and exit 2. The workdir ends up with
`config.json`, `metrics.jsonl`, `timing.jsonl` (s/step, s/step waiting for data), `tensorboard/`,
`checkpoints/`, one exported model per λ
(`lambda_<λ>/`, usable with `python -m jlic compress --checkpoint ...`), `rd.json`, `rd.png`, `report.md`.

Devices: all local devices form a ("lambda", "data") mesh: in `vmap` mode the stacked λ models are
sharded over "lambda", batches over "data" (across processes: each reads only its rows of every batch). On a
multi-host TPU pod slice, `python -m experiments.launch tpu ...` runs it on every host; by hand, run the same
command on every host with `--config.distributed=True` (calls `jax.distributed.initialize()`), e.g.

    gcloud compute tpus tpu-vm ssh NAME --zone ZONE --worker=all --command \\
      "cd jlic && python -m experiments.sweep --config experiments/configs/bmshj2018_hyperprior.py \\
       --config.distributed=True --config.batch_size=64 --workdir gs://BUCKET/runs/hyper"
"""

from __future__ import annotations

import sys
from pathlib import Path

from absl import app, flags, logging
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file(
    "config", str(Path(__file__).parent / "configs" / "default.py"), "An experiments/configs/*.py file.",
    lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Output directory (default: the config's `workdir`).")


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)  # orbax logs every checkpoint step at INFO
    config = _CONFIG.value
    workdir = _WORKDIR.value or config.get("workdir") or "runs/default"
    from experiments import jax_settings

    jax_settings.apply(config)  # persistent compilation cache (default ~/.cache/jlic/jax-cache)
    if config.get("overfit"):  # overfitted per-image codecs (experiments/configs/coolchic.py)
        from jlic.overfit.sweep import run_sweep
        from jlic.paths import StorageError
        from jlic.train.workdir import WorkdirLockedError

        try:
            out = run_sweep(config, workdir)
        except (WorkdirLockedError, StorageError) as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
        print("\n".join(f"{k}: {v}" for k, v in out.items() if k != "exports"))
        return
    from jlic.paths import StorageError
    from jlic.train.checkpoint import CheckpointMismatchError, CheckpointRestoreError
    from jlic.train.loop import DiskFullError, Interrupted, NonFiniteLossError, train_and_evaluate
    from jlic.train.workdir import WorkdirLockedError

    try:
        out = train_and_evaluate(config, workdir)
    except NonFiniteLossError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(3)
    except Interrupted as e:  # SIGTERM: checkpoint saved, 128 + 15 as a killed process would report
        print(f"stopped: {e}", file=sys.stderr)
        sys.exit(143)
    except (WorkdirLockedError, CheckpointMismatchError, CheckpointRestoreError, DiskFullError,
            StorageError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    for key, value in out.items():
        if key != "exports":
            print(f"{key}: {value}")
    for lmbda, path in out["exports"].items():
        print(f"λ={lmbda:g}: {path}")


if __name__ == "__main__":
    app.run(main)
