"""elic2022 (He et al. 2022, arXiv 2203.10886): ELIC, CompressAI's `Elic2022Official` layer list (N=192,
M=320, uneven channel groups 16/16/32/64/192 each with a 5x5 checkerboard context, channel context from all
previous groups, residual bottleneck + attention transforms), MSE, 6 λ.

Paper recipe, as far as sourced (../shared/reference/sota-facts.md §1): trained on the largest 8000 images of
ImageNet; its Kodak curve (`paper-elic2022_mse`, 6 points digitised from the paper figure) spans 0.12-0.86 bpp
and 29.1-37.6 dB. The paper's own λ list is NOT in the sourced facts (sota-facts.md lists it under "gaps"), so
these λ are CompressAI's zoo λ of qualities 1-6 (λ·255²·MSE + bpp), which cover that bpp range for
models of this class. 256x256 crops, batch 16, Adam 1e-4 as the other configs; published training is ~1M+ GPU
steps.

    python -m experiments.sweep --config experiments/configs/elic2022.py \\
        --config.data.train=folder:../shared/data/bsds200 --config.eval.data=folder:../shared/data/kodak \\
        --workdir runs/elic2022

Evaluation codes y in 10 steps (5 groups x anchors / non-anchors) with real bytes. A CPU-sized variant is
`experiments/configs/elic2022_cpu.py` (run by the slow test `tests/experiments/test_configs.py`).
Measured RD: none yet.
"""

from __future__ import annotations

import ml_collections

from experiments.configs import bmshj2018_hyperprior, default


def get_config() -> ml_collections.ConfigDict:
    # sweep_mode: 32 M parameters per λ: one λ at a time
    return default.for_model(
        bmshj2018_hyperprior.get_config(),
        "elic2022",
        anchors=("paper-elic2022_mse", "compressai-cheng2020-attn_mse_cpu", "vtm", "jpeg", "webp"),
        quality=3,
        model_kwargs={"N": 192, "M": 320},
        lambdas=(0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483),
        sweep_mode="sequential",
    )
