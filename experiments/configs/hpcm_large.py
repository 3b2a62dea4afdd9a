"""hpcm-large (Li et al. 2025, HPCM, ICCV 2025, arXiv 2507.19125): the official HPCM-Large (N=256, M=320;
eight partial-conv residual blocks at 384 channels in g_a / g_s and deeper spatial priors than HPCM-Base;
89.7 M parameters), MSE, 6 λ, with the recipe of `experiments/configs/hpcm.py` (read it for the sources):

    python -m experiments.sweep --config experiments/configs/hpcm_large.py \\
        --config.data.train=folder:../shared/data/bsds200 --config.eval.data=folder:../shared/data/kodak \\
        --workdir runs/hpcm-large

Published Kodak curve: `paper-hpcm-large` (-19.19 % vs VTM-22.0 in the paper's table). Measured RD: none yet.
"""

from __future__ import annotations

import ml_collections

from experiments.configs import hpcm


def get_config() -> ml_collections.ConfigDict:
    c = hpcm.get_config()
    c.model = "hpcm-large"
    c.name = "jlic hpcm-large"
    c.workdir = "runs/hpcm-large"
    return c
