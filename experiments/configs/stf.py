"""stf (Zou et al. 2022, arXiv 2203.08450): the symmetrical transformer as CompressAI's development line
builds it (Swin transforms: embedding 48, depths 2/2/6/2, heads 3/6/12/24, 4x4 windows; M=384, N=192; 12
channel slices with LRP, at most 6 as support; 99,855,639 parameters, the count of
`compressai.models.stf.SymmetricalTransFormer()`), MSE, 6 λ.

Recipe: the paper's training schedule is not in the local references; this config uses CompressAI's six
MSE λ (λ·255²·MSE + bpp: 0.0018 ... 0.0483) with the project's default data pipeline (256² crops, batch 16,
Adam 1e-4) and gradient clipping 1.0. jlic trains without the official stochastic depth (0.2). No Kodak
curve of STF is in ../shared/reference/kodak-rd.

    python -m experiments.sweep --config experiments/configs/stf.py \\
        --config.data.train=folder:../shared/data/bsds200 --config.eval.data=folder:../shared/data/kodak \\
        --workdir runs/stf

CPU-sized variant: `experiments/configs/stf_cpu.py`. Measured RD: none yet.
"""

from __future__ import annotations

import ml_collections

from experiments.configs import bmshj2018_hyperprior, default


def get_config() -> ml_collections.ConfigDict:
    anchors = ("paper-elic2022_mse", "vtm", "jpeg", "webp")
    return default.for_model(bmshj2018_hyperprior.get_config(), "stf", anchors, quality=3,
                             model_kwargs={"N": 192, "M": 384},
                             lambdas=(0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483), sweep_mode="sequential",
                             clip_norm=1.0)
