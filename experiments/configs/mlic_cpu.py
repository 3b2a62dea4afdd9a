"""mlic, CPU-sized (Jiang et al. 2023, arXiv 2211.07273): the MLIC architecture (6 slices x 2 checkerboard
passes, stacked-conv local context, full-attention intra-slice context, LRP after each pass) with N=32, M=24
(slices of 4 channels) and the narrow context widths of `mlicpp_cpu`, 64x64 crops, 3 of CompressAI's λ, a
few hundred steps on the embedded sample images. A pipeline check on a CPU, not a model that compresses well:

    python -m experiments.sweep --config experiments/configs/mlic_cpu.py --workdir runs/mlic-cpu

Measured: none yet (train-step compile time: `python -m benchmarks.compile --configs mlic_cpu --parts step`).
"""

from __future__ import annotations

import ml_collections

from experiments.configs import default
from experiments.configs.mlicpp_cpu import CPU_MODEL


def get_config() -> ml_collections.ConfigDict:
    return default.cpu_sized(default.get_config(), "mlic", {**CPU_MODEL, "M": 24}, "paper-mlic")
