"""mlic-plus (Jiang et al. 2023, arXiv 2211.07273): MLIC+ as CompressAI's development line builds it (its
`mlicplus`: N=192, M=320, 10 slices of 32 channels x 2 checkerboard passes; channel context, window-attention
local context, full-attention global inter- and intra-slice contexts, LRP after each pass; 83,501,408
parameters, the count of `compressai.models.mlic.MLICPlus()` and of MLIC++, whose linear attention has the
same weights), MSE, 6 λ.

Paper recipe: as `experiments/configs/mlic.py`; published Kodak curve `paper-mlic-plus` (BD-rate -11.39 %
vs VTM-17.0, the MLIC README).

    python -m experiments.sweep --config experiments/configs/mlic_plus.py \\
        --config.data.train=folder:../shared/data/bsds200 --config.eval.data=folder:../shared/data/kodak \\
        --workdir runs/mlic-plus

The global contexts attend over every latent position (quadratic in the image area: a 768x512 Kodak image
has 1536 latent positions per slice). CPU-sized variant: `experiments/configs/mlic_plus_cpu.py`.
Measured RD: none yet.
"""

from __future__ import annotations

import ml_collections

from experiments.configs import default, mlicpp


def get_config() -> ml_collections.ConfigDict:
    return default.for_model(mlicpp.get_config(), "mlic-plus",
                             ("paper-mlic-plus", "paper-mlic-plusplus", "vtm", "jpeg", "webp"))
