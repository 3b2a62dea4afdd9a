"""Import CompressAI state_dicts (zoo `.pth.tar` files, training checkpoints, live modules) into jlic params.

Supported models (CompressAI zoo names = jlic registry names): bmshj2018-factorized, bmshj2018-hyperprior
(Ballé et al. 2018, arXiv 1802.01436), mbt2018-mean, mbt2018 (Minnen et al. 2018, arXiv 1809.02736),
cheng2020-anchor, cheng2020-attn (Cheng et al. 2020, arXiv 2001.01568), elic2022; from CompressAI's
development line (1.2.9.dev0) tcm (arXiv 2303.14978, any width N), dcae (arXiv 2504.00496), mlic, mlic-plus
(its `mlicplus`; arXiv 2211.07273), mlicpp (arXiv 2307.15421), stf and stf-wacnn (arXiv 2203.08450), whose
networks sit inside latent codecs (key maps: `jlic.interop.compressai_dev` for tcm/dcae,
`jlic.interop.compressai_keys` for the MLIC family and STF).

The mapping is derived from the jlic model itself, not from a per-model key list: the jlic parameter tree is
built abstractly (`jax.eval_shape`), and each leaf is named after CompressAI's `nn.Sequential` index
(`g_a/layer_6/kernel` <-> `g_a.6.weight`). Weight layouts:

- `Conv` kernel: PyTorch `(out, in, kh, kw)` -> HWIO `(kh, kw, in, out)`;
- `ConvTranspose` kernel: PyTorch `(in, out, kh, kw)` -> `(kh, kw, in, out)` (the module class, recorded while
  the tree is built, tells the two apart when `in == out`);
- GDN `beta`/`gamma`: both libraries store `sqrt(value + pedestal)` with the same pedestal, so they are copied;
- `EntropyBottleneck`: `matrices.k` (C, out, in) copied, `biases.k`/`factors.k` (C, out, 1) -> (C, out),
  `quantiles` (C, 1, 3) -> (C, 3).

Files are read with `torch.load(..., weights_only=True)`: no code in the file is executed. Old checkpoint key
names are renamed as CompressAI does (`module.` prefix, `entropy_bottleneck._matrices.K`/`_matrixK` ->
`matrices.K`, `.downsample.weight` -> `.skip.weight`). Every array of the state_dict must be used (or be a
known buffer), and every jlic leaf must be found, so an architecture mismatch fails loudly.

CompressAI checkpoints also carry their integer CDF tables (`_quantized_cdf`, `_offset`, `_cdf_length`, after
`update()`); they have jlic's table layout (support, escape, end point), so `compressai_tables` turns them into
a `jlic.codec.codec.ModelTables` that jlic's coder uses unchanged: the same integer probabilities as
CompressAI. The streams are not byte-identical (CompressAI's rANS64 with nibble escapes vs constriction's ANS
with an Elias-gamma escape), so jlic cannot decode CompressAI strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import numpy as np

from jlic.interop.compressai_dev import DEV_CLASSES, DEV_KEY_MAPS
from jlic.interop.compressai_keys import (
    KEY_MAPS,
    fusion_from_torch,
    fusion_to_torch,
    merge_slice_buffers,
    model_kwargs,
)
from jlic.models import registry
from jlic.models.base import CompressionModel

Params = Any

# jlic registry name -> CompressAI class name (in `compressai.models`).
COMPRESSAI_CLASSES = {
    "bmshj2018-factorized": "FactorizedPrior",
    "bmshj2018-hyperprior": "ScaleHyperprior",
    "mbt2018-mean": "MeanScaleHyperprior",
    "mbt2018": "JointAutoregressiveHierarchicalPriors",
    "cheng2020-anchor": "Cheng2020Anchor",
    "cheng2020-attn": "Cheng2020Attention",
    "elic2022": "Elic2022Official",
    **DEV_CLASSES,  # CompressAI's development line: module.Class of `compressai.models`
    # CompressAI's development line (1.2.9.dev0), classes of `compressai.models.mlic` (not re-exported);
    # keys: jlic.interop.compressai_keys
    "mlic": "mlic.MLIC",
    "mlic-plus": "mlic.MLICPlus",
    "mlicpp": "mlic.MLICPlusPlus",
    "stf": "stf.SymmetricalTransFormer",
    "stf-wacnn": "stf.WACNN",
}

# State_dict entries that are derived buffers, not parameters (suffix match).
_BUFFER_SUFFIXES = (
    "._offset", "._quantized_cdf", "._cdf_length", "entropy_bottleneck.target", ".likelihood_lower_bound.bound",
    "_reparam.pedestal", "_reparam.lower_bound.bound", "gaussian_conditional.scale_table",
    "gaussian_conditional.scale_bound", "gaussian_conditional.lower_bound_scale.bound", ".mask",
    "lower_bound_zqstep.bound",  # the vbr models' constant 0.5 (jlic.latent_codecs.gained.MIN_Z_STEP)
    ".relative_position_index",  # window attention's constant offset index (jlic computes it)
)
_CDF_PRECISION = 16  # CompressAI's entropy_coder_precision


@dataclass(frozen=True)
class Imported:
    """Result of an import: the jlic model, its params, and CompressAI's coding tables if present."""

    model: CompressionModel
    params: Params
    tables: Any | None  # jlic.codec.codec.ModelTables built from CompressAI's buffers, or None
    scale_table: np.ndarray | None  # CompressAI's GaussianConditional scale table, if stored


