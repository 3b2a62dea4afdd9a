"""elic2022, CPU-sized (He et al. 2022, arXiv 2203.10886): the ELIC architecture with N=32, M=40, the
paper's group proportions 1:1:2:4:12 scaled to M (groups 2/2/4/8/24) and channel-context widths 48/32
(224/128 in the paper), 64x64 crops, 3 λ, a few hundred steps on the embedded sample images.

A pipeline check of the full ELIC path on a laptop-class CPU (train all λ, export, code Kodak-style images
in 10 steps with real bytes), not a model that compresses well:

    python -m experiments.sweep --config experiments/configs/elic2022_cpu.py --workdir runs/elic2022-cpu

A shortened copy (20 steps) runs in the slow test
`tests/experiments/test_configs.py::test_cpu_config_runs[elic2022_cpu]`.
Compile cost (2026-12-01, 2-core AMD EPYC shared at load 15-20, so walls are ~5x an
idle machine's; not the latent codecs: the init's per-leaf key derivation and, for the whole step, the
per-leaf non-finite guard described at the end of this list):
- `model.init`: 367 parameter leaves, each with its own threefry key derivation (flax fold_ins) and draw:
  8929 optimised HLO instructions, 170 s to compile (more than the loss gradient). `unsafe_rbg` keys: 2865
  instructions, 67 s (changes every init value, so not adopted). Since 2026-12-01 a model with more than
  200 leaves inits eagerly (`jlic.models.base.jit_init`, bit-identical values): at (1, 64, 64, 3) 25.5 s
  eager vs 44.0 s jitted on an idle machine, 178.7 s vs 430.9 s at load 7-9
  (`python -m benchmarks.compile --configs elic2022_cpu --parts init`).
- loss gradient: 4733 instructions, 239 s; with lax's own conv VJPs instead of `jlic.ops.conv`'s k*k-dot
  kernel gradients 2685 instructions, 144 s. The latent-codec forward (5 groups x 2 passes) is 388
  instructions of it; g_a/g_s (138 convs, 4 attention blocks) and their backward are the bulk.
- the whole train step did not finish compiling in 600 s wall (buffer assignment dominates a perf profile).
  The cause was the step's non-finite guard, a per-leaf `isfinite` stack that XLA duplicated into every
  leaf's update (890k optimised HLO instructions, 362 s to compile at load ~2). The guard now reads the
  gradient norm: 78k instructions, 48 s, and steps of 0.077 s against 0.099 s (2026-12-01, load ~1.7;
  `python -m benchmarks.compile --configs elic2022_cpu --parts step`, records marked with their commit).
- the slow test (20 steps x 2 λ, export, real-bytes evaluation) passed, in 1004 s wall at load ~10.

Equal CPU budget (`python -m benchmarks.budget`, 2026-12-01, 2-core AMD EPYC at load 4-9; record in
`benchmarks/results/budget-2026-12-01.jsonl`): these widths at M=40, 900 CPU-seconds of training on bsds200
(batch 4, 128² crops, λ 0.0067, Adam 1e-3), all 24 Kodak images with real bytes: 2060 steps, 0.231 bpp /
24.62 dB (+0.46 dB over JPEG at that rate); mbt2018-mean in the same budget 0.296 bpp / 26.51 dB (+0.54).
The first train step compiled in 816 s wall (508 CPU-s; 36.5k StableHLO ops before optimisation).
"""

from __future__ import annotations

import ml_collections

from experiments.configs import default

CPU_MODEL = {"N": 32, "M": 40, "context_widths": (48, 32)}


def get_config() -> ml_collections.ConfigDict:
    return default.cpu_sized(default.get_config(), "elic2022", CPU_MODEL, "paper-elic2022_mse")
