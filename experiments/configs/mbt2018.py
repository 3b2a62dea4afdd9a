"""mbt2018 (Minnen et al. 2018, arXiv 1809.02736): mean-scale hyperprior + autoregressive context, MSE, 4 λ.

Published setting (CompressAI qualities 1-4): N=192, M=192 (M=320 from quality 5), 256x256 crops, batch 16,
~1M+ steps on a GPU. Training uses the masked 5x5 context convolution in parallel; evaluation codes the
latents in the wavefront order of `jlic.models.mbt2018` with real bytes (slow on CPU: one decode step per
latent diagonal).

    python -m experiments.sweep --config experiments/configs/mbt2018.py \\
        --config.data.train=folder:../shared/data/bsds200 --config.eval.data=folder:../shared/data/kodak \\
        --workdir runs/mbt2018

A CPU-sized smoke of this config (N=M=16, 20 steps, one 96 px eval image) runs in the slow test
`tests/experiments/test_configs.py::test_context_config_runs`. Measured RD: none yet (a CPU run of the
published size is hours per thousand steps; see benchmarks/results/train_step-*.json for its step time).
"""

from __future__ import annotations

import ml_collections

from experiments.configs import bmshj2018_hyperprior, default


def get_config() -> ml_collections.ConfigDict:
    return default.for_model(
        bmshj2018_hyperprior.get_config(),
        "mbt2018",
        anchors=("compressai-mbt2018_mse_cpu", "paper-mbt2018", "jpeg", "jpeg2000", "webp"),
        quality=3,
        model_kwargs={"N": 192, "M": 192},
    )
