"""Key maps of CompressAI's development line (1.2.9.dev0) TCM and DCAE onto jlic's `tcm` and `dcae` models.

CompressAI nests the entropy model's networks inside latent codecs
(``latent_codec.y.channel_context.y3.mean_cc.0.weight``); jlic's models keep them as top-level children whose
flat names `jlic.interop.compressai` derives from the parameter paths (``mean_cc_3.0.weight``). A `DevKeyMap`
renames in both directions with

- prefix rules (CompressAI prefix, jlic prefix), ``{k}`` the slice index, first match wins;
- inner rules (regex on CompressAI's side, replacement on jlic's, and the way back) for the layers inside;
- value changes: DCAE's relative-position bias ``(heads, 2w-1, 2w-1)`` <-> jlic's ``((2w-1)^2, heads)`` table;
  TCM's two successive linear layers after each window attention (timm's ``attn.proj`` and CompressAI's
  ``output_proj``) fold into jlic's one ``attn.proj`` (W = W_out W_proj, b = W_out b_proj + b_out, in float64),
  and unfold as an identity ``attn.proj`` plus the folded ``output_proj`` (what CompressAI's own converter of
  the official checkpoints writes).

The per-slice Gaussian-conditional buffers become the single ``gaussian_conditional.*`` jlic codes every slice
with (they must agree); the window attention's ``relative_position_index`` buffers are constants jlic computes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

_GAUSSIAN = re.compile(r"^latent_codec\.y\.latent_codec\.y(\d+)\.gaussian_conditional\.(.+)$")
_CC = "latent_codec.y.channel_context.y{k}."
_LC = "latent_codec.y.latent_codec.y{k}."
_PROJ = ".msa.attn.proj."
_OUT = ".msa.output_proj."


def _template(template: str) -> re.Pattern:
    return re.compile("^" + re.escape(template).replace(re.escape("{k}"), r"(\d+)"))


def _rename(key: str, src: str, dst: str) -> str | None:
    m = _template(src).match(key)
    if m is None:
        return None
    return dst.format(k=m.group(1) if m.groups() else "") + key[m.end():]


@dataclass(frozen=True)
class DevKeyMap:
    """Prefix rules, inner rules ((CompressAI regex, jlic replacement), (jlic regex, CompressAI replacement)),
    whether window-attention projections fold (TCM), whether relative-position tables are reshaped (DCAE),
    and the constructor arguments read off jlic-named weights."""

    prefixes: tuple[tuple[str, str], ...]
    inner: tuple[tuple[tuple[str, str], tuple[str, str]], ...]
    kwargs: Callable[[Mapping[str, np.ndarray]], dict[str, Any]]
    fold_projection: bool = False
    position_params: bool = False

    def _to_jlic_key(self, key: str) -> str:
        for src, dst in self.prefixes:
            if (new := _rename(key, src, dst)) is not None:
                key = new
                break
        for (pattern, repl), _ in self.inner:
            key = re.sub(pattern, repl, key)
        return key

    def _to_compressai_key(self, key: str) -> str:
        for _, (pattern, repl) in self.inner:
            key = re.sub(pattern, repl, key)
        for src, dst in self.prefixes:
            if (new := _rename(key, dst, src)) is not None:
                return new
        return key

    def to_jlic(self, sd: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """CompressAI keys -> jlic flat names (values in the layout `jlic.interop.compressai` converts)."""
        out: dict[str, np.ndarray] = {}
        gc: dict[str, dict[str, np.ndarray]] = {}
        proj: dict[str, np.ndarray] = {}
        for key, v in sd.items():
            if m := _GAUSSIAN.match(key):
                gc.setdefault(m.group(1), {})[m.group(2)] = v
                continue
            if key.endswith(".relative_position_index"):
                continue
            if self.fold_projection and (_PROJ in key or _OUT in key):
                proj[key] = np.asarray(v)
                continue
            if self.position_params and key.endswith(".msa.relative_position_params"):
                v = np.asarray(v)
                v = v.transpose(1, 2, 0).reshape(-1, v.shape[0])
            out[self._to_jlic_key(key)] = v
        for key in [k for k in proj if _OUT in k and k.endswith(".weight")]:
            stem = key[:-len(_OUT + "weight")]
            w_out = proj[key].astype(np.float64)
            b_out = proj[f"{stem}{_OUT}bias"].astype(np.float64)
            w_p = proj[f"{stem}{_PROJ}weight"].astype(np.float64)
            b_p = proj[f"{stem}{_PROJ}bias"].astype(np.float64)
            name = self._to_jlic_key(f"{stem}{_PROJ}weight")[:-len("weight")]
            out[name + "weight"] = (w_out @ w_p).astype(np.float32)
            out[name + "bias"] = (w_out @ b_p + b_out).astype(np.float32)
        out.update(merge_slice_buffers(gc))
        return out

    def to_compressai(self, sd: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """jlic flat names -> CompressAI keys (parameters only; an identity `attn.proj` where TCM folds)."""
        out: dict[str, np.ndarray] = {}
        for key, v in sd.items():
            new = self._to_compressai_key(key)
            if self.position_params and new.endswith(".msa.relative_position_params"):
                v = np.asarray(v)
                side = math.isqrt(v.shape[0])
                v = v.T.reshape(v.shape[1], side, side)
            if self.fold_projection and _PROJ in new:
                stem, leaf = new.split(_PROJ)
                out[f"{stem}{_OUT}{leaf}"] = v
                v = np.asarray(v)
                new, v = f"{stem}{_PROJ}{leaf}", (np.eye(v.shape[0], dtype=np.float32) if leaf == "weight"
                                                  else np.zeros_like(v))
            out[new] = v
        return out


def merge_slice_buffers(gc: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """``{slice: {buffer: array}}`` -> slice 0's buffers as ``gaussian_conditional.*`` (all slices agree)."""
    first = gc.get("0", {})
    for g, bufs in gc.items():
        for name, v in bufs.items():
            if name not in first or np.shape(first[name]) != np.shape(v) or not np.array_equal(first[name], v):
                raise ValueError(f"slice {g}'s Gaussian {name} differs from slice 0's (jlic codes every slice "
                                 "with one Gaussian table)")
    return {f"gaussian_conditional.{k}": v for k, v in first.items()}


