"""Simplified attention block of Cheng et al. 2020 (arXiv 2001.01568), without the non-local part."""

from __future__ import annotations

import flax.linen as nn
import jax

from jlic.layers.residual import ResidualUnit
from jlic.ops.conv import Conv

Array = jax.Array


class AttentionBlock(nn.Module):
    """`x + a(x) * sigmoid(b(x))`: `a` is 3 residual units, `b` 3 residual units and a 1x1 conv.

    Children `conv_a_<i>` / `conv_b_<i>` are CompressAI's `conv_a.<i>` / `conv_b.<i>`.
    """

    features: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        if x.shape[-1] != self.features:
            raise ValueError(f"AttentionBlock({self.features}) got {x.shape[-1]} input channels")
        a = x
        for i in range(3):
            a = ResidualUnit(self.features, name=f"conv_a_{i}")(a)
        b = x
        for i in range(3):
            b = ResidualUnit(self.features, name=f"conv_b_{i}")(b)
        b = Conv(self.features, 1, 1, name="conv_b_3")(b)
        return x + a * jax.nn.sigmoid(b)
