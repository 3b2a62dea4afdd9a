"""minnen2020-channelwise (Minnen & Singh 2020, arXiv 2007.08739): channel-conditional entropy model
(10 slices, latent residual prediction), MSE, 4 λ.

Published setting: N=192, M=320, 256x256 crops, batch 8-16, ~2-3M steps on a GPU.

    python -m experiments.sweep --config experiments/configs/minnen2020_channelwise.py \\
        --config.data.train=folder:../shared/data/bsds200 --config.eval.data=folder:../shared/data/kodak \\
        --workdir runs/minnen2020-channelwise

A CPU-sized smoke of this config runs in the slow test
`tests/experiments/test_configs.py::test_context_config_runs`. Measured RD: none yet.
"""

from __future__ import annotations

import ml_collections

from experiments.configs import bmshj2018_hyperprior, default


def get_config() -> ml_collections.ConfigDict:
    return default.for_model(
        bmshj2018_hyperprior.get_config(),
        "minnen2020-channelwise",
        anchors=("paper-minnen2020-cc10_mse", "compressai-mbt2018_mse_cpu", "jpeg", "webp", "vtm"),
        quality=3,
        model_kwargs={"N": 192, "M": 320},
    )
