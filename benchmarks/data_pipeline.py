"""Training-data throughput: jlic's grain pipeline against CompressAI's torch DataLoader, in one run.

    python -m benchmarks.data_pipeline                                  # bsds200, batch 8, 256 and 64 crops
    python -m benchmarks.data_pipeline --data ../shared/data/kodak --threads 2

Both read the same PNG/JPEG folder and produce random crops (+ flip for jlic) as float32 batches: jlic through
`jlic.data.pipeline.train_iterator` (grain, `--threads` reader threads, prefetch 2), the peer as CompressAI's
`examples/train.py` does (`torch.utils.data.DataLoader` over PIL images with `RandomCrop` + `ToTensor`,
`--threads` worker processes). Reported: batches/s after a warm-up, and how much of a train step the pipeline
needs (<1: it keeps up; the loop's real wait is in each sweep's `timing.jsonl`). The step is measured in the
same run, at each crop size and batch: jlic's full train step of `--step-model` at quality `--step-quality`
(median of `--step-steps` steps after a warm-up, `benchmarks.train_step`); `--step-s S` uses a given time
instead (the record then says so). Appends a JSON record (CPU, load) to
`benchmarks/results/data_pipeline-<date>.jsonl`.
"""

from __future__ import annotations

import argparse
import datetime
import os
import time
from pathlib import Path
from typing import Any

from benchmarks.records import append_record, cpu_name


def _rate(make_iter, batches: int, warmup: int = 2) -> float:
    it = make_iter()
    for _ in range(warmup):
        next(it)
    t0 = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batches / (time.perf_counter() - t0)


def _jlic(data: str, crop: int, batch: int, threads: int, batches: int) -> float:
    from jlic.data.pipeline import get_source, train_iterator

    src = get_source(f"folder:{data}")
    return _rate(lambda: train_iterator(src, crop=crop, batch_size=batch, seed=0, num_threads=threads), batches)


def _torch(data: str, crop: int, batch: int, threads: int, batches: int) -> float | None:
    try:
        import torch
        from PIL import Image
        from torchvision import transforms
    except ImportError:
        return None
    from jlic.data.folder import list_images

    files = list_images(data)
    tf = transforms.Compose([transforms.RandomCrop(crop, pad_if_needed=True), transforms.ToTensor()])

    class Folder(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(files)

        def __getitem__(self, i: int):
            return tf(Image.open(files[i]).convert("RGB"))

    def make():
        loader = torch.utils.data.DataLoader(Folder(), batch_size=batch, shuffle=True, num_workers=threads,
                                             drop_last=True, persistent_workers=False)
        while True:
            yield from loader

    return _rate(make, batches)


def _step_s(model: str, quality: int, crop: int, batch: int, steps: int) -> tuple[float, float]:
    """(median train-step seconds, compile seconds) of jlic's `model` at `crop` x `crop`, batch `batch`."""
    from benchmarks.train_step import _time_jlic

    args = argparse.Namespace(model=model, quality=quality, batch=batch, size=crop, lmbda=0.0067, steps=steps,
                              dtype="fp32")
    compile_s, step_s, _ = _time_jlic(args, 1)
    return step_s, compile_s


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(Path(__file__).parents[1] / ".." / "shared" / "data" / "bsds200"))
    p.add_argument("--crops", type=int, nargs="+", default=[256, 64])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batches", type=int, default=40)
    p.add_argument("--step-model", default="bmshj2018-hyperprior", help="model whose train step is timed")
    p.add_argument("--step-quality", type=int, default=3)
    p.add_argument("--step-steps", type=int, default=3, help="timed train steps per crop (after a warm-up)")
    p.add_argument("--step-s", type=float, default=None,
                   help="use this train step time (s) for every crop instead of measuring it")
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args(argv)
    rec: dict[str, Any] = {"kind": "data_pipeline", "date": datetime.datetime.now(datetime.UTC).isoformat(),
                           "data": Path(args.data).name, "batch": args.batch, "threads": args.threads,
                           "cpu": cpu_name(), "cpu_count": os.cpu_count(), "loadavg_at_start": os.getloadavg(),
                           "step": ("given" if args.step_s is not None else
                                    f"measured: {args.step_model} q{args.step_quality} train step, median of "
                                    f"{args.step_steps} after a warm-up"),
                           "results": {}}
    for crop in args.crops:
        j = _jlic(args.data, crop, args.batch, args.threads, args.batches)
        t = _torch(args.data, crop, args.batch, args.threads, args.batches)
        step_s, compile_s = ((args.step_s, None) if args.step_s is not None else
                             _step_s(args.step_model, args.step_quality, crop, args.batch, args.step_steps))
        r = {"jlic_batches_per_s": j, "torch_batches_per_s": t, "jlic_over_torch_throughput": t and j / t,
             "step_s": step_s, "step_compile_s": compile_s, "jlic_fraction_of_step": 1.0 / (j * step_s)}
        rec["results"][str(crop)] = r
        print(f"crop {crop:4d}: jlic {j:7.1f} batches/s, torch DataLoader "
              f"{'n/a' if t is None else f'{t:7.1f}'} batches/s"
              f"{'' if t is None else f' (jlic/torch {j / t:.2f}x)'}; "
              f"jlic needs {100.0 / (j * step_s):.1f}% of a {step_s:.3g} s step", flush=True)
    rec["loadavg_at_end"] = os.getloadavg()
    if not args.no_record:
        out = append_record("data_pipeline", rec)
        print(f"appended to {out} (load average at end {rec['loadavg_at_end'][0]:.1f})")
    return rec


if __name__ == "__main__":
    main()
