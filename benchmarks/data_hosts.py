"""Per-host data loading of a multi-host run: each host reading only its rows of every global batch (now)
against every host reading the whole global batch (before), at the same global batch, for 1, 2 and 4 hosts.

    python -m benchmarks.data_hosts                                   # bsds200, global batch 16, 256 crops
    python -m benchmarks.data_hosts --data ../shared/data/kodak --batch 8 --hosts 1,2,4 --batches 6

A host's loading work does not depend on what the other hosts do, so each host's pipeline is timed on its
own, one after the other, in this one process (running N processes at once on a 2-core machine would time
the cores' contention instead): host p of N iterates `jlic.data.pipeline.train_iterator(rows=(p B/N,
(p+1) B/N))` (what `jlic.train.loop` builds from `sharding.process_rows` on N processes) and, for the old
path, the whole batch (`rows=None`). Reader threads: 0 (the work, not the overlap). Reported per N: seconds
per global batch on one host (mean over hosts), the old path's, their ratio, and the images each host
decodes per batch. Appends a JSON record to `benchmarks/results/data_hosts-<date>.jsonl`.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from benchmarks.records import append_record, cpu_name

DATA = Path(__file__).parents[1] / ".." / "shared" / "data" / "bsds200"  # beside the checkout


def seconds_per_batch(source, *, batch: int, crop: int, rows: tuple[int, int] | None, batches: int,
                      start: int, seed: int = 0) -> float:
    """Wall seconds per batch of one host's iterator (no reader threads), from batch `start` on."""
    from jlic.data.pipeline import train_iterator

    it = train_iterator(source, crop=crop, batch_size=batch, seed=seed, num_threads=0, rows=rows)
    for _ in range(start):  # skip to a fresh part of the stream (no warm cache of the same images)
        next(it)
    t0 = time.perf_counter()
    for _ in range(batches):
        next(it)
    return (time.perf_counter() - t0) / batches


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(DATA))
    p.add_argument("--batch", type=int, default=16, help="global batch")
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--hosts", default="1,2,4")
    p.add_argument("--batches", type=int, default=4, help="timed global batches per host and path")
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args()
    from jlic.data.pipeline import get_source

    source = get_source(f"folder:{args.data}")
    rec = {"benchmark": "data_hosts", "data": os.path.relpath(args.data), "images": len(source),
           "global_batch": args.batch, "crop": args.crop, "batches": args.batches, "cpu": cpu_name(),
           "cpu_count": os.cpu_count(), "loadavg_at_start": os.getloadavg(), "results": {}}
    for n in (int(x) for x in args.hosts.split(",")):
        per = args.batch // n
        new, old = [], []
        for host in range(n):  # alternate old/new per host so load drifts hit both alike
            start = 1 + host * args.batches
            new.append(seconds_per_batch(source, batch=args.batch, crop=args.crop, rows=(host * per,
                                         (host + 1) * per), batches=args.batches, start=start))
            old.append(seconds_per_batch(source, batch=args.batch, crop=args.crop, rows=None,
                                         batches=args.batches, start=start))
        row = {"per_host_s_per_batch": sum(new) / n, "old_every_host_whole_batch_s": sum(old) / n,
               "images_per_host_per_batch": per, "old_images_per_host_per_batch": args.batch}
        row["old_over_new"] = row["old_every_host_whole_batch_s"] / row["per_host_s_per_batch"]
        rec["results"][str(n)] = row
        print(f"{n} host(s): {row['per_host_s_per_batch'] * 1e3:.0f} ms per global batch per host "
              f"({per} images), old path {row['old_every_host_whole_batch_s'] * 1e3:.0f} ms ({args.batch} "
              f"images): {row['old_over_new']:.2f}x")
    rec["loadavg_at_end"] = os.getloadavg()
    if not args.no_record:
        out = append_record("data_hosts", rec)
        load = f"{rec['loadavg_at_start'][0]:.1f} -> {rec['loadavg_at_end'][0]:.1f}"
        print(f"appended to {out} (load average {load})")


if __name__ == "__main__":
    main()
