"""mlicpp, CPU-sized (Jiang et al. 2023, arXiv 2307.15421): the MLIC++ architecture (10 slices x 2
checkerboard passes, all four contexts, LRP after each pass) with N=32, M=40 (slices of 4 channels) and
narrow context widths, 64x64 crops, 3 of the paper's λ, a few hundred steps on the embedded sample images.

A pipeline check of the full MLIC++ path on a CPU (train, export, code images in 20 steps with real bytes),
not a model that compresses well:

    python -m experiments.sweep --config experiments/configs/mlicpp_cpu.py --workdir runs/mlicpp-cpu

The same sizes code a Kodak crop bit-exactly in `tests/models/test_mlicpp.py`.
Compile cost: `model.init` took 29-180 s (2026-11-30/12-01, loaded machine); on 2026-12-01 at load 9 on the
2-core AMD EPYC the eager and the jitted init together did not finish in 900 s
(`python -m benchmarks.compile --configs mlicpp_cpu --parts init`); rerun that on a quiet machine.

Equal CPU budget (`python -m benchmarks.budget`, 2026-12-01, 2-core AMD EPYC at load 4-9; record in
`benchmarks/results/budget-2026-12-01.jsonl`): these widths at M=40, 900 CPU-seconds of training on bsds200
(batch 4, 128² crops, λ 0.0067, Adam 1e-3), all 24 Kodak images with real bytes) NOT MEASURED: the
first train step had not compiled after 34 min wall (17 CPU-min, 13.7 GB resident and growing) and was
stopped. Its step is 88.7k StableHLO ops before optimisation (ELIC-CPU's 36.5k took 816 s; XLA:CPU's compile
time grows faster than linearly with program size), so this config does not train on a 2-core CPU in a
session; the 20 sequential slice/pass blocks, unrolled forward and backward, are the program.
"""

from __future__ import annotations

import ml_collections

from experiments.configs import default

CPU_MODEL = {"N": 32, "M": 40, "channel_widths": (32, 24), "parameter_widths": (48, 32, 24),
             "lrp_widths": (32, 24)}


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.name = "jlic mlicpp (CPU-sized)"
    c.workdir = "runs/mlicpp-cpu"
    return default.cpu_sized(c, "mlicpp", CPU_MODEL, "paper-mlic-plusplus")
