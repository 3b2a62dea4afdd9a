"""entroformer, CPU-sized (Qian et al. 2022, arXiv 2202.05492): the Entroformer architecture (GDN transforms,
transformer context model with diamond relative positions and top-k attention, bidirectional checkerboard,
transformer hyperprior) with N=16, M=24, width 24, depth 2, 2 heads, one block per hyperprior stage, top-k 4
(so top-k is active on small latents), 64x64 crops, 3 λ.

A pipeline check of the full Entroformer path on a CPU (train, export, code images in 2 steps with real
bytes), not a model that compresses well; its model is the one `tests/models/test_entroformer.py` tests:

    python -m experiments.sweep --config experiments/configs/entroformer_cpu.py --workdir runs/entroformer-cpu

It trains from scratch in one stage. The official two stages (token-mask pre-training, then fine-tuning from
its export: experiments/configs/entroformer.py) run at this size, depth 1, in
`tests/experiments/test_entroformer_stages.py` (slow: 2 + 2 steps, 200 s on the loaded 2-core box).

Compile cost (2026-12-01, 2-core AMD EPYC shared at load 5-6, walls several times
an idle machine's; `python -m benchmarks.compile --configs entroformer_cpu --variants base,tapsgrad --parts
step`): the train step (batch 4, 64²) is 177k optimised HLO instructions, compiled in 85-107 s, then
0.028-0.035 s/step; the convolutions' kernel-gradient rule moves it by <1% of the instructions (the
transformer context model is the bulk).

Equal CPU budget (`python -m benchmarks.budget`, 2026-12-01, 2-core AMD EPYC at load 4-9; record in
`benchmarks/results/budget-2026-12-01.jsonl`): these blocks at N=32, M=40, width 40, top-k 16, 900 CPU-seconds
of training on bsds200 (batch 4, 128² crops, λ 0.0067, Adam 1e-3), all 24 Kodak images with real bytes:
4849 steps, 0.295 bpp / 25.88 dB (-0.06 dB against JPEG at that rate); mbt2018-mean in the same budget
0.296 bpp / 26.51 dB. The first train step compiled in 96 s wall (14.7k StableHLO ops).
"""

from __future__ import annotations

import ml_collections

from experiments.configs import default

MODEL_KWARGS = {"N": 16, "M": 24, "dim": 24, "depth": 2, "heads": 2, "mlp_ratio": 4, "position_num": 7,
                "topk": 4, "hyper_blocks": 1}


def get_config() -> ml_collections.ConfigDict:
    anchor = "compressai-mbt2018-mean_mse_cpu"
    return default.cpu_sized(default.get_config(), "entroformer", MODEL_KWARGS, anchor)
