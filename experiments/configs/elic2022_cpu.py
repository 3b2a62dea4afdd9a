"""elic2022, CPU-sized (He et al. 2022, arXiv 2203.10886): the ELIC architecture with N=32, M=40, the
paper's group proportions 1:1:2:4:12 scaled to M (groups 2/2/4/8/24) and channel-context widths 48/32
(224/128 in the paper), 64x64 crops, 3 λ, a few hundred steps on the embedded sample images.

A pipeline check of the full ELIC path on a laptop-class CPU (train all λ, export, code Kodak-style images
in 10 steps with real bytes), not a model that compresses well:

    python -m experiments.sweep --config experiments/configs/elic2022_cpu.py --workdir runs/elic2022-cpu

A shortened copy (20 steps) runs in the slow test
`tests/experiments/test_configs.py::test_elic_cpu_config_runs`.
Measured RD: none yet. Known problem (2026-12-01, 2-core AMD EPYC under load): XLA:CPU compiles this model's
`jit_train_step` very slowly: killed after 7 CPU-minutes of compiling at 6.5 GB RSS, so neither this config
nor its slow test has been seen to finish yet.
"""

from __future__ import annotations

import ml_collections

from experiments.configs import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.name = "jlic elic2022 (CPU-sized)"
    c.workdir = "runs/elic2022-cpu"
    c.model = "elic2022"
    c.quality = 3
    c.model_kwargs = ml_collections.ConfigDict({"N": 32, "M": 40, "context_widths": (48, 32)})
    c.lambdas = (0.0018, 0.0067, 0.025)
    c.sweep_mode = "sequential"
    c.num_steps = 400
    c.batch_size = 4
    c.crop = 64
    c.lr = 1e-3
    c.eval.anchor_names = ("paper-elic2022_mse", "jpeg", "webp")
    return c
