"""mlicpp, CPU-sized (Jiang et al. 2023, arXiv 2307.15421): the MLIC++ architecture (10 slices x 2
checkerboard passes, all four contexts, LRP after each pass) with N=32, M=40 (slices of 4 channels) and
narrow context widths, 64x64 crops, 3 of the paper's λ, a few hundred steps on the embedded sample images.

A pipeline check of the full MLIC++ path on a CPU (train, export, code images in 20 steps with real bytes),
not a model that compresses well:

    python -m experiments.sweep --config experiments/configs/mlicpp_cpu.py --workdir runs/mlicpp-cpu

The same sizes code a Kodak crop bit-exactly in `tests/models/test_mlicpp.py`.
Compile cost (2026-12-01, 2-core AMD EPYC, load ~1.6; `python -m benchmarks.compile --configs mlicpp_cpu
--parts step`): train-state init (eager, 879 leaves) 58 s, train step 113 s to compile (226k optimised HLO
instructions), 0.133 s per step at these sizes. Before 0f8369e the step's per-leaf non-finite guard made the
compile superlinear in the leaf count: the first step had not compiled after 34 min (13.7 GB) and was
stopped. Running the 10 slices as one `lax.scan` (8ac7cfd, reverted) compiled no faster (115 s) and stepped
19 % slower, so the slices stay unrolled.

Equal CPU budget (`python -m benchmarks.budget --model mlicpp`, 2026-12-01, 2-core AMD EPYC; the four
models ran at the same time, load 3-10; record in `benchmarks/results/budget-2026-12-01.jsonl`): these
widths at M=40 (1.72 M parameters), 900 CPU-seconds of training on bsds200 (batch 4, 128² crops, λ 0.0067,
Adam 1e-3): 1198 steps (0.75 CPU-s each), all 24 Kodak images with real bytes 0.152 bpp / 22.92 dB
(estimate 0.150 bpp), 1.2 s / 1.3 s to encode / decode an image. Below the JPEG anchors' lowest rate, so no
dB-over-JPEG; mbt2018-mean in the same run: 5505 steps, 0.292 bpp / 25.99 dB. One λ each: no BD-rate.
"""

from __future__ import annotations

import ml_collections

from experiments.configs import default

CPU_MODEL = {"N": 32, "M": 40, "channel_widths": (32, 24), "parameter_widths": (48, 32, 24),
             "lrp_widths": (32, 24)}


def get_config() -> ml_collections.ConfigDict:
    return default.cpu_sized(default.get_config(), "mlicpp", CPU_MODEL, "paper-mlic-plusplus")