# ------------------------------------------------------------------------------------------- state_dicts


def _to_numpy(v: Any) -> np.ndarray:
    if hasattr(v, "detach"):  # torch.Tensor
        return v.detach().cpu().numpy()
    return np.asarray(v)


def load_state_dict(source: str | Path | Mapping[str, Any] | Any) -> dict[str, np.ndarray]:
    """A flat {key: numpy array} from a `.pth`/`.pth.tar` path, an `nn.Module`, or a mapping of tensors.

    Files are loaded with `torch.load(weights_only=True)` (no code execution). A training checkpoint dict
    (`{"state_dict": ..., "optimizer": ...}`, as CompressAI's `examples/train.py` writes) is unwrapped.
    """
    if isinstance(source, (str, Path)):
        try:
            import torch
        except ImportError as e:
            raise ImportError("reading .pth files needs torch: run scripts/install_peers.sh") from e
        obj = torch.load(str(source), map_location="cpu", weights_only=True)
    elif hasattr(source, "state_dict") and callable(source.state_dict):
        obj = source.state_dict()
    else:
        obj = source
    if not isinstance(obj, Mapping):
        raise TypeError(f"expected a state_dict mapping, got {type(obj).__name__}")
    for wrapper in ("state_dict", "model", "network"):
        inner = obj.get(wrapper)
        if isinstance(inner, Mapping) and not any(hasattr(v, "shape") for v in obj.values()):
            obj = inner
            break
    out = {str(k): _to_numpy(v) for k, v in obj.items() if hasattr(v, "shape")}
    if not out:
        raise ValueError("no arrays found in the state_dict")
    return out


_OLD_EB = re.compile(r"^(.*entropy_bottleneck)\.(?:_(matrices|biases|factors)\.|_(matrix|bias|factor))(\d+)$")
_PLURAL = {"matrix": "matrices", "bias": "biases", "factor": "factors"}


