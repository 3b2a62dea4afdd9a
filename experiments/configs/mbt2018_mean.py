"""mbt2018-mean (Minnen et al. 2018, arXiv 1809.02736; mean-scale hyperprior, no context model), MSE, 4 λ.

Published setting (CompressAI qualities 1-4): N=128, M=192, 256x256 crops, batch 16, ~1M+ steps on a GPU.

    python -m experiments.sweep --config experiments/configs/mbt2018_mean.py \\
        --config.data.train=folder:../shared/data/bsds200 --config.eval.data=folder:../shared/data/kodak \\
        --workdir runs/mbt2018-mean

Measured: none yet.
"""

from __future__ import annotations

import ml_collections

from experiments.configs import bmshj2018_hyperprior, default


def get_config() -> ml_collections.ConfigDict:
    return default.for_model(
        bmshj2018_hyperprior.get_config(),
        "mbt2018-mean",
        anchors=("compressai-mbt2018-mean_mse_cpu", "paper-mbt2018-mean", "jpeg", "jpeg2000", "webp"),
    )
