"""Cool-chic (overfitted per-image codec, arXiv 2212.05458 / 2307.12706) on Kodak, real bytes, CPU.

Every eval image is fitted from scratch for every λ (`jlic.overfit`): soft-round + Kumaraswamy noise annealed
(T 0.3 -> 0.1, a 2 -> 1) with Adam 1e-2 and cosine decay, then a 10% straight-through phase; weights quantized
per group with their rate counted; latents and weights ANS-coded into a self-contained `.jlic` file, decoded
again from the bytes alone for the figures. JPEG, WebP, JPEG 2000 and AVIF run live on the same images
(`jlic.codecs.baselines`, the code behind `python -m jlic baselines`), so report.md holds the BD-rates.

    python -m experiments.sweep --config experiments/configs/coolchic.py --workdir runs/coolchic

MEASURED: see the module constant `MEASURED` below (filled from runs/coolchic/report.md of this command).
"""

from __future__ import annotations

import ml_collections

MEASURED = "not measured yet"


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.overfit = True  # experiments.sweep hands the config to jlic.overfit.sweep.run_sweep
    c.name = "jlic coolchic (overfitted)"
    c.workdir = "runs/coolchic"
    c.model = "coolchic"  # preset of jlic.models.coolchic.PRESETS: coolchic (lop), coolchic-hop, coolchic-vlop
    c.model_kwargs = ml_collections.ConfigDict()
    c.metric = "mse"
    c.lambdas = (0.002, 0.0067, 0.025)  # bpp + λ 255² MSE
    c.seed = 0
    c.iterations = 600
    c.lr = 1e-2
    c.ste_fraction = 0.1
    c.ste_lr = 1e-4
    c.temperature = (0.3, 0.1)
    c.noise = (2.0, 1.0)
    c.clip_norm = 1.0
    c.progress_bar = True
    c.eval = ml_collections.ConfigDict()
    c.eval.data = "folder:../shared/data/kodak"
    c.eval.limit = 2
    c.eval.max_side = ml_collections.config_dict.placeholder(int)
    c.eval.crop = ml_collections.config_dict.placeholder(int)  # center crop (pixels a side) of each image
    c.eval.anchors = "../shared/reference/kodak-rd"
    c.eval.anchor_names = ("jpeg", "webp", "jpeg2000", "compressai-bmshj2018-hyperprior_mse_cpu")
    c.eval.live_codecs = ("jpeg", "webp", "jpeg2000", "avif")
    c.eval.live_codec_settings = ml_collections.ConfigDict()
    return c
