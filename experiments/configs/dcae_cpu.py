"""dcae, CPU-sized (Lu et al. 2025, arXiv 2504.00496): the DCAE architecture (down/up residual-bottleneck
blocks, gated Swin stages, 5 slices with dictionary cross-attention contexts and LRP) with feature widths
16/32/64 and 1/2/2 Swin layers (official 96/144/256 and 1/2/12), N = hyper channels = 32, M=40 (slices of 8),
a dictionary of 32 entries x 64 with 4 heads, context widths 32/24, 64x64 crops, 3 λ, a few hundred steps on
the embedded sample images.

A pipeline check of the full DCAE path on a CPU (train, export, code images in 5 slice steps with real
bytes), not a model that compresses well:

    python -m experiments.sweep --config experiments/configs/dcae_cpu.py --workdir runs/dcae-cpu

Compile cost (2026-12-07, 2-core AMD EPYC shared at load 10 falling to 4; `python -m benchmarks.compile
--configs tcm_cpu,dcae_cpu --parts step --steps 3`, record in `benchmarks/results/compile-2026-12-07.jsonl`):
train-state init 74.7 s, tracing + lowering 15.9 s, XLA compile of the train step 98.7 s wall / 77.3 process
CPU-s (182,357 optimised HLO instructions), 0.157 s per step. Above issue 29's 60 s goal; not yet profiled.
"""

from __future__ import annotations

import ml_collections

from experiments.configs import default

CPU_MODEL = {"N": 32, "M": 40, "feature_dims": (16, 32, 64), "blocks": (1, 2, 2), "hyper_channels": 32,
             "dict_num": 32, "dict_dim": 64, "dict_heads": 4, "context_widths": (32, 24)}


def get_config() -> ml_collections.ConfigDict:
    return default.cpu_sized(default.get_config(), "dcae", CPU_MODEL, "paper-dcae")
