"""tcm (Liu, Sun, Katto 2023, arXiv 2303.14978): TCM, mixed Transformer-CNN transforms and a 5-slice channel
model with Swin-attention (SWAtten) contexts and LRP, MSE, the 6 λ of the released models.

Widths: TCM-S / TCM-M / TCM-L are N = 64 / 96 / 128 (`jlic.models.tcm.WIDTHS`; 45.18 M / 59.13 M / 76.57 M
parameters, as the official module); this config trains TCM-S (the width released at all 6 λ), TCM-L with
``--config.model_kwargs.N=128``.

Official recipe (jmliu206/LIC_TCM, commit 6c6d7a3, README and train.py): λ (MSE, λ·255²·MSE + bpp) 0.0025,
0.0035, 0.0067, 0.013, 0.025, 0.05; Adam lr 1e-4, aux lr 1e-3, batch 8, 256² random crops, gradient clipping
1.0, 50 epochs with the lr ×0.1 at epochs 45 and 48 (here: at 90 % and 96 % of the steps). The step count
of an epoch depends on the training set (not in the sourced facts), so `num_steps` is the project's full-size
default; the published curves are `paper-tcm-small` / `-middle` / `-large`.

    python -m experiments.sweep --config experiments/configs/tcm.py \\
        --config.data.train=folder:../shared/data/bsds200 --config.eval.data=folder:../shared/data/kodak \\
        --workdir runs/tcm

Evaluation codes y in 5 steps (slices) with real bytes. CPU-sized variant: `experiments/configs/tcm_cpu.py`.
Measured RD: none yet (no GPU run).
"""

from __future__ import annotations

import ml_collections

from experiments.configs import bmshj2018_hyperprior, default

LAMBDAS = (0.0025, 0.0035, 0.0067, 0.013, 0.025, 0.05)


def get_config() -> ml_collections.ConfigDict:
    # sweep_mode: 45-77 M parameters per λ: one λ at a time
    return default.for_model(
        bmshj2018_hyperprior.get_config(),
        "tcm",
        anchors=("paper-tcm-small", "paper-tcm-large", "vtm", "jpeg", "webp"),
        quality=1,
        model_kwargs={"N": 64, "M": 320},
        lambdas=LAMBDAS,
        sweep_mode="sequential",
        batch_size=8,
        crop=256,
        lr=1e-4,
        aux_lr=1e-3,
        clip_norm=1.0,
        lr_schedule="step",
        lr_boundaries=(0.9, 0.96),
        lr_decay=(0.1,),
    )
