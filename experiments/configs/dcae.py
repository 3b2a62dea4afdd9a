"""dcae (Lu et al. 2025, arXiv 2504.00496): DCAE, residual-bottleneck + gated Swin transforms and a 5-slice
channel model whose contexts cross-attend a learned dictionary (128 x 640, 20 heads), with LRP; N=192,
M=320, 119.4 M parameters (the official module's count), MSE, the 6 λ of the released models.

Official recipe (LabShuHangGU/DCAE, commit bd00306, README and train.py): λ (MSE, λ·255²·MSE + bpp) 0.0018,
0.0035, 0.0067, 0.013, 0.025, 0.05 (MS-SSIM: 2.40 ... 60.5); OpenImages; Adam lr 1e-4, aux lr 1e-3, batch 8,
256² random crops, gradient clipping 1.0, 50 epochs with the lr ×0.1 at epoch 46 (here: at 92 % of the
steps). `num_steps` is the project's full-size default (an epoch of OpenImages is not reproduced here); the
published curve is `paper-dcae`.

    python -m experiments.sweep --config experiments/configs/dcae.py \\
        --config.data.train=folder:../shared/data/bsds200 --config.eval.data=folder:../shared/data/kodak \\
        --workdir runs/dcae

Evaluation codes y in 5 steps (slices) with real bytes. CPU-sized variant: `experiments/configs/dcae_cpu.py`.
Measured RD: none yet (no GPU run).
"""

from __future__ import annotations

import ml_collections

from experiments.configs import bmshj2018_hyperprior, default

LAMBDAS = (0.0018, 0.0035, 0.0067, 0.013, 0.025, 0.05)


def get_config() -> ml_collections.ConfigDict:
    # sweep_mode: 119 M parameters per λ: one λ at a time
    return default.for_model(
        bmshj2018_hyperprior.get_config(),
        "dcae",
        anchors=("paper-dcae", "paper-tcm-large", "vtm", "jpeg", "webp"),
        quality=1,
        model_kwargs={"N": 192, "M": 320},
        lambdas=LAMBDAS,
        sweep_mode="sequential",
        batch_size=8,
        crop=256,
        lr=1e-4,
        aux_lr=1e-3,
        clip_norm=1.0,
        lr_schedule="step",
        lr_boundaries=(0.92,),
        lr_decay=(0.1,),
    )
