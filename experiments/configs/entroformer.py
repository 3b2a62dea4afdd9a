"""entroformer (Qian et al. 2022, ICLR, arXiv 2202.05492): Entroformer, the parallel bidirectional variant
of the official code (damo-cv/entroformer `train_parallel.sh`): GDN transforms N=192, M=384; transformer
context model width 384, depth 6, 6 heads, MLP ratio 4, diamond relative positions (table 7), top-k 32
(training k uniform on [16, 64)); transformer hyperprior (scale 2, one block per stage); checkerboard
two-pass coding, anchors at (i + j) odd; single Gaussian. MSE, 6 λ.

Official recipe (../shared/reference/sota-facts.md §3; loss α·255²·MSE + bpp_y + bpp_z, i.e. jlic's λ = α):
- pre-training (`pretrain.sh`): 1000 epochs, 256² crops, batch 8, lr 1e-4 constant, random token mask
  ratio 0.5 (not implemented in jlic), α = 0.3;
- fine-tuning (`train_parallel.sh`): 500 epochs, 384² crops, batch 8, AdamW lr 1e-4 halved at 5 equally
  spaced points, gradient clipping 1.0, from the pre-trained model.
The paper's own λ list is NOT in the sourced facts (its BD-rate is not either; the README gives α = 0.02 as
an example and reports only an RD figure). These λ are CompressAI's zoo λ of qualities 1-6, as for ELIC;
this config trains from scratch at the fine-tuning crop and lr, without the stage decay (jlic has no lr
schedule option yet).

    python -m experiments.sweep --config experiments/configs/entroformer.py \\
        --config.data.train=folder:../shared/data/bsds200 --config.eval.data=folder:../shared/data/kodak \\
        --workdir runs/entroformer

Evaluation codes y in 2 steps (anchors, then non-anchors) with real bytes. A CPU-sized variant is
`experiments/configs/entroformer_cpu.py` (used by `tests/models/test_entroformer.py`).
Measured RD: none yet.
"""

from __future__ import annotations

import ml_collections

from experiments.configs import bmshj2018_hyperprior


def get_config() -> ml_collections.ConfigDict:
    c = bmshj2018_hyperprior.get_config()
    c.name = "jlic entroformer"
    c.workdir = "runs/entroformer"
    c.model = "entroformer"
    c.quality = 3
    c.model_kwargs = ml_collections.ConfigDict({"N": 192, "M": 384, "dim": 384, "depth": 6, "heads": 6,
                                                "mlp_ratio": 4, "position_num": 7, "topk": 32})
    c.lambdas = (0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483)
    c.sweep_mode = "sequential"  # 45 M parameters per λ
    c.batch_size = 8
    c.crop = 384
    c.lr = 1e-4
    c.clip_norm = 1.0
    c.eval.anchor_names = ("compressai-cheng2020-anchor_mse_cpu", "paper-elic2022_mse", "vtm", "jpeg", "webp")
    return c
