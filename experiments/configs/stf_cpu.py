"""stf, CPU-sized (Zou et al. 2022, arXiv 2203.08450): the STF architecture (four Swin stages each way with
shifted windows, patch merging / split, channel slices with LRP) at embedding 16 (M=128, N=64), depths
2/2/2/2, 4 slices of 32 with narrow slice networks, 64x64 crops, 3 of CompressAI's λ. A pipeline check on a
CPU, not a model that compresses well:

    python -m experiments.sweep --config experiments/configs/stf_cpu.py --workdir runs/stf-cpu

Measured: none yet (train-step compile time: `python -m benchmarks.compile --configs stf_cpu --parts step`).
"""

from __future__ import annotations

import ml_collections

from experiments.configs import default

CPU_MODEL = {"N": 64, "M": 128, "embed_dim": 16, "depths": (2, 2, 2, 2), "heads": (1, 2, 4, 8), "num_slices": 4,
             "max_support_slices": 2, "slice_widths": (48, 32)}


def get_config() -> ml_collections.ConfigDict:
    return default.cpu_sized(default.get_config(), "stf", CPU_MODEL, "vtm")
