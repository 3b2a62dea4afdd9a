"""Import CompressAI's variable-rate models (Kamisli et al. 2024, arXiv 2402.18930) into ``kamisli2024-vbr``.

``import_compressai("mbt2018-mean-vbr", state_dict)`` (also ``bmshj2018-hyperprior-vbr``, ``mbt2018-vbr``)
returns the jlic model (:mod:`jlic.models.kamisli2024`, ``variant`` the fixed-rate model) and its params; the
model codes at any of the eight levels, or between them (``model.at(2.5)``: CompressAI's ``inputscale`` at
the exponentially interpolated gain). The key map is :mod:`jlic.interop.compressai`'s, derived from jlic's
parameter paths (CompressAI's names: ``Gain``, ``QuantABCD.<i>``, ``gayn2zqstep.<i>``, ``scale_to_context``;
``nn.Linear`` weights transposed); what the weights say decides the configuration: N and M from ``g_a``,
the z step network from ``gayn2zqstep.*`` (CompressAI's zoo builds ``bmshj2018-hyperprior-vbr`` and
``mbt2018-mean-vbr`` with it, ``vr_entbttlnck=True``), the levels from ``Gain``.

Tables: CompressAI's Gaussian tables (level-independent: the leaf codes against ``sigma g``) are imported
as for the fixed-rate models; the z tables of a model with a z step depend on the level and are built by
jlic per step (CompressAI rebuilds them in ``update(scale=...)`` before coding at a level).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from jlic.interop import compressai as ci
from jlic.models import registry
from jlic.models.kamisli2024 import LAMBDAS, NAME

# CompressAI zoo name -> CompressAI class name (in `compressai.models`).
VBR_CLASSES = {
    "bmshj2018-hyperprior-vbr": "ScaleHyperpriorVbr",
    "mbt2018-mean-vbr": "MeanScaleHyperpriorVbr",
    "mbt2018-vbr": "JointAutoregressiveHierarchicalPriorsVbr",
}
_DROPPED = ("QuantOffset",)  # an unused parameter of old checkpoints (CompressAI's from_state_dict drops it)


def build_model(name: str, sd: Mapping[str, np.ndarray]) -> Any:
    """The ``kamisli2024-vbr`` model of CompressAI model ``name`` with the sizes the weights have."""
    if name not in VBR_CLASSES:
        raise KeyError(f"no CompressAI vbr import for {name!r}; supported: {', '.join(VBR_CLASSES)}")
    if "Gain" not in sd:
        raise KeyError(f"{name}: the state_dict has no 'Gain' (not a CompressAI vbr model)")
    gain = np.asarray(sd["Gain"], np.float32).reshape(-1)
    if not np.all(gain > 0):
        raise ValueError(f"{name}: gains must be positive, got {gain.tolist()}")
    if gain.size != len(LAMBDAS):
        raise ValueError(f"{name}: {gain.size} gains; CompressAI's vbr models have {len(LAMBDAS)} levels")
    kwargs = ci.infer_kwargs(name.removesuffix("-vbr"), sd)
    kwargs.update(variant=name.removesuffix("-vbr"), z_step="gayn2zqstep.0.weight" in sd)
    if tuple(kwargs.get("filters", (3, 3, 3, 3))) == (3, 3, 3, 3):
        kwargs.pop("filters", None)
    return registry.get(NAME, **kwargs)


def import_vbr(name: str, source: str | Path | Mapping[str, Any] | Any, strict: bool = True) -> ci.Imported:
    """Import CompressAI vbr weights (file path, ``nn.Module`` or state_dict) as ``kamisli2024-vbr``."""
    sd = {k: v for k, v in ci.rename_keys(ci.load_state_dict(source)).items() if k not in _DROPPED}
    model = build_model(name, sd)
    params = ci.convert(model, sd, strict=strict)
    st = sd.get("gaussian_conditional.scale_table")
    return ci.Imported(model, params, ci.compressai_tables(sd),
                       None if st is None or st.size == 0 else np.asarray(st, np.float32))
