"""Official HPCM state_dicts (lyq133/LIC-HPCM, arXiv 2507.19125) into jlic's `hpcm-base` / `hpcm-large`.

Key map, one to one (every official parameter to one jlic leaf; conv weights ``(out, in, kh, kw)`` to HWIO,
transposed-conv weights ``(in, out, kh, kw)`` to ``(kh, kw, in, out)``). The official code calls the
adaptors of its 1/2 and full levels as ``list[i - 1]`` for step ``i`` (so its first step of a level uses the
last adaptor); jlic numbers the adaptors by coding step: ``adaptor_k`` for k = 1..10.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from jlic.models import hpcm


def official_key(path: tuple[str, ...], size: str) -> str:
    """The official state_dict key of jlic leaf ``path`` (e.g. ``("g_a", "down_0", "kernel")``)."""
    deep = hpcm.SIZES[size]["deep"]
    top, *rest = path
    leaf = "weight" if rest and rest[-1] == "kernel" else "bias"

    def block(prefix: str, parts: list[str]) -> str:  # PConvRB / DWConvRB
        inner = {"pconv": "0.pconv", "dwconv": "0", "expand": "1", "project": "3"}[parts[0]]
        return f"{prefix}.branch.{inner}.{leaf}"

    if top in ("g_a", "g_s", "h_a", "h_s"):
        order = {
            "g_a": ["down_0", "block_0_0", "block_0_1", "down_1", "block_1_0", "block_1_1", "down_2",
                    *[f"block_2_{i}" for i in range(deep)], "down_3"],
            "g_s": ["up_0", *[f"block_0_{i}" for i in range(deep)], "up_1", "block_1_0", "block_1_1", "up_2",
                    "block_2_0", "block_2_1", "up_3"],
            "h_a": ["block_0", "down_0", "block_1_0", "block_1_1", "block_1_2", "down_1"],
            "h_s": ["up_0", "block_0_0", "block_0_1", "block_0_2", "up_1", "block_1"],
        }[top]
        i = order.index(rest[0])
        if rest[0].startswith("block"):
            return block(f"{top}.branch.{i}", rest[1:])
        return f"{top}.branch.{i}.{leaf}"
    if top == "z_prior":
        return "scales_hyper" if rest[0] == "scale" else "means_hyper"
    if top.startswith("quant_step_"):
        return f"adaptive_params_list.{int(top.rsplit('_', 1)[1]) - 1}"
    if top.startswith("adaptor_"):
        k = int(top.rsplit("_", 1)[1])
        level, first, n = hpcm.LEVEL_OF_STEP[k], {0: 1, 1: 2, 2: 5}, {0: 1, 1: 3, 2: 6}
        i = k - first[level]
        return f"y_spatial_prior_adaptor_list_s{level + 1}.{(i - 1) % n[level] if level else i}.{leaf}"
    if top.startswith("attention_"):
        return f"attn_s{int(top.rsplit('_', 1)[1]) + 1}.conv_{rest[0]}.{leaf}"
    if top.startswith("context_net_"):
        return f"context_net.{int(top.rsplit('_', 1)[1]) - 1}.{leaf}"
    if top in ("prior_coarse", "prior_full"):
        prefix = "y_spatial_prior_s1_s2" if top == "prior_coarse" else "y_spatial_prior_s3"
        cfg = hpcm.SIZES[size][top]
        if rest[0] == "out":
            return f"{prefix}.branch_2.{cfg[1]}.{leaf}"
        branch, i = rest[0].rsplit("_", 1)
        return block(f"{prefix}.{branch}.{i}", rest[1:])
    raise KeyError(f"no official key for {'/'.join(path)}")


def _convert(path: tuple[str, ...], value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    v = np.asarray(value, np.float32)
    if path[-1] == "kernel":
        transposed = path[0] in ("g_s", "h_s") and path[1].startswith("up_")
        v = v.transpose(2, 3, 0, 1) if transposed else v.transpose(2, 3, 1, 0)
    return v.reshape(shape)


def from_official(model: Any, state_dict: Mapping[str, Any], strict: bool = True) -> Any:
    """jlic params of ``model`` (a registered ``hpcm-base`` / ``hpcm-large``) from an official state_dict
    (torch tensors or arrays; buffers such as the coder's CDFs are ignored)."""
    size = model.module.size
    sd = {k: np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v) for k, v in state_dict.items()}
    structure = jax.eval_shape(lambda k: model.init(k, (1, 256, 256, 3)), jax.random.PRNGKey(0))
    used: set[str] = set()

    def leaf(path, spec):
        names = tuple(str(p.key) for p in path)
        key = official_key(names, size)
        used.add(key)
        return _convert(names, sd[key], spec.shape)

    params = jax.tree_util.tree_map_with_path(leaf, structure)
    buffers = ("scale_table", "quantized_cdf", "cdf_length", "offset", "entropy_estimation")
    left = sorted(k for k in sd if k not in used and not any(b in k for b in buffers))
    if strict and left:
        raise KeyError(f"official keys not used: {left[:10]}{' ...' if len(left) > 10 else ''}")
    return params
