"""Convolutions with CompressAI/PyTorch semantics in NHWC layout.

`Conv` is `nn.Conv2d(k, s, padding=k//2)`; `ConvTranspose` is `nn.ConvTranspose2d(k, s, padding=k//2,
output_padding=s-1)`, whose output is exactly `s` times its input. Kernels are HWIO: a PyTorch conv
weight `(out, in, kh, kw)` maps to `w.transpose(2, 3, 1, 0)`, a transposed-conv weight `(in, out, kh, kw)`
maps to `w.transpose(2, 3, 0, 1)`.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

Array = jax.Array
_DN = ("NHWC", "HWIO", "NHWC")


def conv2d(x: Array, kernel: Array, stride: int = 1) -> Array:
    """Strided 2-D convolution with symmetric padding `k // 2` (PyTorch `Conv2d(padding=k//2)`)."""
    k = kernel.shape[0]
    p = k // 2
    return lax.conv_general_dilated(x, kernel, (stride, stride), ((p, p), (p, p)), dimension_numbers=_DN)


def conv_transpose_padding(k: int, stride: int) -> tuple[int, int]:
    """Low/high padding of the dilated input so the output is `stride` times the input."""
    p = k // 2
    return k - 1 - p, k - 1 - p + stride - 1


def conv_transpose2d(x: Array, kernel: Array, stride: int = 2) -> Array:
    """PyTorch `ConvTranspose2d(k, s, padding=k//2, output_padding=s-1)` with an HWIO kernel (in, out)."""
    k = kernel.shape[0]
    pad = conv_transpose_padding(k, stride)
    return lax.conv_general_dilated(
        x, jnp.flip(kernel, (0, 1)), (1, 1), (pad, pad), lhs_dilation=(stride, stride),
        dimension_numbers=_DN)



class Conv(nn.Module):
    """2-D convolution, `k // 2` padding, HWIO kernel, with bias."""

    features: int
    kernel_size: int = 5
    stride: int = 2
    use_bias: bool = True

    @nn.compact
    def __call__(self, x: Array) -> Array:
        k = self.kernel_size
        kernel = self.param("kernel", nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform"),
                            (k, k, x.shape[-1], self.features), jnp.float32)
        y = conv2d(x, kernel.astype(x.dtype), self.stride)
        if self.use_bias:
            bound = 1.0 / jnp.sqrt(k * k * x.shape[-1])
            bias = self.param("bias", lambda key, s: jax.random.uniform(key, s, jnp.float32, -bound, bound),
                              (self.features,))
            y = y + bias.astype(x.dtype)
        return y


class ConvTranspose(nn.Module):
    """Transposed 2-D convolution whose output is `stride` times its input; HWIO kernel (in, out)."""

    features: int
    kernel_size: int = 5
    stride: int = 2
    use_bias: bool = True

    @nn.compact
    def __call__(self, x: Array) -> Array:
        k = self.kernel_size
        kernel = self.param("kernel", nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform",
                                                                       in_axis=-1, out_axis=-2),
                            (k, k, x.shape[-1], self.features), jnp.float32)
        y = conv_transpose2d(x, kernel.astype(x.dtype), self.stride)
        if self.use_bias:
            bound = 1.0 / jnp.sqrt(k * k * self.features)
            bias = self.param("bias", lambda key, s: jax.random.uniform(key, s, jnp.float32, -bound, bound),
                              (self.features,))
            y = y + bias.astype(x.dtype)
        return y


def pixel_shuffle(x: Array, r: int) -> Array:
    """PyTorch `PixelShuffle(r)` in NHWC: channel `c*r*r + i*r + j` goes to pixel offset (i, j) of `c`."""
    b, h, w, c = x.shape
    co = c // (r * r)
    x = x.reshape(b, h, w, co, r, r)
    x = x.transpose(0, 1, 4, 2, 5, 3)
    return x.reshape(b, h * r, w * r, co)


class SubpelConv(nn.Module):
    """Sub-pixel convolution (3x3 conv to `features * r**2` channels, then pixel shuffle), arXiv 1609.05158."""

    features: int
    r: int = 2
    kernel_size: int = 3

    @nn.compact
    def __call__(self, x: Array) -> Array:
        y = Conv(self.features * self.r * self.r, self.kernel_size, 1, name="conv")(x)
        return pixel_shuffle(y, self.r)
