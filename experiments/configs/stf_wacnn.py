"""stf-wacnn (Zou et al. 2022, arXiv 2203.08450): the window-attention CNN as CompressAI's development line
builds it (GDN convolutions with shifted-window attention blocks, N=192, M=320; 10 channel slices with LRP, at
most 5 as support; 75,235,779 parameters, the count of `compressai.models.stf.WACNN()`), MSE, 6 λ.

Recipe: as `experiments/configs/stf.py` (the paper's schedule is not in the local references).

    python -m experiments.sweep --config experiments/configs/stf_wacnn.py \\
        --config.data.train=folder:../shared/data/bsds200 --config.eval.data=folder:../shared/data/kodak \\
        --workdir runs/stf-wacnn

CPU-sized variant: `experiments/configs/stf_wacnn_cpu.py`. Measured RD: none yet.
"""

from __future__ import annotations

import ml_collections

from experiments.configs import default, stf


def get_config() -> ml_collections.ConfigDict:
    return default.for_model(stf.get_config(), "stf-wacnn", ("paper-elic2022_mse", "vtm", "jpeg", "webp"),
                             model_kwargs={"N": 192, "M": 320})
