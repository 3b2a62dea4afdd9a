"""bmshj2018-factorized (Ballé et al. 2018, arXiv 1802.01436; factorized prior, MSE), 4 λ of CompressAI's zoo.

Published setting: N=128, M=192, 256x256 crops, batch 16, ~1M steps on a GPU.

    python -m experiments.sweep --config experiments/configs/bmshj2018_factorized.py \\
        --config.data.train=folder:../shared/data/bsds200 --config.eval.data=folder:../shared/data/kodak \\
        --workdir runs/bmshj2018-factorized

Measured: none yet.
"""

from __future__ import annotations

import ml_collections

from experiments.configs import bmshj2018_hyperprior, default


def get_config() -> ml_collections.ConfigDict:
    return default.for_model(
        bmshj2018_hyperprior.get_config(),
        "bmshj2018-factorized",
        anchors=(
            "compressai-bmshj2018-factorized_mse_cpu",
            "paper-bmshj2018-factorized",
            "jpeg",
            "jpeg2000",
            "webp",
        ),
    )
