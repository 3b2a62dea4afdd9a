"""hpcm-base, CPU-sized (Li et al. 2025, arXiv 2507.19125): the HPCM-Base architecture (the 11-step
hierarchical schedule with progressive context fusion, generalized-Gaussian leaves, learned z prior) with
N=32 (transform widths 12, 24, 48) and M=40, 3 of the paper's λ, a few hundred steps on the embedded sample
images. Crops are 256² (the model pads to multiples of 256: the attention windows of its 1/4 level), batch 2.

A pipeline check of the full HPCM path on a CPU (train, export, code images in 11 steps with real bytes),
not a model that compresses well:

    python -m experiments.sweep --config experiments/configs/hpcm_cpu.py --workdir runs/hpcm-cpu

Compile cost (2026-12-07, 2-core AMD EPYC, machine shared with other helpers' compiles; `python -m
benchmarks.compile --configs hpcm_cpu --parts step`, records in benchmarks/results/compile-2026-12-07.jsonl):
the train step has 73,468 optimised HLO instructions (MLIC++-CPU: 226k); its compile took 367 s wall at load
22-27 and, in a second run, 1082 s wall at load 27-48 for 77.3 CPU-seconds of the compiling process (the
process-time figure the load inflates least). No idle-machine wall figure yet, so the < 60 s goal is not
shown. Steps: 5.3 s / 10.7 s (the two runs' loads) at batch 2, 256². No RD figures yet.
"""

from __future__ import annotations

import ml_collections

from experiments.configs import default

CPU_MODEL = {"N": 32, "M": 40}


def get_config() -> ml_collections.ConfigDict:
    c = default.cpu_sized(default.get_config(), "hpcm-base", CPU_MODEL, "paper-hpcm-base")
    c.crop = 256
    c.batch_size = 2
    return c
