"""cheng2020-attn (Cheng et al. 2020, arXiv 2001.01568): cheng2020-anchor with simplified attention
modules in the transforms, MSE, 4 λ.

Published setting (CompressAI qualities 1-3): N=M=128 (192 from quality 4), 256x256 crops, batch 16,
~1M+ steps on a GPU.

    python -m experiments.sweep --config experiments/configs/cheng2020_attn.py \\
        --config.data.train=folder:../shared/data/bsds200 --config.eval.data=folder:../shared/data/kodak \\
        --workdir runs/cheng2020-attn

A CPU-sized smoke of this config runs in the slow test
`tests/experiments/test_configs.py::test_context_config_runs`. Measured RD: none yet.
"""

from __future__ import annotations

import ml_collections

from experiments.configs import cheng2020_anchor, default


def get_config() -> ml_collections.ConfigDict:
    return default.for_model(
        cheng2020_anchor.get_config(),
        "cheng2020-attn",
        anchors=("compressai-cheng2020-attn_mse_cpu", "compressai-cheng2020-anchor_mse_cpu", "jpeg", "webp"),
    )
