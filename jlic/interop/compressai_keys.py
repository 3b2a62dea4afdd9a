"""Key maps between CompressAI models whose sub-networks sit inside latent codecs and jlic's flat names.

CompressAI's development line (1.2.9.dev0) nests most networks of its newer models in latent codecs
(`latent_codec.y.latent_codec.y3.lrp_anchor.lrp_transform.0.weight`); a jlic model keeps them as top-level
children (`lrp_anchor_3/layer_0/kernel`, flat name `lrp_anchor_3.0.weight` as `jlic.interop.compressai`
derives it). A `KeyMap` is an ordered list of prefix rules, used in both directions; ``{k}`` is the slice
index (CompressAI's ``y{k}``) and, on jlic's side, ``{j}`` is ``k - 1`` (networks that exist from the second
slice on, which jlic numbers from 0). Per-slice Gaussian-conditional buffers
(`...y3.y.gaussian_conditional.*`) become the single `gaussian_conditional.*` jlic codes every slice with,
after checking they are all equal.

`MLIC`, `MLIC_WINDOW`: MLIC, and MLIC+ / MLIC++ (arXiv 2211.07273, 2307.15421) as `compressai.models.mlic`
builds them (a rule list is unambiguous both ways only per local-context kind); `STF`, `WACNN`: STF and
WACNN (arXiv 2203.08450) as `compressai.models.stf` builds them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

_SLICE = "latent_codec.y.latent_codec.y{k}."
_GAUSSIAN = re.compile(r"^latent_codec\.y\.latent_codec\.y(\d+)\.(?:y\.)?gaussian_conditional\.(.+)$")


def _pattern(template: str) -> tuple[re.Pattern, str | None]:
    """A prefix template -> (regex matching it at the start of a key, the index placeholder or None)."""
    name = "k" if "{k}" in template else "j" if "{j}" in template else None
    regex = re.escape(template)
    if name:
        regex = regex.replace(re.escape("{" + name + "}"), r"(\d+)")
    return re.compile("^" + regex), name


@dataclass(frozen=True)
class KeyMap:
    """Ordered (CompressAI prefix, jlic flat prefix) rules; the first matching rule renames a key. Then each
    (CompressAI, jlic) pair of `infixes` is replaced anywhere in the key."""

    rules: tuple[tuple[str, str], ...]
    infixes: tuple[tuple[str, str], ...] = ()

    @staticmethod
    def _apply(key: str, src: str, dst: str) -> str | None:
        regex, name = _pattern(src)
        m = regex.match(key)
        if m is None:
            return None
        if name is None:
            return dst + key[m.end():]
        i = int(m.group(1))
        k = i + 1 if name == "j" else i  # the slice index
        return dst.format(k=k, j=k - 1) + key[m.end():]

    def _rename(self, key: str, to_jlic: bool) -> str:
        for src, dst in self.rules:
            if (new := self._apply(key, *((src, dst) if to_jlic else (dst, src)))) is not None:
                key = new
                break
        for src, dst in self.infixes:
            key = key.replace(*((src, dst) if to_jlic else (dst, src)))
        return key

    def to_jlic(self, sd: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """CompressAI keys -> jlic flat names; per-slice Gaussian buffers merged into `gaussian_conditional.*`
        (they must be equal); other keys are kept."""
        out: dict[str, np.ndarray] = {}
        gc: dict[str, dict[str, np.ndarray]] = {}
        for key, v in sd.items():
            if m := _GAUSSIAN.match(key):
                gc.setdefault(m.group(1), {})[f"gaussian_conditional.{m.group(2)}"] = v
            else:
                out[self._rename(key, True)] = v
        out.update(merge_slice_buffers(gc))
        return out

    def to_compressai(self, sd: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """jlic flat names -> CompressAI keys (parameters only)."""
        return {self._rename(key, False): v for key, v in sd.items()}


def merge_slice_buffers(gc: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """`{slice: {buffer key: array}}` -> slice 0's buffers; every slice must agree (jlic codes all slices with
    one Gaussian table)."""
    first = gc.get("0", {})
    for g, bufs in gc.items():
        for name, v in bufs.items():
            if name not in first or np.shape(first[name]) != np.shape(v) or not np.array_equal(first[name], v):
                raise ValueError(f"slice {g}'s {name} differs from slice 0's (jlic codes every slice with one "
                                 "Gaussian table)")
    return dict(first)


_LOCAL = _SLICE + "spatial_context_nonanchor."
_MLIC_COMMON = (
    ("g_a.analysis_transform.", "g_a."),
    ("g_s.synthesis_transform.", "g_s."),
    ("latent_codec.h_a.reduction.", "h_a."),
    ("latent_codec.h_s.increase.", "h_s."),
    ("latent_codec.z.entropy_bottleneck.", "entropy_bottleneck."),
    ("latent_codec.y.channel_context.y{k}.channel_part.fushion.", "channel_context_{j}."),
    ("latent_codec.y.channel_context.y{k}.global_inter_part.", "global_inter_context_{j}."),
    (_SLICE + "intra_channel_context_nonanchor.", "global_intra_context_{j}."),
    (_SLICE + "entropy_parameters_anchor.fusion.", "entropy_parameters_anchor_{k}."),
    (_SLICE + "entropy_parameters_nonanchor.fusion.", "entropy_parameters_nonanchor_{k}."),
    (_SLICE + "lrp_anchor.lrp_transform.", "lrp_anchor_{k}."),
    (_SLICE + "lrp_nonanchor.lrp_transform.", "lrp_nonanchor_{k}."),
)
MLIC = KeyMap((*_MLIC_COMMON, (_LOCAL + "context.", "local_context_{k}.")))  # stacked convolutions
MLIC_WINDOW = KeyMap((  # MLIC+ / MLIC++: the window-attention local context
    *_MLIC_COMMON,
    (_LOCAL + "qkv_proj.", "local_context_{k}.attn.qkv."),
    (_LOCAL + "relative_position_table", "local_context_{k}.attn.relative_position_table"),
    (_LOCAL + "fusion.weight", "local_context_{k}.fusion_kernel"),
    (_LOCAL + "fusion.bias", "local_context_{k}.fusion_bias"),
    (_LOCAL + "mlp.fc1.", "local_context_{k}.mlp_fc1."),
    (_LOCAL + "mlp.fc2.", "local_context_{k}.mlp_fc2."),
    (_LOCAL, "local_context_{k}."),  # norm1, norm2, proj
))


def mlic_kwargs(name: str, flat: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """N, M, slices and the local-context size of an MLIC-family state_dict (in jlic flat names)."""
    slices = 0
    while f"entropy_parameters_anchor_{slices}.0.weight" in flat:
        slices += 1
    kwargs: dict[str, Any] = {"N": int(flat["g_a.0.conv1.weight"].shape[0]),
                              "M": int(flat["g_a.6.weight"].shape[0]), "slices": slices}
    if name == "mlic":
        layers = 0
        while f"local_context_0.{2 * layers}.weight" in flat:
            layers += 1
        kwargs["local_layers"] = layers
        kwargs["local_kernel"] = int(flat["local_context_0.0.weight"].shape[-1])
    else:
        side = math.isqrt(int(flat["local_context_0.attn.relative_position_table"].shape[0]))
        kwargs["window"] = (side + 1) // 2
    if name == "mlicpp":
        kwargs["inter_head_width"] = 32  # CompressAI's head rule (jlic's default: one head per slice)
    return kwargs


def fusion_from_torch(value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The window fusion of MLIC's local context: Conv2d weight (2C, C, w, w) -> jlic (w*w*C, 2C)."""
    return value.transpose(2, 3, 1, 0).reshape(shape)


