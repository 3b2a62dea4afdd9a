"""One variable-rate model for the whole RD curve: the default small bmshj2018-hyperprior with gain units.

Gain vectors per rate level with exponential interpolation (Cui et al. 2021, arXiv 2003.02012; the per-level
scalar steps of CompressAI's VBR models, Kamisli et al. 2024, arXiv 2402.18930, are a special case), trained
with a level (and its λ) drawn per example: one model, one checkpoint (`variable_rate/`), one RD curve over
the four λ and one interpolated level between each pair (`--config.eval.interpolate=N` for more), in the same
`rd.json` / `rd.png` / `report.md` as the other sweep modes. CPU-sized like default.py.

    python -m experiments.sweep --config experiments/configs/variable_rate.py --workdir runs/variable-rate
    python -m jlic compress --checkpoint runs/variable-rate/variable_rate --level 1.5 in.png out.jlic
    python -m jlic decompress --checkpoint runs/variable-rate/variable_rate out.jlic out.png

Measured 2026-12-01, AMD EPYC, 2 cores shared with five other jobs (loaded), equal compute: this model
(N=32, M=48, batch 8x64², train bsds200) for 4·T = 3000 steps vs four fixed-λ models of the same
architecture, data and batch for T = 750 steps each (default.py, `sweep_mode=vmap`), λ (0.0001, 0.0003,
0.001, 0.003), evaluated on the first 6 Kodak images with real bytes (`benchmarks/variable_rate.py` has
the exact commands; training took 35.8 min wall for the variable-rate model, 45.9 min for the vmapped four):

    variable rate   level 0     0.5     1       1.5     2       2.5     3
                    bpp   0.0415  0.0519  0.0693  0.0942  0.1369  0.1821  0.2432
                    PSNR  19.63   20.01   20.43   20.80   21.09   21.27   21.38
    fixed λ         bpp   0.0342          0.0648          0.1332          0.2477
                    PSNR  19.17           19.51           20.22           20.10

BD-PSNR of the variable-rate curve against the fixed-λ one: +0.86 dB (all 7 points; +0.85 dB at the 4
trained levels); BD-rate -71% (pchip) / -77% (cubic). The BD-rate is that large because both curves are
nearly flat (optimization-limited after so few steps; the fixed λ=0.003 model is below its λ=0.001 one):
read it as "the shared model, which saw 4x the updates, is better at every rate", not as a converged
comparison. Interpolated levels fall on the curve between their neighbours.
"""

from __future__ import annotations

from experiments.configs import default


def get_config():
    c = default.get_config()
    c.name = "jlic bmshj2018-hyperprior (small, variable rate)"
    c.workdir = "runs/variable-rate"
    c.sweep_mode = "variable_rate"  # jlic.train.variable_rate: one model, a level per example
    c.lambdas = (0.0001, 0.0003, 0.001, 0.003)  # level k trains λ_k
    c.num_steps = 6000  # 4x default.py's per-λ budget of 1500 steps: the compute of four fixed-λ models
    c.eval.interpolate = 1  # fractional levels evaluated between each pair of trained levels
    return c
