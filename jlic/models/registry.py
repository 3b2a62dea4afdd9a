"""Models by name and quality, as CompressAI's zoo: `get("bmshj2018-hyperprior", quality=3)`.

Each entry maps quality 1..8 to the (N, M) of the published models; `**overrides` change any constructor
argument (e.g. `N=64, M=96` for a small CPU model). Model files register themselves with `register`; the
package `jlic.models` imports every model file explicitly, so importing this module (which imports the package
first) fills the registry. Pretrained weights: `jlic.interop.pretrained.load(name, quality, metric)`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import flax.linen as nn

from jlic.models.base import CompressionModel

_REGISTRY: dict[str, tuple[Callable[..., nn.Module], Mapping[int, dict[str, Any]], int, type]] = {}

# λ of CompressAI's zoo per quality (MSE: λ·255²·MSE + bpp; MS-SSIM: λ·(1 - MS-SSIM) + bpp).
LAMBDAS_MSE = {1: 0.0018, 2: 0.0035, 3: 0.0067, 4: 0.0130, 5: 0.0250, 6: 0.0483, 7: 0.0932, 8: 0.1800}
LAMBDAS_MSSSIM = {1: 2.40, 2: 4.58, 3: 8.73, 4: 16.64, 5: 31.73, 6: 60.50, 7: 115.37, 8: 220.00}


def register(name: str, module: Callable[..., nn.Module], qualities: Mapping[int, dict[str, Any]],
             stride: int, wrapper: type = CompressionModel) -> None:
    """Register `module(**kwargs)` under `name`; `qualities[q]` gives its default kwargs (N, M, ...)."""
    _REGISTRY[name] = (module, dict(qualities), stride, wrapper)


def names() -> list[str]:
    """Registered model names."""
    return sorted(_REGISTRY)


def qualities(name: str) -> list[int]:
    return sorted(_REGISTRY[name][1])


def get(name: str, quality: int = 3, **overrides: Any) -> Any:
    """Build model `name` at `quality` (1..8 or as published), with constructor `overrides`."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; registered: {', '.join(sorted(_REGISTRY))}")
    module, table, stride, wrapper = _REGISTRY[name]
    if quality not in table:
        raise ValueError(f"{name} has qualities {sorted(table)}, not {quality}")
    # lists (model.json has no tuples) become tuples: module fields are tuples, and a model rebuilt from its
    # export must compare equal to the one that was saved
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in {**table[quality], **overrides}.items()}
    return wrapper(name=name, kwargs={"quality": quality, **kwargs}, module=module(**kwargs), stride=stride)
