"""The 3x3-convolution hyperprior transforms with GELU of MLIC / MLIC+ / MLIC++ (Jiang et al. 2023, arXiv
2211.07273, 2307.15421), STF and WACNN (Zou et al. 2022, arXiv 2203.08450): five layers whose widths are
the only difference between the models.

- `GeluHyperAnalysis(widths)`: 3x3 convs with strides 1, 1, 2, 1, 2 to ``widths[0..4]``, GELU between;
- `GeluHyperSynthesis(widths)`: 3x3 conv, sub-pixel conv x2, 3x3 conv, sub-pixel conv x2, 3x3 conv to
  ``widths[0..4]``, GELU between.

Children `layer_0, layer_2, ... layer_8` are the indexes of the equivalent PyTorch `nn.Sequential`.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax

from jlic.ops.conv import Conv, SubpelConv

Array = jax.Array


def gelu(x: Array) -> Array:
    """PyTorch's default (exact, erf) GELU."""
    return nn.gelu(x, approximate=False)


class GeluHyperAnalysis(nn.Module):
    """h_a: five 3x3 convs (strides 1, 1, 2, 1, 2), GELU between."""

    widths: Sequence[int]

    @nn.compact
    def __call__(self, y: Array) -> Array:
        for i, (width, stride) in enumerate(zip(self.widths, (1, 1, 2, 1, 2), strict=True)):
            y = Conv(width, 3, stride, name=f"layer_{2 * i}")(gelu(y) if i else y)
        return y


class GeluHyperSynthesis(nn.Module):
    """h_s: 3x3 conv, sub-pixel x2, 3x3 conv, sub-pixel x2, 3x3 conv, GELU between."""

    widths: Sequence[int]

    @nn.compact
    def __call__(self, z: Array) -> Array:
        for i, width in enumerate(self.widths):
            if i:
                z = gelu(z)
            name = f"layer_{2 * i}"
            z = (SubpelConv(width, 2, name=name) if i % 2 else Conv(width, 3, 1, name=name))(z)
        return z