# ----------------------------------------------------------------------------------------------------- TCM


def _stage_runs(flat: Mapping[str, np.ndarray], prefix: str) -> list[list[int]]:
    """Runs of consecutive `prefix.<i>` indexes that are TCM blocks (have `conv1_1`)."""
    idx = sorted({int(k.split(".")[1]) for k in flat if k.startswith(prefix + ".") and ".conv1_1.weight" in k})
    runs: list[list[int]] = []
    for i in idx:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def _max_support(widest: int, slices: int) -> int:
    """The support cap: the last slice's support if it is below the slice count, else 5 (the models' default;
    every slice then sees all previous ones)."""
    return widest if widest < slices - 1 else max(5, slices - 1)


def _head_width(channels: int, heads: int, default: int) -> int:
    """Head width of an attention with `heads` heads on `channels`; one head of all channels is what a
    default wider than the block gives (models clamp it), so the default is kept then."""
    return default if heads == 1 and default >= channels else channels // heads


def _window(table: np.ndarray) -> int:
    return (math.isqrt(int(table.shape[0])) + 1) // 2


def _non_default(module: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """`kwargs` without the values equal to the module's defaults (N and M always kept)."""
    fields = module.__dataclass_fields__
    return {k: v for k, v in kwargs.items() if k in ("N", "M") or fields[k].default != v}


def tcm_kwargs(flat: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Constructor arguments of `jlic.models.tcm.Tcm` (those that differ from its defaults, and N, M) read off
    jlic-named TCM weights."""
    from jlic.models.tcm import Tcm

    n = int(flat["g_a.0.conv1.weight"].shape[0]) // 2
    m = int(flat["h_a.0.conv1.weight"].shape[1])
    runs = _stage_runs(flat, "g_a") + _stage_runs(flat, "g_s")
    if len(runs) != 6:
        raise ValueError(f"tcm: expected 3 + 3 stages of TCM blocks, found {len(runs)}")
    heads = [int(flat[f"{p}.{r[0]}.trans_block.attn.relative_position_bias_table"].shape[1])
             for p, r in zip(("g_a",) * 3 + ("g_s",) * 3, runs, strict=True)]
    hyper = _stage_runs(flat, "h_a")[0][0]
    hyper_table = flat[f"h_a.{hyper}.trans_block.attn.relative_position_bias_table"]
    slices = sum(1 for k in flat if re.fullmatch(r"mean_cc_\d+\.0\.weight", k))
    s = m // slices
    widest = max(int(flat[f"mean_cc_{k}.0.weight"].shape[1]) for k in range(slices))
    width = int(flat["mean_attention_0.in_conv.weight"].shape[0])
    attention_heads = int(flat["mean_attention_0.block_1.attn.relative_position_bias_table"].shape[1])
    defaults = Tcm.__dataclass_fields__
    return _non_default(Tcm, {
        "N": n, "M": m, "depths": tuple(len(r) for r in runs),
        "head_dims": tuple(_head_width(n, h, d)
                           for h, d in zip(heads, defaults["head_dims"].default, strict=True)),
        "window": _window(flat[f"g_a.{runs[0][0]}.trans_block.attn.relative_position_bias_table"]),
        "hyper_channels": int(flat["entropy_bottleneck.quantiles"].shape[0]),
        "hyper_window": _window(hyper_table),
        "hyper_head_dim": _head_width(n, int(hyper_table.shape[1]), defaults["hyper_head_dim"].default),
        "slices": slices, "max_support": _max_support((widest - m) // s, slices), "attention_width": width,
        "attention_head_dim": _head_width(width, attention_heads, defaults["attention_head_dim"].default),
        "context_widths": tuple(int(flat[f"mean_cc_0.{i}.weight"].shape[0]) for i in (0, 2)),
    })


_SWIN_INNER = (
    ((r"\.msa\.attn\.(qkv|proj|relative_position_bias_table)", r".attn.\1"),
     (r"\.attn\.(qkv|proj|relative_position_bias_table)", r".msa.attn.\1")),
    ((r"\.mlp\.(fc[12])\.", r".\1."), (r"\.(fc[12])\.", r".mlp.\1.")),
)
_HYPER = (
    ("latent_codec.h_a.", "h_a."),
    ("latent_codec.h_s.h_mean_s.", "h_mean_s."),
    ("latent_codec.h_s.h_scale_s.", "h_scale_s."),
    ("latent_codec.z.entropy_bottleneck.", "entropy_bottleneck."),
)

TCM = DevKeyMap(
    prefixes=(*_HYPER,
              (_CC + "mean_cc.", "mean_cc_{k}."),
              (_CC + "scale_cc.", "scale_cc_{k}."),
              (_CC + "mean_support_transform.", "mean_attention_{k}."),
              (_CC + "scale_support_transform.", "scale_attention_{k}."),
              (_LC + "lrp_transform.", "lrp_{k}.")),
    inner=(((r"\.non_local_block\.block_", ".block_"), (r"\.block_", ".non_local_block.block_")), *_SWIN_INNER),
    kwargs=tcm_kwargs, fold_projection=True)


# ---------------------------------------------------------------------------------------------------- DCAE


def dcae_kwargs(flat: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Constructor arguments of `jlic.models.dcae.Dcae` (those that differ from its defaults, and N, M) read off
    jlic-named DCAE weights."""
    from jlic.models.dcae import Dcae

    dims = tuple(int(flat[f"g_a.{i}.conv.weight"].shape[0]) for i in (0, 2, 4))
    m = int(flat["g_a.6.weight"].shape[0])

    def blocks(prefix: str) -> int:
        return sum(1 for k in flat if re.fullmatch(re.escape(prefix) + r"\.layers_\d+\.ln1\.weight", k))

    def table(prefix: str) -> np.ndarray:
        return flat[f"{prefix}.layers_0.attn.relative_position_bias_table"]

    stages = ("g_a.1", "g_a.3", "g_a.5", "g_s.1", "g_s.3", "g_s.5")
    chans = (*dims, *dims[::-1])
    n = int(flat["h_a.0.conv.weight"].shape[0])
    slices = sum(1 for k in flat if re.fullmatch(r"mean_cc_\d+\.0\.weight", k))
    s = m // slices
    widest = max(int(flat[f"mean_cc_{k}.0.weight"].shape[1]) for k in range(slices))
    dictionary = flat["dictionary"]
    defaults = Dcae.__dataclass_fields__
    return _non_default(Dcae, {
        "N": n, "M": m, "feature_dims": dims, "blocks": tuple(blocks(p) for p in stages[:3]),
        "head_dims": tuple(_head_width(c, int(table(p).shape[1]), d) for p, c, d in
                           zip(stages, chans, defaults["head_dims"].default, strict=True)),
        "window": _window(table("g_a.1")), "hyper_channels": int(flat["entropy_bottleneck.quantiles"].shape[0]),
        "hyper_window": _window(table("h_a.1")),
        "hyper_head_dim": _head_width(n, int(table("h_a.1").shape[1]), defaults["hyper_head_dim"].default),
        "slices": slices, "max_support": _max_support((widest - 3 * m) // s, slices),
        "dict_num": int(dictionary.shape[0]), "dict_dim": int(dictionary.shape[1]),
        "dict_heads": int(flat["cross_attention_0.scale"].shape[0]),
        "context_widths": tuple(int(flat[f"mean_cc_0.{i}.weight"].shape[0]) for i in (0, 2)),
    })


DCAE = DevKeyMap(
    prefixes=(*_HYPER,
              ("shared_dictionary.dt", "dictionary"),
              (_CC + "cross_attention.", "cross_attention_{k}."),
              (_CC + "mean_cc.", "mean_cc_{k}."),
              (_CC + "scale_cc.", "scale_cc_{k}."),
              (_LC + "lrp_transform.", "lrp_{k}.")),
    inner=(
        ((r"\.layers\.(\d+)\.", r".layers_\1."), (r"\.layers_(\d+)\.", r".layers.\1.")),
        ((r"\.msa\.embedding_layer\.", ".attn.qkv."), (r"\.attn\.qkv\.", ".msa.embedding_layer.")),
        ((r"\.msa\.linear\.", ".attn.proj."), (r"\.attn\.proj\.", ".msa.linear.")),
        ((r"\.msa\.relative_position_params$", ".attn.relative_position_bias_table"),
         (r"\.attn\.relative_position_bias_table$", ".msa.relative_position_params")),
        ((r"\.dwconv\.dwconv\.", ".dwconv."), (r"\.dwconv\.", ".dwconv.dwconv.")),
        ((r"\.conv_layers\.(\d+)\.1\.", r".conv_layers_\1."),
         (r"\.conv_layers_(\d+)\.", r".conv_layers.\1.1.")),
        ((r"\.output_trans\.0\.", ".output_trans."), (r"\.output_trans\.", ".output_trans.0.")),
    ),
    kwargs=dcae_kwargs, position_params=True)

DEV_KEY_MAPS: dict[str, DevKeyMap] = {"tcm": TCM, "dcae": DCAE}
# The CompressAI classes (modules of `compressai.models` in the development line; not re-exported there).
DEV_CLASSES = {"tcm": "tcm.TCM", "dcae": "dcae.DCAE"}
