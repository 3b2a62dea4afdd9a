"""mlic (Jiang et al. 2023, arXiv 2211.07273): MLIC as CompressAI's development line builds it (N=192, M=192,
6 slices of 32 channels x 2 checkerboard passes; channel context, stacked-conv local context, full-attention
global intra-slice context, LRP after each pass; 41,885,452 parameters, the count of
`compressai.models.mlic.MLIC()`), MSE, 6 λ.

Paper recipe: the λ and the schedule of MLIC++ (its successor shares the training code; see
`experiments/configs/mlicpp.py` and ../shared/reference/sota-facts.md §2.2): λ (MSE, λ·255²·MSE + bpp)
0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483; Adam 1e-4, gradient clipping 1.0; published Kodak curve
`paper-mlic` (BD-rate -8.05 % vs VTM-17.0, the MLIC README). This config keeps those λ with the project's
default data pipeline (256² crops, batch 16); it is far from the published training budget.

    python -m experiments.sweep --config experiments/configs/mlic.py \\
        --config.data.train=folder:../shared/data/bsds200 --config.eval.data=folder:../shared/data/kodak \\
        --workdir runs/mlic

Evaluation codes y in 12 steps with real bytes. CPU-sized variant: `experiments/configs/mlic_cpu.py`.
Measured RD: none yet.
"""

from __future__ import annotations

import ml_collections

from experiments.configs import default, mlicpp


def get_config() -> ml_collections.ConfigDict:
    anchors = ("paper-mlic", "paper-mlic-plusplus", "vtm", "jpeg", "webp")
    return default.for_model(mlicpp.get_config(), "mlic", anchors, model_kwargs={"N": 192, "M": 192})
