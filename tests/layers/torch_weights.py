"""Copy a PyTorch module's weights into the flax param tree of the equivalent jlic block (tests only).

Key rule, as CompressAI names its children: `layer_<i>` -> `<i>` (`conv.<i>` inside a residual unit of an
attention block), `conv_a_<i>` -> `conv_a.<i>`, `kernel` -> `weight` (OIHW -> HWIO; transposed convs
IOHW -> HWIO).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import jax
import numpy as np


def torch_key(path: tuple[str, ...]) -> str:
    parts = []
    for i, p in enumerate(path[:-1]):
        m = re.fullmatch(r"layer_(\d+)", p)
        in_unit = i > 0 and re.fullmatch(r"conv_[ab]_[0-2]", path[i - 1])
        if m:
            parts.append(f"conv.{m.group(1)}" if in_unit else m.group(1))
        else:
            parts.append(re.sub(r"^(conv_[ab])_(\d+)$", r"\1.\2", p))
    leaf = {"kernel": "weight"}.get(path[-1], path[-1])
    return ".".join([*parts, leaf])


def params_from_torch(shapes, module, transposed: Callable[[tuple[str, ...]], bool] = lambda path: False
                      ) -> dict:
    """Flax params with the structure of `shapes` filled from `module.state_dict()` (every key used);
    `transposed(path)` tells which kernels are transposed convolutions."""
    sd = {k: v.detach().numpy() for k, v in module.state_dict().items() if k.split(".")[-1] != "mask"}
    used = set()

    def fill(path, leaf):
        names = tuple(getattr(p, "key", p) for p in path)
        key = torch_key(names)
        used.add(key)
        v = sd[key]
        if v.ndim == 4:
            v = v.transpose(2, 3, 0, 1) if transposed(names) else v.transpose(2, 3, 1, 0)
        assert v.shape == leaf.shape, (key, v.shape, leaf.shape)
        return np.ascontiguousarray(v, np.float32)

    params = jax.tree_util.tree_map_with_path(fill, shapes)
    assert used == set(sd), set(sd) ^ used
    return params


def perturb(module, seed: int = 0, scale: float = 0.1) -> None:
    """Add seeded noise to every parameter so zero biases and symmetric inits cannot hide a mapping error."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))
