"""entroformer (Qian et al. 2022, ICLR, arXiv 2202.05492): Entroformer, the parallel bidirectional variant
of the official code (damo-cv/entroformer `train_parallel.sh`): GDN transforms N=192, M=384; transformer
context model width 384, depth 6, 6 heads, MLP ratio 4, diamond relative positions (table 7), top-k 32
(training k uniform on [16, 64)); transformer hyperprior (scale 2, one block per stage); checkerboard
two-pass coding, anchors at (i + j) odd; single Gaussian. MSE. Two stages, as the official recipe.

Official recipe (damo-cv/entroformer `scripts/*.sh`, `main_trans_hyper_ar.py`, `util.py`; loss
α·255²·MSE + bpp_y + bpp_z, i.e. jlic's λ = α; Adam(W) with weight decay 0; batch 8):
- stage 1, pre-training (`pretrain.sh`, `get_config("pretrain")`): 1000 epochs, 256² crops, lr 1e-4
  (`--lr_decay 1.0`: constant) after a linear warm-up over the first 5 % (`--warmup` default 0.05), the
  bidirectional context with a random token mask of ratio 0.5 (`--mask_ratio 0.5`: per step, each token is
  shown to the context with probability 0.5, the others are predicted from the shown ones; jlic's
  `token_mask_ratio`), grad clip 1.0, ONE model at α = 0.3;
- stage 2, fine-tuning (`train_parallel.sh`, `get_config()`): from the pre-trained model, every α, 500
  epochs, 384² crops, no token mask (the checkerboard), lr 1e-4 with the 5 % warm-up and x0.5 at the
  stage points `linspace(0, 500, 6)[1:]` (epochs 100, 200, 300, 400 and 500, the last one the end of
  training: jlic's lr_boundaries (0.2, 0.4, 0.6, 0.8)), grad clip 1.0. (`train_parallel.sh` names the
  pre-training's `model_epoch_500.pth`, which a 1000-epoch `pretrain.sh` does not write: it saves at epochs
  200, 400, ..., 1000; `train.sh`, the serial variant, names `model_epoch_1000.pth`.)

Epochs here are passes over ../shared/data/bsds200 (200 images, one crop each, batch 8: 25 steps per
epoch): 25 000 pre-training steps, 12 500 fine-tuning steps. The official training set is not named in
the code (`--train_dir ./path-to-traindata/`).

λ: the paper's list of α is not in any source read: the official README and scripts give only α = 0.3
(pre-training) and "e.g. 0.02" (fine-tuning); damo-cv/entroformer issue #8 (a maintainer): "We only trained
the parallel entroformer for low bpps"; issue #4 (a user) fine-tuned at α = 0.02. These λ are CompressAI's
zoo λ of qualities 1-6 (as the ELIC config), which bracket 0.02.

    python -m experiments.sweep --config experiments/configs/entroformer.py:pretrain \\
        --config.data.train=folder:../shared/data/bsds200 --config.eval.data=folder:../shared/data/kodak
    python -m experiments.sweep --config experiments/configs/entroformer.py \\
        --config.data.train=folder:../shared/data/bsds200 --config.eval.data=folder:../shared/data/kodak

(workdirs runs/entroformer-pretrain and runs/entroformer; the second starts every λ from the first's export
runs/entroformer-pretrain/lambda_0.3 with `init_from_kwargs.token_mask_ratio=0`; `--config.init_from=""`
trains stage 2 from scratch instead). A maintainer's check of stage 1 (issue #4): its model should reach
about 42.6 dB on Kodak, else the main autoencoder is not trained.

Evaluation codes y in 2 steps (anchors, then non-anchors) with real bytes. A CPU-sized variant is
`experiments/configs/entroformer_cpu.py` (used by `tests/models/test_entroformer.py`).
Measured RD: none yet.
"""

from __future__ import annotations

import ml_collections

from experiments.configs import bmshj2018_hyperprior

STAGES = ("pretrain", "finetune")
PRETRAIN_LAMBDA = 0.3
PRETRAIN_WORKDIR = "runs/entroformer-pretrain"


def get_config(stage: str = "finetune") -> ml_collections.ConfigDict:
    """Stage 2 (fine-tuning every λ from the pre-trained model), or stage 1 with ``stage="pretrain"``."""
    if stage not in STAGES:
        raise ValueError(f"entroformer config stage must be one of {STAGES}, got {stage!r}")
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
    c.lr = 1e-4
    c.lr_warmup = 0.05
    c.clip_norm = 1.0
    c.eval.anchor_names = ("compressai-cheng2020-anchor_mse_cpu", "paper-elic2022_mse", "vtm", "jpeg", "webp")
    if stage == "pretrain":
        c.name = "jlic entroformer (token-mask pre-training)"
        c.workdir = PRETRAIN_WORKDIR
        c.model_kwargs.token_mask_ratio = 0.5
        c.lambdas = (PRETRAIN_LAMBDA,)
        c.num_steps = 25_000
        c.crop = 256
        return c
    c.init_from = f"{PRETRAIN_WORKDIR}/lambda_{PRETRAIN_LAMBDA:g}"
    c.init_from_kwargs = ml_collections.ConfigDict({"token_mask_ratio": 0.0})
    c.num_steps = 12_500
    c.crop = 384
    c.lr_schedule = "step"
    c.lr_boundaries = (0.2, 0.4, 0.6, 0.8)
    c.lr_decay = (0.5,)
    return c