def rename_keys(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Map old CompressAI key names to current ones (as `compressai.zoo.pretrained.rename_key` and
    `models.utils.remap_old_keys` do)."""
    out = {}
    for key, value in state_dict.items():
        k = key[len("module."):] if key.startswith("module.") else key
        k = re.sub(r"\.downsample\.(weight|bias)$", r".skip.\1", k)  # a conv's; not STF's `downsample.norm.*`
        m = _OLD_EB.match(k)
        if m:
            k = f"{m.group(1)}.{m.group(2) or _PLURAL[m.group(3)]}.{m.group(4)}"
        if k in out:
            raise ValueError(f"two state_dict keys map to {k!r}")
        out[k] = value
    return out


# ------------------------------------------------------------------------------------------ model config


def infer_kwargs(name: str, sd: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Constructor arguments (N, M, entropy-bottleneck filters) read off the weight shapes."""
    if name.startswith("cheng2020"):
        n = int(sd["g_a.0.conv1.weight"].shape[0])
        kwargs: dict[str, Any] = {"N": n, "M": n}
    elif name == "elic2022":
        kwargs = _elic_kwargs(sd)
        sd = _elic_to_jlic_keys(sd)
    elif name in DEV_KEY_MAPS:
        sd = DEV_KEY_MAPS[name].to_jlic(sd)
        kwargs = DEV_KEY_MAPS[name].kwargs(sd)
    elif name in KEY_MAPS:
        sd = KEY_MAPS[name].to_jlic(sd)
        module = registry.get(name).module  # only what differs from the constructor's defaults
        kwargs = {k: v for k, v in model_kwargs(name, sd).items() if k in ("N", "M") or getattr(module, k) != v}
    else:
        kwargs = {"N": int(sd["g_a.0.weight"].shape[0]), "M": int(sd["g_a.6.weight"].shape[0])}
    num = sum(1 for k in sd if re.fullmatch(r"entropy_bottleneck\.matrices\.\d+", k))
    if num:
        kwargs["filters"] = tuple(int(sd[f"entropy_bottleneck.matrices.{i}"].shape[1]) for i in range(num - 1))
    return kwargs


def build_model(name: str, sd: Mapping[str, np.ndarray], quality: int | None = None) -> CompressionModel:
    """The jlic model matching the state_dict: the registry entry at `quality` with N/M/filters overridden
    where the weights say otherwise. With `quality=None`, the first quality whose (N, M) match (else 3)."""
    if name not in COMPRESSAI_CLASSES:
        raise KeyError(f"no CompressAI import for {name!r}; supported: {', '.join(COMPRESSAI_CLASSES)}")
    if name not in registry.names():
        raise KeyError(f"{name!r} is not registered in jlic yet (registered: {', '.join(registry.names())})")
    inferred = infer_kwargs(name, sd)
    if quality is None:
        nm = {k: v for k, v in inferred.items() if k != "filters"}
        matches = [q for q in registry.qualities(name)
                   if all(registry.get(name, q).kwargs.get(k) == v for k, v in nm.items())]
        quality = matches[0] if matches else 3
    default = registry.get(name, quality).kwargs
    overrides = {k: v for k, v in inferred.items() if k != "filters" and default.get(k) != v}
    filters = inferred.get("filters")
    if filters is not None and tuple(default.get("filters", (3, 3, 3, 3))) != filters:
        overrides["filters"] = filters
    return registry.get(name, quality, **overrides)


# CompressAI `nn.Sequential` indexes of jlic children whose names do not carry them: Cheng2020Attention inserts
# its attention blocks into the anchor's g_a/g_s lists (jlic keeps the anchor's `layer_<i>` names).
_SEQUENTIAL_INDEX = {
    "cheng2020-attn": {
        ("g_a",): {name: str(i) for i, name in enumerate(
            ("layer_0", "layer_1", "layer_2", "attn_0", "layer_3", "layer_4", "layer_5", "layer_6", "attn_1"))},
        ("g_s",): {name: str(i) for i, name in enumerate(
            ("attn_0", "layer_0", "layer_1", "layer_2", "layer_3", "attn_1", "layer_4", "layer_5", "layer_6",
             "layer_7"))},
    },
}


def _abstract_params(model: CompressionModel) -> tuple[Params, dict[tuple[str, ...], str]]:
    """Shapes of the model's params and the class name of every submodule (by path), without computing."""
    classes: dict[tuple[str, ...], str] = {}

    def record(f, args, kwargs, context):
        classes[tuple(context.module.path)] = type(context.module).__name__
        return f(*args, **kwargs)

    with nn.intercept_methods(record):
        shapes = jax.eval_shape(lambda k: model.init(k, (1, model.stride * 2, model.stride * 2, 3)),
                                jax.random.PRNGKey(0))
    return shapes, classes


def _torch_key(path: tuple[str, ...], classes: Mapping[tuple[str, ...], str],
               index: Mapping[tuple[str, ...], Mapping[str, str]] | None = None) -> str:
    """CompressAI key of a jlic leaf: `layer_<i>` -> `<i>` (or `index[parent][name]`), `kernel` -> `weight`,
    the inner conv of a `SubpelConv` -> `0` (CompressAI's `subpel_conv3x3` is `Sequential(conv, PixelShuffle)`),
    the layers of a `ResidualUnit` -> `conv.<i>` and `conv_a_<i>` -> `conv_a.<i>` (Cheng 2020 attention)."""
    parts = []
    for i, p in enumerate(path[:-1]):
        parent = classes.get(path[:i])
        m = re.fullmatch(r"layer_(\d+)", p)
        if index and path[:i] in index and p in index[path[:i]]:
            parts.append(index[path[:i]][p])
        elif m:
            parts.append(f"conv.{m.group(1)}" if parent == "ResidualUnit" else m.group(1))
        elif p == "conv" and parent == "SubpelConv":
            parts.append("0")
        else:
            parts.append(re.sub(r"^(conv_[ab])_(\d+)$", r"\1.\2", p))
    leaf = path[-1]
    if path[0].startswith("entropy_bottleneck") and len(path) == 2:
        m = re.fullmatch(r"(matrix|bias|factor)_(\d+)", leaf)
        leaf = f"{_PLURAL[m.group(1)]}.{m.group(2)}" if m else leaf
    elif leaf == "scale" and classes.get(path[:-1]) == "LayerNorm":
        leaf = "weight"
    else:
        leaf = {"kernel": "weight"}.get(leaf, leaf)
    return ".".join([*parts, leaf])


def _convert_leaf(path: tuple[str, ...], value: np.ndarray, shape: tuple[int, ...],
                  classes: Mapping[tuple[str, ...], str]) -> np.ndarray:
    if path[-1] == "kernel" and value.ndim == 4:
        transposed = classes.get(path[:-1]) == "ConvTranspose"
        value = value.transpose(2, 3, 0, 1) if transposed else value.transpose(2, 3, 1, 0)
    elif path[-1] == "kernel" and value.ndim == 2 and classes.get(path[:-1]) == "Dense":
        value = value.T  # nn.Linear (out, in) -> (in, out)
    elif path[-1] == "fusion_kernel" and value.ndim == 4:
        value = fusion_from_torch(value, shape)
    elif path[0].startswith("entropy_bottleneck") and value.size == int(np.prod(shape)):
        value = value.reshape(shape)  # biases/factors (C, out, 1) -> (C, out), quantiles (C, 1, 3) -> (C, 3)
    if tuple(value.shape) != tuple(shape):
        raise ValueError(f"{'/'.join(path)}: CompressAI shape {value.shape} does not fit jlic shape {shape}")
    return np.ascontiguousarray(value, np.float32)


def convert(model: CompressionModel, state_dict: Mapping[str, np.ndarray], strict: bool = True) -> Params:
    """jlic params for `model` from a (renamed) CompressAI state_dict.

    Raises `KeyError` if a jlic parameter has no CompressAI counterpart and, with `strict`, `ValueError` if a
    CompressAI parameter is left unused (an architecture mismatch).
    """
    if model.name == "elic2022":
        state_dict = _elic_to_jlic_keys(state_dict)
    elif model.name in DEV_KEY_MAPS:
        state_dict = DEV_KEY_MAPS[model.name].to_jlic(state_dict)
    elif model.name in KEY_MAPS:
        state_dict = KEY_MAPS[model.name].to_jlic(state_dict)
    shapes, classes = _abstract_params(model)
    used: set[str] = set()
    missing: list[str] = []

    def fill(path: tuple[str, ...], node: Any) -> Any:
        if isinstance(node, Mapping):
            return {k: fill((*path, k), v) for k, v in node.items()}
        key = _torch_key(path, classes, _SEQUENTIAL_INDEX.get(model.name))
        if key not in state_dict:
            missing.append(f"{'/'.join(path)} (CompressAI key {key!r})")
            return None
        used.add(key)
        return _convert_leaf(path, np.asarray(state_dict[key]), tuple(node.shape), classes)

    params = fill((), shapes)
    if missing:
        raise KeyError(f"{model.name}: no CompressAI weights for {len(missing)} jlic parameters: "
                       + ", ".join(missing[:8]) + (" ..." if len(missing) > 8 else ""))
    unused = sorted(k for k in state_dict if k not in used and not k.endswith(_BUFFER_SUFFIXES))
    if unused and strict:
        raise ValueError(f"{model.name}: {len(unused)} CompressAI parameters have no jlic counterpart: "
                         + ", ".join(unused[:8]) + (" ..." if len(unused) > 8 else ""))
    return jax.tree.map(np.asarray, params)


def export_state_dict(model: CompressionModel, params: Params) -> dict[str, np.ndarray]:
    """The inverse of `convert`: CompressAI-layout parameters, no buffers. Load them with
    `torch.nn.Module.load_state_dict(net, sd, strict=False)` (CompressAI's override insists on the CDF
    buffers), then call `net.update(force=True)` to build its coding tables."""
    _, classes = _abstract_params(model)
    out: dict[str, np.ndarray] = {}

    def walk(path: tuple[str, ...], node: Any) -> None:
        if isinstance(node, Mapping):
            for k, v in node.items():
                walk((*path, k), v)
            return
        v = np.asarray(node, np.float32)
        if path[-1] == "kernel" and v.ndim == 4:
            transposed = classes.get(path[:-1]) == "ConvTranspose"
            v = v.transpose(2, 3, 0, 1) if transposed else v.transpose(3, 2, 0, 1)
        elif path[-1] == "kernel" and v.ndim == 2 and classes.get(path[:-1]) == "Dense":
            v = v.T
        elif path[-1] == "fusion_kernel":
            v = fusion_to_torch(v)
        elif path[0].startswith("entropy_bottleneck") and len(path) == 2 and path[-1] != "quantiles":
            v = v if path[-1].startswith("matrix_") else v[..., None]
        elif path[0].startswith("entropy_bottleneck") and path[-1] == "quantiles":
            v = v[:, None, :]
        out[_torch_key(path, classes, _SEQUENTIAL_INDEX.get(model.name))] = np.ascontiguousarray(v)

    walk((), params)
    if model.name in DEV_KEY_MAPS:
        return DEV_KEY_MAPS[model.name].to_compressai(out)
    if model.name in KEY_MAPS:
        return KEY_MAPS[model.name].to_compressai(out)
    return _elic_to_compressai_keys(out) if model.name == "elic2022" else out


# ------------------------------------------------------------------------------------------------ ELIC

# CompressAI's `Elic2022Official` nests its sub-networks in latent codecs; jlic's `Elic2022` keeps them as
# top-level children. Key prefixes: CompressAI <-> the flat names `_torch_key` derives from jlic's paths.
_ELIC_HYPER = "latent_codec.hyper."
_ELIC_GROUPS = "latent_codec.y."
_ELIC_GROUP = re.compile(r"^latent_codec\.y\.latent_codec\.y(\d+)\.(context_prediction|entropy_parameters|y)\.")
_ELIC_GROUP_NAMES = {"context_prediction": "spatial_context", "entropy_parameters": "param_aggregation"}
_ELIC_FLAT = re.compile(r"^(spatial_context|param_aggregation|channel_context)_y(\d+)\.")
_ELIC_FLAT_NAMES = {"spatial_context": "context_prediction", "param_aggregation": "entropy_parameters"}


def _elic_to_jlic_keys(sd: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """CompressAI ELIC keys -> flat names: `latent_codec.hyper.h_a.0.weight` -> `h_a.0.weight`,
    `latent_codec.y.channel_context.y1.0.weight` -> `channel_context_y1.0.weight`,
    `latent_codec.y.latent_codec.y3.context_prediction.*` -> `spatial_context_y3.*` (`entropy_parameters` ->
    `param_aggregation_y3`). The per-group Gaussian conditionals share one scale table; group 0's buffers
    become `gaussian_conditional.*` and the others must equal them. Other keys are kept."""
    out: dict[str, np.ndarray] = {}
    gc: dict[str, dict[str, np.ndarray]] = {}
    for key, v in sd.items():
        k = key
        if k.startswith(_ELIC_HYPER):
            k = k[len(_ELIC_HYPER):]
        elif k.startswith(_ELIC_GROUPS + "channel_context."):
            k = re.sub(r"^channel_context\.y(\d+)\.", r"channel_context_y\1.", k[len(_ELIC_GROUPS):])
        elif m := _ELIC_GROUP.match(k):
            if m.group(2) == "y":  # the group's GaussianConditionalLatentCodec: buffers only
                gc.setdefault(m.group(1), {})[k[m.end():]] = v
                continue
            k = f"{_ELIC_GROUP_NAMES[m.group(2)]}_y{m.group(1)}.{k[m.end():]}"
        out[k] = v
    out.update(merge_slice_buffers(gc))
    return out


def _elic_to_compressai_keys(sd: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The inverse of `_elic_to_jlic_keys` for parameters (no buffers)."""
    out = {}
    for k, v in sd.items():
        if m := _ELIC_FLAT.match(k):
            kind, g, rest = m.group(1), m.group(2), k[m.end():]
            k = (f"{_ELIC_GROUPS}channel_context.y{g}.{rest}" if kind == "channel_context"
                 else f"{_ELIC_GROUPS}latent_codec.y{g}.{_ELIC_FLAT_NAMES[kind]}.{rest}")
        elif k.startswith(("h_a.", "h_s.", "entropy_bottleneck.")):
            k = _ELIC_HYPER + k
        out[k] = v
    return out


def _elic_kwargs(sd: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """N, M, channel groups and channel-context widths of a CompressAI ELIC state_dict."""
    flat = _elic_to_jlic_keys(sd)
    groups, k = [], 0
    while f"spatial_context_y{k}.weight" in flat:
        groups.append(int(flat[f"spatial_context_y{k}.weight"].shape[1]))
        k += 1
    from jlic.models.elic2022 import CONTEXT_WIDTHS, default_groups

    m = int(flat["g_a.13.weight"].shape[0])
    kwargs: dict[str, Any] = {"N": int(flat["g_a.0.weight"].shape[0]), "M": m}
    try:
        default = default_groups(m)
    except ValueError:
        default = None
    if tuple(groups) != default:  # only what differs from the constructor's defaults
        kwargs["groups"] = tuple(groups)
    if "channel_context_y1.0.weight" in flat:
        widths = tuple(int(flat[f"channel_context_y1.{i}.weight"].shape[0]) for i in (0, 2))
        if widths != CONTEXT_WIDTHS:
            kwargs["context_widths"] = widths
    return kwargs


# -------------------------------------------------------------------------------------------- CDF tables


def _cdf_tables(sd: Mapping[str, np.ndarray], prefix: str) -> Any | None:
    from jlic.entropy.cdf import CdfTables, validate

    cdf = sd.get(f"{prefix}._quantized_cdf")
    if cdf is None or cdf.size == 0 or cdf.ndim != 2:
        return None
    length = np.asarray(sd[f"{prefix}._cdf_length"], np.int32).reshape(-1)
    offset = np.asarray(sd[f"{prefix}._offset"], np.int32).reshape(-1)
    cdf = np.asarray(cdf, np.int64)
    past_end = np.arange(cdf.shape[1])[None, :] >= length[:, None]
    cdf = np.where(past_end, 1 << _CDF_PRECISION, cdf).astype(np.int32)  # jlic pads rows with 2**precision
    tables = CdfTables(cdf=cdf, cdf_length=length, offset=offset, precision=_CDF_PRECISION)
    validate(tables)
    return tables


def compressai_tables(state_dict: Mapping[str, np.ndarray]) -> Any | None:
    """CompressAI's own integer CDF tables as a `jlic.codec.codec.ModelTables` (None if `update()` was
    never run, i.e. the buffers are empty). Coding with them gives CompressAI's exact probabilities."""
    from jlic.codec.codec import ModelTables

    eb = _cdf_tables(state_dict, "entropy_bottleneck")
    if eb is None:
        return None
    medians = np.asarray(state_dict["entropy_bottleneck.quantiles"], np.float32).reshape(-1, 3)[:, 1]
    if "gaussian_conditional.scale_table" not in state_dict:
        return ModelTables(factorized=eb, medians=medians)
    g = _cdf_tables(state_dict, "gaussian_conditional")
    if g is None:
        return None
    scale_table = np.asarray(state_dict["gaussian_conditional.scale_table"], np.float32)
    return ModelTables(factorized=eb, medians=medians, gaussian=g, scale_table=scale_table)


# ------------------------------------------------------------------------------------------------ import


def import_compressai(name: str, source: str | Path | Mapping[str, Any] | Any, quality: int | None = None,
                      strict: bool = True) -> Imported:
    """Import CompressAI weights of zoo model `name` from a file path, `nn.Module` or state_dict (the
    variable-rate `*-vbr` models: :mod:`jlic.interop.compressai_vbr`)."""
    from jlic.interop import compressai_vbr

    if name in compressai_vbr.VBR_CLASSES:
        return compressai_vbr.import_vbr(name, source, strict=strict)
    sd = rename_keys(load_state_dict(source))
    model = build_model(name, sd, quality)
    params = convert(model, sd, strict=strict)
    if name == "elic2022":
        sd = _elic_to_jlic_keys(sd)
    elif name in DEV_KEY_MAPS:
        sd = DEV_KEY_MAPS[name].to_jlic(sd)
    elif name in KEY_MAPS:
        sd = KEY_MAPS[name].to_jlic(sd)
    st = sd.get("gaussian_conditional.scale_table")
    return Imported(model, params, compressai_tables(sd),
                    None if st is None or st.size == 0 else np.asarray(st, np.float32))


TABLES_FILE = "compressai_tables.npz"
