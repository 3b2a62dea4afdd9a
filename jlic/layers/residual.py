"""Residual blocks built from 1x1 and 3x3 convolutions (He et al. 2016, arXiv 1512.03385)."""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax

from jlic.ops.conv import Conv

Array = jax.Array


class ResidualUnit(nn.Module):
    """1x1 (C -> C/2) - ReLU - 3x3 - ReLU - 1x1 (-> C), plus the identity, then ReLU.

    The unit of Cheng et al. 2020's simplified attention (arXiv 2001.01568); with GELU, the `WinResidualUnit`
    of STF / WACNN (Zou et al. 2022, arXiv 2203.08450). Children `layer_0/2/4` are CompressAI's `conv.0/2/4`.
    """

    features: int
    activation: Callable[[Array], Array] = nn.relu

    @nn.compact
    def __call__(self, x: Array) -> Array:
        act = self.activation
        h = act(Conv(self.features // 2, 1, 1, name="layer_0")(x))
        h = act(Conv(self.features // 2, 3, 1, name="layer_2")(h))
        return act(x + Conv(self.features, 1, 1, name="layer_4")(h))


class ResidualBottleneckBlock(nn.Module):
    """1x1 (-> min(in, out)/2) - ReLU - 3x3 - ReLU - 1x1 (-> out), plus the identity or a 1x1 `skip`.

    No activation after the sum and no normalisation, as in ELIC (He et al. 2022, arXiv 2203.10886) and
    CompressAI's `ResidualBottleneckBlock` (children `conv1`, `conv2`, `conv3`, `skip`).
    """

    features: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        mid = min(x.shape[-1], self.features) // 2
        h = nn.relu(Conv(mid, 1, 1, name="conv1")(x))
        h = nn.relu(Conv(mid, 3, 1, name="conv2")(h))
        h = Conv(self.features, 1, 1, name="conv3")(h)
        skip = x if x.shape[-1] == self.features else Conv(self.features, 1, 1, name="skip")(x)
        return h + skip
