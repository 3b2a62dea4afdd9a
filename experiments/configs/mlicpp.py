"""mlicpp (Jiang et al. 2023, arXiv 2307.15421): MLIC++ as the official code's fixed 2024 version (N=192,
M=320, 10 slices of 32 channels x 2 checkerboard passes, channel + global inter-slice + local window +
global intra-slice contexts, LRP after each pass; 83.5 M parameters), MSE, 6 λ.

Paper / official recipe (../shared/reference/sota-facts.md §2.2):
- λ (MSE, λ·255²·MSE + bpp): 0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483 (MS-SSIM: 2.4, 4.58, 8.73,
  16.64, 31.73, 60.5 with λ·(1 − MS-SSIM) + bpp);
- data: MLIC-Train-100K (~108k images from DIV2K, Flickr2K, CLIC, COCO, ImageNet);
- paper: one A100, batch 32, 256² crops, 512² after 1.2 M steps; code defaults: Adam 1e-4, aux Adam 1e-3,
  gradient clipping 1.0, MultiStepLR ×0.1 at the milestones; the released λ=0.025 run took ~2.96 M steps
  (4 GPUs x batch 4-8, 256² -> 512² crops, lr 1e-4 -> 3e-5 -> 1e-5);
- published Kodak curve: `paper-mlic-plusplus` (0.108-0.803 bpp, 29.16-37.32 dB).

This config keeps those λ with the project's default data pipeline (256² crops, batch 16, Adam 1e-4 as the
other full-size configs); it is far from the published training budget.

    python -m experiments.sweep --config experiments/configs/mlicpp.py \\
        --config.data.train=folder:../shared/data/bsds200 --config.eval.data=folder:../shared/data/kodak \\
        --workdir runs/mlicpp

Evaluation codes y in 20 steps with real bytes. CPU-sized variant: `experiments/configs/mlicpp_cpu.py`.
Measured RD: none yet.
"""

from __future__ import annotations

import ml_collections

from experiments.configs import bmshj2018_hyperprior, default


def get_config() -> ml_collections.ConfigDict:
    # sweep_mode: 83.5 M parameters per λ: one λ at a time
    return default.for_model(
        bmshj2018_hyperprior.get_config(),
        "mlicpp",
        anchors=("paper-mlic-plusplus", "paper-elic2022_mse", "vtm", "jpeg", "webp"),
        quality=3,
        model_kwargs={"N": 192, "M": 320},
        lambdas=(0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483),
        sweep_mode="sequential",
        clip_norm=1.0,
    )
