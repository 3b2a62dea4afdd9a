"""bmshj2018-hyperprior (Ballé et al. 2018, arXiv 1802.01436): scale hyperprior, MSE, 4 λ of CompressAI's zoo.

Published setting: N=128, M=192 (qualities 1-5), 256x256 crops, batch 16-32, ~1M+ steps on a GPU.
This config keeps the published architecture at quality 1-5 size and trains every λ in one vmapped
program. On a CPU, shorten it (`--config.num_steps`, `--config.batch_size`); expect to be far from the
published curve then.

    python -m experiments.sweep --config experiments/configs/bmshj2018_hyperprior.py \\
        --config.data.train=folder:../shared/data/bsds200 --config.data.eval=folder:../shared/data/kodak \\
        --workdir runs/bmshj2018-hyperprior

Measured (see the end of this docstring once filled in): none yet.
"""

from __future__ import annotations

import ml_collections

from experiments.configs import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.name = "jlic bmshj2018-hyperprior"
    c.workdir = "runs/bmshj2018-hyperprior"
    c.model = "bmshj2018-hyperprior"
    c.quality = 3
    c.model_kwargs = ml_collections.ConfigDict({"N": 128, "M": 192})
    c.lambdas = (0.0018, 0.0067, 0.025, 0.0932)
    c.sweep_mode = "vmap"
    c.num_steps = 200_000
    c.batch_size = 16
    c.crop = 256
    c.lr = 1e-4
    c.log_every = 100
    c.checkpoint_every = 2000
    c.data.train = "folder:../shared/data/bsds200"
    c.data.embedded_max_side = ml_collections.config_dict.placeholder(int)  # None, overridable
    c.eval.data = "folder:../shared/data/kodak"
    c.eval.limit = ml_collections.config_dict.placeholder(int)
    c.eval.max_side = ml_collections.config_dict.placeholder(int)
    c.eval.anchor_names = ("compressai-bmshj2018-hyperprior_mse_cpu", "paper-bmshj2018-hyperprior", "jpeg",
                           "jpeg2000", "webp")
    c.eval.live_codecs = ()
    return c
