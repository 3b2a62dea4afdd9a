"""stf-wacnn, CPU-sized (Zou et al. 2022, arXiv 2203.08450): the WACNN architecture (GDN convolutions with
shifted-window attention blocks, channel slices with LRP) at N=32, M=64 with narrow hyperprior and slice
networks, 4 slices, 64x64 crops, 3 of CompressAI's λ. A pipeline check on a CPU, not a model that compresses
well:

    python -m experiments.sweep --config experiments/configs/stf_wacnn_cpu.py --workdir runs/stf-wacnn-cpu

Measured: none yet (train-step compile time: `python -m benchmarks.compile --configs stf_wacnn_cpu --parts
step`).
"""

from __future__ import annotations

import ml_collections

from experiments.configs import default

CPU_MODEL = {"N": 32, "M": 64, "num_slices": 4, "max_support_slices": 2, "hyper_widths": (64, 48, 40),
             "slice_widths": (48, 32)}


def get_config() -> ml_collections.ConfigDict:
    return default.cpu_sized(default.get_config(), "stf-wacnn", CPU_MODEL, "vtm")
