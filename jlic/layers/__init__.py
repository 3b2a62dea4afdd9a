"""Reusable network blocks (flax linen), in PyTorch/CompressAI semantics so CompressAI weights import.

- `ResidualUnit`, `ResidualBottleneckBlock` (He et al. 2016, arXiv 1512.03385), as in ELIC's transforms
  (He et al. 2022, arXiv 2203.10886);
- `AttentionBlock`: the simplified attention of Cheng et al. 2020 (arXiv 2001.01568), no non-local part;
- `ConvStack`, `channel_ramp`: convolutions with ReLU between and linearly ramping widths (ELIC's channel
  context and parameter aggregation).

Child names follow CompressAI's `nn.Sequential` indexes (`layer_<i>`) and attribute names, which is what
`jlic.interop.compressai` derives its key mapping from.
"""

from jlic.layers.attention import AttentionBlock
from jlic.layers.conv_stack import ConvStack, channel_ramp
from jlic.layers.residual import ResidualBottleneckBlock, ResidualUnit

__all__ = ["AttentionBlock", "ConvStack", "ResidualBottleneckBlock", "ResidualUnit", "channel_ramp"]
