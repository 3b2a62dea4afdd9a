"""tcm, CPU-sized (Liu et al. 2023, arXiv 2303.14978): the TCM architecture (official stage depths 2 x 6,
head widths 8/16/32, windows 8 and 4, 5 slices with SWAtten contexts and LRP) with N=32, M=40 (slices of 8),
hyper channels 32, SWAtten width 32 and context widths 32/24, 64x64 crops, 3 λ, a few hundred steps on the
embedded sample images.

A pipeline check of the full TCM path on a CPU (train, export, code images in 5 slice steps with real
bytes), not a model that compresses well:

    python -m experiments.sweep --config experiments/configs/tcm_cpu.py --workdir runs/tcm-cpu

Compile cost: see `benchmarks/results/compile-*.jsonl` (`python -m benchmarks.compile --configs tcm_cpu
--parts step`).
"""

from __future__ import annotations

import ml_collections

from experiments.configs import default

CPU_MODEL = {"N": 32, "M": 40, "hyper_channels": 32, "attention_width": 32, "context_widths": (32, 24)}


def get_config() -> ml_collections.ConfigDict:
    return default.cpu_sized(default.get_config(), "tcm", CPU_MODEL, "paper-tcm-small")
