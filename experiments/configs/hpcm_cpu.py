"""hpcm-base, CPU-sized (Li et al. 2025, arXiv 2507.19125): the HPCM-Base architecture (the 11-step
hierarchical schedule with progressive context fusion, generalized-Gaussian leaves, learned z prior) with
N=32 (transform widths 12, 24, 48) and M=40, 3 of the paper's λ, a few hundred steps on the embedded sample
images. Crops are 256² (the model pads to multiples of 256: the attention windows of its 1/4 level), batch 2.

A pipeline check of the full HPCM path on a CPU (train, export, code images in 11 steps with real bytes),
not a model that compresses well:

    python -m experiments.sweep --config experiments/configs/hpcm_cpu.py --workdir runs/hpcm-cpu

Measured: see /work/notes/s8-hpcm.md until figures are recorded here.
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
