"""Raster-scan autoregressive context, coded by wavefronts (Minnen et al. 2018, arXiv 1809.02736).

The parameters of latent (h, w) come from ``entropy_parameters(concat(side, ctx))`` with ``ctx`` a causal
masked convolution (5x5 type A) of the already decoded latents. Decoding pixel by pixel needs H*W
sequential network calls; with ``t = a*h + w`` and ``a`` from :func:`jlic.ops.masked.wavefront_slope`
(3 for 5x5 type A) every position depends only on positions of smaller ``t``, so the positions sharing a
``t`` (a wavefront) are coded together: ``a*(H-1) + W`` steps, each one jitted call of the masked conv on
the gathered causal taps plus the entropy parameters at only those positions, and one vectorized coder
call. The encoder runs the same step function on the same values (the means depend on quantized
neighbours), so both ends agree bit for bit.

Training (as CompressAI): the context sees the noisy y; the decoder gets the noisy y (``quantizer
"noise"``) or ``round(y)`` with a straight-through gradient (``"ste"``). Evaluation (``train=False``,
CompressAI's convention, which its weights are checked against): the context and the decoder see
``round(y)`` and the likelihood is taken at ``round(y - mu) + mu``, the value the coder codes; coded
latents are ``round(y - mu) + mu`` with the context of the coded neighbours.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jlic import quantize
from jlic.latent_codecs.base import ConditionalLeaf, LatentCodec, LatentOut
from jlic.ops.masked import make_mask, mask_taps, wavefront_slope

Array = jax.Array


def wavefronts(height: int, width: int, slope: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Positions (rows, cols) of each wavefront ``t = slope*h + w``, for t = 0, 1, ... in order."""
    h, w = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    t = (slope * h + w).ravel()
    order = np.argsort(t, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(t))])
    hs, ws = h.ravel()[order], w.ravel()[order]
    return [(hs[a:b], ws[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


@dataclass(frozen=True, eq=False)
class RasterScan(LatentCodec):
    """Causal context model over ``y`` (given ``side``), child leaf codec for the elements.

    Args:
      y: the leaf (Gaussian or mixture conditional) that codes each element given its parameters.
      context_prediction: a causal masked conv (:class:`jlic.ops.masked.MaskedConv`, type A): it must
        offer ``kernel_size``, ``mask_type`` and ``taps(t)`` (its output from the kept taps alone).
      entropy_parameters: pointwise network (1x1 convs) ``concat(side, ctx) -> params`` on NHWC maps.
      context_first: concatenate ``(ctx, side)`` instead of ``(side, ctx)`` (CompressAI: side first).
      quantizer: training-time decoder input, ``"noise"`` or ``"ste"``.
    """

    y: ConditionalLeaf
    context_prediction: Any
    entropy_parameters: Callable[[Array], Array]
    context_first: bool = False
    quantizer: str = "noise"

    def children(self):
        return {"y": self.y}

    def _params(self, side: Array, ctx: Array) -> Array:
        return self.entropy_parameters(jnp.concatenate([ctx, side] if self.context_first else [side, ctx], -1))

    def full_params(self, y_hat: Array, side: Array) -> Array:
        """Parameters at every position of NHWC ``y_hat`` from its causal context (parallel)."""
        return self._params(side, self.context_prediction(y_hat))

    def forward(self, y, side, train, key):
        if train:
            y_lik = quantize.noise(y, key)
            y_dec = y_lik if self.quantizer == "noise" else quantize.round_ste(y)
            params = self.full_params(y_lik, side)
        else:
            y_dec = quantize.round_offset(y)
            params = self.full_params(y_dec, side)
            y_lik = quantize.round_offset(y, self.y.offset(params))
        return LatentOut(y_dec, {"y": self.y.likelihood(y_lik, params)})

    def step(self, taps: Array, side: Array, scale_table: Array) -> tuple[Array, ...]:
        """Coding parameters at P positions from their causal taps (P, T, C) and side rows (P, S)."""
        ctx = self.context_prediction.taps(taps)
        return self.y.coding_params(self._params(side[None, None], ctx[None, None])[0, 0], scale_table)

    def _run(self, ctx, writer, reader, y, side, m):
        _, height, width = side.shape[:3]
        cp = self.context_prediction
        k = cp.kernel_size
        p = k // 2
        y_pad = np.zeros((height + 2 * p, width + 2 * p, m), np.float32)
        y_sym = np.zeros((1, height, width, m), np.int32)
        ti, tj = mask_taps(k, cp.mask_type)
        fronts = wavefronts(height, width, wavefront_slope(make_mask(k, cp.mask_type)))
        size = ctx.batch or max(len(f[0]) for f in fronts)
        leaf, leaf_ctx = self.y, ctx.child("y")
        for hs_all, ws_all in fronts:
            for start in range(0, len(hs_all), size):
                hs, ws = hs_all[start:start + size], ws_all[start:start + size]
                n = len(hs)
                take = np.concatenate([np.arange(n), np.zeros(size - n, np.int64)])
                hp, wp = hs[take], ws[take]
                taps = y_pad[hp[:, None] + ti, wp[:, None] + tj]  # (P, T, C)
                out = ctx.call("step", taps, side[0, hp, wp], ctx.scale_table)
                coded = tuple(np.asarray(a)[:n] for a in out)
                if reader is None:
                    y_hat, sym = leaf.encode_values(leaf_ctx, writer, y[0, hs, ws], coded)
                else:
                    y_hat, sym = leaf.decode_values(leaf_ctx, reader, coded)
                y_pad[hs + p, ws + p] = y_hat
                y_sym[0, hs, ws] = sym
        return y_pad[None, p:p + height, p:p + width], {"y": y_sym}

    def encode(self, ctx, writer, y, side):
        return self._run(ctx, writer, None, np.asarray(y, np.float32), side, y.shape[-1])

    def decode(self, ctx, reader, shape, side):
        if tuple(side.shape[:3]) != tuple(shape[:3]):
            raise ValueError(f"side {side.shape} does not match the latent {shape}")
        return self._run(ctx, None, reader, None, side, shape[-1])
