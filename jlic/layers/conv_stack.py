"""A stack of stride-1 convolutions with ReLU between, and the linear width ramp ELIC uses for it.

ELIC (He et al. 2022, arXiv 2203.10886) predicts entropy parameters with such stacks: the channel context
`g_ch` (5x5 convs, widths 224 and 128) and the parameter aggregation (1x1 convs whose widths fall linearly
from the input to the output width, kept at least `2N`; CompressAI's `sequential_channel_ramp`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax

from jlic.ops.conv import Conv

Array = jax.Array


def channel_ramp(in_ch: int, out_ch: int, num_layers: int = 3, min_ch: int = 0) -> tuple[int, ...]:
    """Output widths of `num_layers` layers ramping linearly from `in_ch` to `out_ch`.

    Width `i` is `floor(in_ch + i * (out_ch - in_ch) / num_layers)`, hidden widths clipped below at
    `min_ch`; the last is `out_ch`. E.g. `channel_ramp(640, 128, 3, 384) == (469, 384, 128)`.
    """
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1, got {num_layers}")
    hidden = [max(min_ch, in_ch + (i * (out_ch - in_ch)) // num_layers) for i in range(1, num_layers)]
    return (*hidden, out_ch)


class ConvStack(nn.Module):
    """`len(widths)` stride-1 `k x k` convs (padding `k // 2`) with ReLU between and none after.

    Children `layer_0, layer_2, ...` are the conv indexes of the equivalent PyTorch `nn.Sequential`
    (conv, ReLU, conv, ...).
    """

    widths: Sequence[int]
    kernel_size: int = 1
    activation: Callable[[Array], Array] = nn.relu  # between the convs (MLIC++: GELU)

    @nn.compact
    def __call__(self, x: Array) -> Array:
        for i, width in enumerate(self.widths):
            if i:
                x = self.activation(x)
            x = Conv(width, self.kernel_size, 1, name=f"layer_{2 * i}")(x)
        return x