def fusion_to_torch(value: np.ndarray) -> np.ndarray:
    """The inverse of `fusion_from_torch`."""
    c = value.shape[1] // 2
    w = math.isqrt(value.shape[0] // c)
    return value.reshape(w, w, c, 2 * c).transpose(3, 2, 0, 1)


_CHANNELWISE = (  # the entropy model of STF / WACNN (jlic.models.channelwise's names)
    ("latent_codec.h_a.", "h_a."),
    ("latent_codec.h_s.h_mean_s.", "h_mean_s."),
    ("latent_codec.h_s.h_scale_s.", "h_scale_s."),
    ("latent_codec.z.entropy_bottleneck.", "entropy_bottleneck."),
    ("latent_codec.y.channel_context.y{k}.mean_cc.", "cc_mean_transforms_{k}."),
    ("latent_codec.y.channel_context.y{k}.scale_cc.", "cc_scale_transforms_{k}."),
    (_SLICE + "lrp_transform.", "lrp_transforms_{k}."),
)
WACNN = KeyMap(_CHANNELWISE, infixes=((".conv_b.0.attn.attn.", ".conv_b.0.attn."),))
STF = KeyMap((
    ("patch_embed.", "g_a.patch_embed."),
    ("layers.{k}.downsample.", "g_a.layers_{k}.downsample."),
    ("layers.{k}.blocks.", "g_a.layers_{k}."),
    ("syn_layers.{k}.downsample.", "g_s.syn_layers_{k}.downsample."),
    ("syn_layers.{k}.blocks.", "g_s.syn_layers_{k}."),
    ("end_conv.", "g_s.end_conv."),
    *_CHANNELWISE,
), infixes=((".mlp.fc1.", ".fc1."), (".mlp.fc2.", ".fc2.")))  # timm's block nests its MLP


def _count(flat: Mapping[str, np.ndarray], template: str) -> int:
    n = 0
    while template.format(n) in flat:
        n += 1
    return n


def channelwise_kwargs(flat: Mapping[str, np.ndarray], m: int) -> dict[str, Any]:
    """Slices and support slices of an STF / WACNN entropy model with M = `m` (jlic flat names)."""
    slices = _count(flat, "cc_mean_transforms_{}.0.weight")
    widest = max(int(flat[f"cc_mean_transforms_{k}.0.weight"].shape[1]) for k in range(slices))
    return {"num_slices": slices, "max_support_slices": (widest - m) // (m // slices)}


def wacnn_kwargs(flat: Mapping[str, np.ndarray]) -> dict[str, Any]:
    n, m = int(flat["g_a.0.weight"].shape[0]), int(flat["g_a.7.weight"].shape[0])
    return {"N": n, "M": m, **channelwise_kwargs(flat, m)}


def stf_kwargs(flat: Mapping[str, np.ndarray]) -> dict[str, Any]:
    proj = flat["g_a.patch_embed.proj.weight"]
    stages = _count(flat, "g_a.layers_{}.0.norm1.weight")
    depths = tuple(_count(flat, f"g_a.layers_{i}.{{}}.norm1.weight") for i in range(stages))
    tables = [flat[f"g_a.layers_{i}.0.attn.relative_position_bias_table"] for i in range(stages)]
    heads = tuple(int(t.shape[1]) for t in tables)
    side = math.isqrt(int(tables[0].shape[0]))
    e = int(proj.shape[0])
    m = e * 2 ** (stages - 1)
    return {"N": m // 2, "M": m, "embed_dim": e, "patch": int(proj.shape[-1]), "depths": depths, "heads": heads,
            "window": (side + 1) // 2, **channelwise_kwargs(flat, m)}


KEY_MAPS = {"mlic": MLIC, "mlic-plus": MLIC_WINDOW, "mlicpp": MLIC_WINDOW, "stf-wacnn": WACNN, "stf": STF}


def model_kwargs(name: str, flat: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Constructor arguments of jlic model `name` read off a state_dict in jlic flat names."""
    if name == "stf":
        return stf_kwargs(flat)
    if name == "stf-wacnn":
        return wacnn_kwargs(flat)
    return mlic_kwargs(name, flat)
