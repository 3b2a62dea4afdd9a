"""Masked convolutions for context models: causal (raster order) and checkerboard masks.

- Mask type A/B (van den Oord et al. 2016, PixelCNN, arXiv 1606.05328), as used by the autoregressive context
  model of Minnen et al. 2018 (arXiv 1809.02736): type A keeps the rows above the centre and the taps left of
  the centre on its row; type B also keeps the centre.
- Checkerboard mask (He et al. 2021, arXiv 2103.15306): keeps the taps at odd Manhattan distance from the
  centre, i.e. the four-neighbourhood "anchor" positions of a checkerboard.

`MaskedConv` is a stride-1 `k x k` convolution with padding `k // 2` whose kernel is always multiplied by the
mask (never stored masked). It also evaluates at gathered positions from their kept taps only (`taps`, the
12 causal neighbours for 5x5 type A), which is what the fast context-model decoders use to run the network
only where it is needed.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jlic.ops.conv import conv2d
from jlic.ops.initializers import fan_in_uniform, uniform

Array = jax.Array

MASK_TYPES = ("A", "B", "checkerboard")


def causal_mask(kernel_size: int, mask_type: str = "A") -> np.ndarray:
    """(k, k) float32 raster-order mask: 1 above the centre row and left of the centre (type B: and centre)."""
    k = kernel_size
    m = np.zeros((k, k), np.float32)
    m[: k // 2] = 1.0
    m[k // 2, : k // 2 + (1 if mask_type == "B" else 0)] = 1.0
    return m


def checkerboard_mask(kernel_size: int) -> np.ndarray:
    """(k, k) float32 mask with 1 where the tap's offset (dh, dw) from the centre has odd dh + dw."""
    d = np.arange(kernel_size) - kernel_size // 2
    return ((d[:, None] + d[None, :]) % 2 != 0).astype(np.float32)


def make_mask(kernel_size: int, mask_type: str) -> np.ndarray:
    """The (k, k) mask of `mask_type` ("A", "B" or "checkerboard")."""
    if mask_type in ("A", "B"):
        return causal_mask(kernel_size, mask_type)
    if mask_type == "checkerboard":
        return checkerboard_mask(kernel_size)
    raise ValueError(f"unknown mask type {mask_type!r}; expected one of {MASK_TYPES}")


def mask_taps(kernel_size: int, mask_type: str) -> tuple[np.ndarray, np.ndarray]:
    """Row and column (within the k x k window) of the kept taps, in raster order."""
    return np.nonzero(make_mask(kernel_size, mask_type))


def wavefront_slope(mask: np.ndarray) -> int:
    """Smallest integer `a` such that every kept tap (dh, dw) of a causal `mask` has `a*dh + dw < 0`.

    Then position (h, w) depends only on positions with a smaller `t = a*h + w`, so all positions with the
    same `t` can be decoded together: `a*(H-1) + W` sequential steps instead of `H*W`. For the 5x5 type-A
    mask the binding tap is (-1, +2), giving `a = 3`.
    """
    k = mask.shape[0]
    c = k // 2
    a = 1
    for i, j in zip(*np.nonzero(mask), strict=True):
        dh, dw = int(i) - c, int(j) - c
        if dh > 0 or (dh == 0 and dw >= 0):
            raise ValueError("mask is not causal in raster order")
        if dh < 0:
            a = max(a, dw // (-dh) + 1)  # a*(-dh) > dw
    return a


class MaskedConv(nn.Module):
    """Stride-1 `k x k` convolution (padding `k // 2`) with a fixed mask on the HWIO kernel."""

    in_features: int
    features: int
    kernel_size: int = 5
    mask_type: str = "A"

    def setup(self):
        k = self.kernel_size
        self.kernel = self.param("kernel", fan_in_uniform((0, 1, 2)), (k, k, self.in_features, self.features),
                                 jnp.float32)
        bound = 1.0 / np.sqrt(k * k * self.in_features)
        self.bias = self.param("bias", lambda key, s: uniform(key, s, jnp.float32, -bound, bound),
                               (self.features,))

    def masked_kernel(self) -> Array:
        mask = make_mask(self.kernel_size, self.mask_type)
        return self.kernel * jnp.asarray(mask)[:, :, None, None]

    def __call__(self, x: Array) -> Array:
        """NHWC `x` -> NHWC output of `features` channels, same spatial size."""
        return conv2d(x, self.masked_kernel(), 1) + self.bias

    def taps(self, t: Array) -> Array:
        """The output at gathered positions from their kept taps `t` (..., T, C) (order of `mask_taps`)."""
        ii, jj = mask_taps(self.kernel_size, self.mask_type)
        return jnp.einsum("...tc,tco->...o", t, self.kernel[ii, jj]) + self.bias
