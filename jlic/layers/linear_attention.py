"""Softmax-factorised linear attention ("efficient attention", Shen et al. 2021, arXiv 1812.01243), as
MLIC++'s global contexts use it (Jiang et al. 2023, arXiv 2307.15421).

Per head: keys get a softmax over positions, queries a softmax over their channels; the context is the
``d x d`` matrix ``K^T V`` and the output at each position is ``q . context``. Cost ``H*W * d^2`` per head,
linear in the number of positions (full attention is quadratic). Optional masks restrict the keys (and
values) to some positions (MLIC++'s intra-slice context: anchors) and zero the output elsewhere than the
query positions, which equals computing on the squeezed checkerboard halves.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jlic.ops.initializers import fan_in_uniform, uniform

Array = jax.Array


def linear_attention(q: Array, k: Array, v: Array, heads: int, key_mask: np.ndarray | Array | None = None,
                     query_mask: np.ndarray | Array | None = None) -> Array:
    """q, k, v: (B, H, W, C) (head i = channels ``i*d:(i+1)*d``); masks (H, W) bool. Returns (B, H, W, C)."""
    b, h, w, c = q.shape
    if c % heads or k.shape != q.shape or v.shape[:3] != q.shape[:3] or v.shape[-1] % heads:
        raise ValueError(f"linear attention: q {q.shape}, k {k.shape}, v {v.shape}, {heads} heads")
    d, dv = c // heads, v.shape[-1] // heads
    q = q.reshape(b, h * w, heads, d)
    k = k.reshape(b, h * w, heads, d)
    v = v.reshape(b, h * w, heads, dv)
    if key_mask is not None:
        keep = jnp.asarray(key_mask, bool).reshape(1, h * w, 1, 1)
        k = jnp.where(keep, k, -jnp.inf)
        v = jnp.where(keep, v, 0.0)
    k = jax.nn.softmax(k, axis=1)  # over positions
    q = jax.nn.softmax(q, axis=-1)  # over the head's channels
    context = jnp.einsum("bnhd,bnhe->bhde", k, v)
    out = jnp.einsum("bnhd,bhde->bnhe", q, context)
    if query_mask is not None:
        out = out * jnp.asarray(query_mask, out.dtype).reshape(1, h * w, 1, 1)
    return out.reshape(b, h, w, heads * dv)


class DepthwiseConv(nn.Module):
    """Depthwise ``k x k`` convolution (one filter per channel, PyTorch ``Conv2d(C, C, k, padding=k//2,
    groups=C)``), HWIO kernel ``(k, k, 1, C)``; the per-position projections of MLIC++'s attention."""

    kernel_size: int = 3
    use_bias: bool = True

    @nn.compact
    def __call__(self, x: Array) -> Array:
        k, c = self.kernel_size, x.shape[-1]
        kernel = self.param("kernel", fan_in_uniform((0, 1, 2)), (k, k, 1, c), jnp.float32)
        p = k // 2
        y = jax.lax.conv_general_dilated(x, kernel.astype(x.dtype), (1, 1), ((p, p), (p, p)),
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=c)
        if self.use_bias:
            bound = 1.0 / np.sqrt(k * k)
            y = y + self.param("bias", lambda key, s: uniform(key, s, jnp.float32, -bound, bound), (c,))
        return y
