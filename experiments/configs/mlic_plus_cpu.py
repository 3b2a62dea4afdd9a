"""mlic-plus, CPU-sized (Jiang et al. 2023, arXiv 2211.07273): the MLIC+ architecture (10 slices x 2
checkerboard passes, window-attention local context, full-attention inter- and intra-slice contexts, LRP
after each pass) with the sizes of `mlicpp_cpu` (N=32, M=40, slices of 4 channels, narrow context widths),
64x64 crops, 3 of CompressAI's λ. A pipeline check on a CPU, not a model that compresses well:

    python -m experiments.sweep --config experiments/configs/mlic_plus_cpu.py --workdir runs/mlic-plus-cpu

Measured: none yet (train-step compile time: `python -m benchmarks.compile --configs mlic_plus_cpu --parts
step`).
"""

from __future__ import annotations

import ml_collections

from experiments.configs import default
from experiments.configs.mlicpp_cpu import CPU_MODEL


def get_config() -> ml_collections.ConfigDict:
    return default.cpu_sized(default.get_config(), "mlic-plus", CPU_MODEL, "paper-mlic-plus")
