"""Gaussian conditional with a per-level quantization step and learned reconstruction offsets.

Kamisli, Racapé, Choi 2024, "Variable-Rate Learned Image Compression with Multi-Objective Optimization and
Quantization-Reconstruction Offsets", arXiv 2402.18930 (CompressAI's ``*-vbr`` models). At rate level ``l``
with gain ``g`` (the inverse quantization step), the leaf codes ``v = (y - mu) g`` against
``N(0, sigma g)``: symbols ``q = round(v)``, table index of ``sigma g``. The decoder's latent is
``y_hat = sign(q) (|q| + delta) / g + mu`` with the offset ``delta = -f(max(sigma g, 0.11), g)`` of a small
MLP ``f`` (two inputs, one output) and ``delta = 0`` where ``q = 0``.

The parameter tensor from the parent is ``concat(scales, means, gain)`` on the channel axis (``gain`` one
channel, broadcast), or ``concat(scales, gain)`` with ``means=False``; the gain travels with the parameters
so every parent (hyperprior, raster scan) hands the level down without knowing about it.

CompressAI computes the coded symbols of its ``mbt2018-mean-vbr`` as ``round(y g - mu g)`` and its forward
pass as ``round(|y - mu| g)``; ``centred=False`` reproduces that split (the two agree except where float
rounding puts ``v`` on the other side of a half-integer). Coding reconstructs ``y_hat`` on the host from the
symbols: the small offset MLP runs in numpy float32 with a fixed summation order (:func:`dense_np`), so
encoder and decoder get the same bits whatever the jit setting or batch of the network calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from jlic import quantize
from jlic.entropy import gaussian
from jlic.latent_codecs.base import ConditionalLeaf, LatentOut

Array = jax.Array
ZERO = 1e-4  # |q| below this is a zero symbol: no reconstruction offset (CompressAI's test)


def reconstruct(q: Array, offsets: Array, gain: Array, means: Array | float) -> Array:
    """``sign(q) (|q| + delta) / g + mu`` with ``delta = 0`` at ``q = 0`` (jax, forward pass)."""
    mag = jnp.abs(q)
    delta = jnp.where(mag < ZERO, 0.0, offsets)
    return jax.lax.stop_gradient(jnp.sign(q)) * (mag + delta) * (1.0 / gain) + means


def dense_np(params: dict, x: np.ndarray, last: str = "linear") -> np.ndarray:
    """Host float32 evaluation of a flax MLP (Dense ``layer_0``, ``layer_2``, ... with ReLU between;
    ``last``: ``"linear"`` or ``"softplus"``): each output is ``bias + x_0 w_0 + x_1 w_1 + ...`` in that order,
    elementwise, so the bits depend on neither the number of rows nor a BLAS kernel."""
    names = sorted(params, key=lambda k: int(k.rsplit("_", 1)[-1]))
    h = np.asarray(x, np.float32)
    for i, name in enumerate(names):
        kernel = np.asarray(params[name]["kernel"], np.float32)
        out = np.broadcast_to(np.asarray(params[name]["bias"], np.float32), (*h.shape[:-1], kernel.shape[1]))
        for k in range(kernel.shape[0]):
            out = out + h[..., k:k + 1] * kernel[k]
        h = np.maximum(out, np.float32(0)) if i < len(names) - 1 else out
    return np.logaddexp(np.float32(0), h).astype(np.float32) if last == "softplus" else h


def reconstruct_np(sym: np.ndarray, offsets: np.ndarray, gain: np.ndarray, means: np.ndarray) -> np.ndarray:
    """:func:`reconstruct` of integer symbols in numpy float32 (coding: the same ops at both ends)."""
    q = np.abs(sym).astype(np.float32)
    delta = np.where(q < ZERO, np.float32(0), offsets.astype(np.float32))
    rescale = np.float32(1) / gain.astype(np.float32)
    return (np.sign(sym).astype(np.float32) * (q + delta)) * rescale + means.astype(np.float32)


@dataclass(frozen=True, eq=False)
class ScaledGaussian(ConditionalLeaf):
    """Gaussian leaf at a gain ``g`` with reconstruction offsets (see the module docstring).

    Args:
      offset_net: the offset MLP on ``(..., 2) = (max(sigma g, 0.11), g)`` -> ``(..., 1)`` (CompressAI's
        ``QuantABCD``); the offset is minus its output.
      means: parameters carry means (else zero mean).
      centred: coded symbols are ``round((y - mu) g)`` (else ``round(y g - mu g)``, see the module docstring).
    """

    offset_net: Callable[[Array], Array]
    means: bool = True
    centred: bool = True
    quantizer: str = "ste"

    def split_gain(self, params: Array) -> tuple[Array, Array | float, Array]:
        """(scales, means or 0.0, gain (..., 1)) of the parameter tensor."""
        gain, rest = params[..., -1:], params[..., :-1]
        if not self.means:
            return rest, 0.0, gain
        scales, means = jnp.split(rest, 2, axis=-1)
        return scales, means, gain

    def offset(self, params: Array) -> Array | float:
        return self.split_gain(params)[1]

    def offsets(self, scales: Array, gain: Array) -> Array:
        """``delta`` before the zero-symbol rule, per element: ``-f(max(sigma g, 0.11), g)``."""
        stdev = jnp.maximum(scales * gain, gaussian.SCALE_BOUND)
        pair = jnp.stack([stdev, jnp.broadcast_to(gain, stdev.shape)], axis=-1)
        return -self.offset_net(pair)[..., 0]

    def likelihood(self, y: Array, params: Array) -> Array:
        """Likelihood of the coded value of ``y`` (unscaled latent, evaluation rounding)."""
        return self._likelihood(y, params, False, None)

    def _likelihood(self, y: Array, params: Array, train: bool, key: Array | None) -> Array:
        scales, means, gain = self.split_gain(params)
        if self.centred:
            v = (y - means) * gain
            v = quantize.noise(v, key) if train else jnp.round(v)
            return gaussian.likelihood(v, scales * gain)
        scaled_means = means * gain
        v = quantize.noise(y * gain, key) if train else quantize.round_offset(y * gain, scaled_means)
        return gaussian.likelihood(v, scales * gain, scaled_means)

    def forward(self, y: Array, side: Array | None, train: bool, key: Array | None) -> LatentOut:
        """Likelihood with noise (training) or rounding in the scaled domain; decoder latent with offsets
        and straight-through rounding of ``|v|`` (CompressAI's stage-2 training)."""
        scales, means, gain = self.split_gain(side)
        gain = jax.lax.stop_gradient(gain)
        v = (y - means) * gain
        mag = quantize.round_ste(jnp.abs(v)) if train else jnp.round(jnp.abs(v))
        y_hat = reconstruct(jnp.sign(v) * mag, self.offsets(scales, gain), gain, means)
        return LatentOut(y_hat, {"y": self._likelihood(y, side, train, key)})

    def coding_params(self, params: Array, scale_table: Array) -> tuple[Array, Array, Array, Array]:
        """(scale index of ``sigma g``, mean, gain, ``max(sigma g, 0.11)``) per element (jittable)."""
        scales, means, gain = self.split_gain(params)
        shape = scales.shape
        stdev = jnp.maximum(scales * gain, gaussian.SCALE_BOUND)
        return (gaussian.scale_index(stdev, scale_table), jnp.broadcast_to(means, shape),
                jnp.broadcast_to(gain, shape), stdev)

    def side_of(self, hyper: Array, gain: Array) -> Array:
        """The parameter tensor from the hyperprior's ``h_s`` output and the gain channel."""
        return jnp.concatenate([hyper, gain.astype(hyper.dtype)], -1)

    def side_np(self, hyper: np.ndarray, gain: np.float32) -> np.ndarray:
        """:meth:`side_of` on the host (coding)."""
        return np.concatenate([hyper, np.full((*hyper.shape[:-1], 1), gain, np.float32)], -1)

    def offsets_np(self, stdev: np.ndarray, gain: np.ndarray) -> np.ndarray:
        """:meth:`offsets` on the host, from ``max(sigma g, 0.11)`` (:func:`dense_np`)."""
        pair = np.stack([stdev.astype(np.float32), gain.astype(np.float32)], -1)
        return -dense_np(self.offset_net.variables["params"], pair)[..., 0]

    def symbols(self, y: np.ndarray, means: np.ndarray, gain: np.ndarray) -> np.ndarray:
        """Coded symbols of ``y`` (numpy float32, as CompressAI's torch ops)."""
        y, means, gain = (np.asarray(a, np.float32) for a in (y, means, gain))
        v = (y - means) * gain if self.centred else y * gain - means * gain
        return np.rint(v).astype(np.int32)

    def encode_values(self, ctx, writer, y, coded):
        idx, means, gain, stdev = coded
        sym = self.symbols(y, means, gain)
        writer.encode(ctx.coders["gaussian"], sym, idx)
        return reconstruct_np(sym, self.offsets_np(stdev, gain), gain, means), sym

    def decode_values(self, ctx, reader, coded):
        idx, means, gain, stdev = coded
        sym = reader.decode(ctx.coders["gaussian"], idx)
        return reconstruct_np(sym, self.offsets_np(stdev, gain), gain, means), sym
