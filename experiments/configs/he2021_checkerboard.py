"""he2021-checkerboard (He et al. 2021, arXiv 2103.15306): the mbt2018 model with a two-pass checkerboard
context instead of the serial autoregressive one, MSE, 4 λ.

Published setting: N=192, M=192 (M=320 for high rates), 256x256 crops, ~1M+ steps on a GPU. The anchors
include the published Kodak curves `paper-minnen2018-checkerboard_mse` and `paper-minnen2018-parallel_mse`
of ../shared/reference/kodak-rd. Evaluation codes anchors then non-anchors (two passes)
with real bytes.

    python -m experiments.sweep --config experiments/configs/he2021_checkerboard.py \\
        --config.data.train=folder:../shared/data/bsds200 --config.eval.data=folder:../shared/data/kodak \\
        --workdir runs/he2021-checkerboard

A CPU-sized smoke of this config runs in the slow test
`tests/experiments/test_configs.py::test_context_config_runs`. Measured RD: none yet.
"""

from __future__ import annotations

import ml_collections

from experiments.configs import default, mbt2018


def get_config() -> ml_collections.ConfigDict:
    return default.for_model(
        mbt2018.get_config(),
        "he2021-checkerboard",
        anchors=(
            "paper-minnen2018-checkerboard_mse",
            "paper-minnen2018-parallel_mse",
            "compressai-mbt2018_mse_cpu",
            "jpeg",
            "webp",
        ),
    )
