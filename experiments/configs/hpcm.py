"""hpcm-base (Li et al. 2025, HPCM, ICCV 2025, arXiv 2507.19125): the official HPCM-Base (N=256, M=320,
transforms of partial-conv residual blocks, the hierarchical schedule of 11 sub-latent steps with progressive
context fusion, generalized-Gaussian entropy model; 68.5 M parameters), MSE, 6 λ. `hpcm-large` (89.7 M):
`experiments/configs/hpcm_large.py`.

Official recipe (lyq133/LIC-HPCM ``train.py`` and README; ../shared/reference/sota-facts.md §4):
- λ (MSE, λ·255²·MSE + bpp): 0.0018, 0.0035, 0.0067, 0.013, 0.025, 0.0483 (MS-SSIM: 2.4 ... 60.5);
- data: Flickr2W, 256² random crops with horizontal and vertical flips, batch 32;
- Adam, lr 1e-4, 3e-5 from epoch 2750, 1e-5 from 2850, 1e-6 from 2950 (of 3001), gradient clipping 1.0
  (batches whose norm is not finite skipped); no auxiliary loss (no factorized prior);
- published Kodak curves: `paper-hpcm-base` (0.121-0.821 bpp, 29.40-37.75 dB), `paper-hpcm-large`.

This config keeps those λ and the clipping with the project's default data pipeline (256² crops, batch 16,
Adam 1e-4 as the other full-size configs); it is far from the published training budget. Images are padded
to multiples of 256.

    python -m experiments.sweep --config experiments/configs/hpcm.py \\
        --config.data.train=folder:../shared/data/bsds200 --config.eval.data=folder:../shared/data/kodak \\
        --workdir runs/hpcm

CPU-sized variant: `experiments/configs/hpcm_cpu.py`. Measured RD: none yet.
"""

from __future__ import annotations

import ml_collections

from experiments.configs import bmshj2018_hyperprior, default


def get_config() -> ml_collections.ConfigDict:
    # sweep_mode: 68.5 M parameters per λ: one λ at a time
    return default.for_model(
        bmshj2018_hyperprior.get_config(),
        "hpcm-base",
        anchors=("paper-hpcm-base", "paper-hpcm-large", "vtm", "jpeg", "webp"),
        quality=3,
        model_kwargs={"N": 256, "M": 320},
        lambdas=(0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483),
        sweep_mode="sequential",
        clip_norm=1.0,
    )
