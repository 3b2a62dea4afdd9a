"""Small CompressAI variable-rate models for the vbr interop tests (Kamisli et al. 2024, arXiv 2402.18930).

Built in the test (no weights can be downloaded): CompressAI's own classes at a small N/M, every parameter
perturbed with seeded noise (gains multiplicatively, so they stay positive), so no weight is trivially
zero or constant; `coding_at(net, level)` runs CompressAI's `update(scale=...)` for a level (its per-level
z tables) and returns the gain CompressAI's `compress(inputscale=...)` takes.
"""

from __future__ import annotations

import numpy as np

from jlic.interop.compressai_vbr import VBR_CLASSES

SMALL_VBR = {"N": 16, "M": 24}


def make_vbr_model(name: str, seed: int = 0, z_step: bool = True, y_gain: float = 4.0, **sizes):
    """A perturbed CompressAI `name` (a key of `VBR_CLASSES`) in eval mode; `z_step`: `vr_entbttlnck` (the
    zoo's setting; always off for mbt2018-vbr); `y_gain` scales g_a's last layer so that y is large enough
    to code nonzero symbols at the low levels (gain 0.1) too."""
    import torch
    from compressai import models as cm

    torch.manual_seed(seed)
    cls = getattr(cm, VBR_CLASSES[name])
    kwargs = {**SMALL_VBR, **sizes}
    net = cls(**kwargs) if name == "mbt2018-vbr" else cls(**kwargs, vr_entbttlnck=z_step)
    with torch.no_grad():
        for n, p in net.named_parameters():
            if n == "Gain":
                p.mul_(torch.exp(0.05 * torch.randn_like(p)))
            else:
                p.add_(0.05 * torch.randn_like(p) * (1.0 + p.abs().mean()))
        net.g_a[6].weight.mul_(y_gain)
        net.g_a[6].bias.mul_(y_gain)
    return net.eval()


def gain_at(net, level: float):
    """CompressAI's `inputscale` of a (fractional) jlic level: gains interpolated exponentially."""
    import torch

    g = net.Gain.detach().abs().double().numpy()
    lo = min(int(np.floor(level)), len(g) - 2)
    t = level - lo
    mixed = np.exp((1 - t) * np.log(g[lo]) + t * np.log(g[lo + 1]))
    value = g[lo] if t == 0 else g[lo + 1] if t == 1 else mixed
    return torch.tensor(np.float32(value))


def coding_at(net, level: float):
    """Update `net`'s coding tables for `level` (its z tables depend on the level) and return the gain."""
    scale = gain_at(net, level)
    net.update(force=True, scale=scale)
    return scale
