"""Checkerboard context: anchors first, then the rest given the anchors (He et al. 2021, arXiv 2103.15306).

Anchors get their parameters from ``entropy_parameters(merge(side, 0))`` (zero context), non-anchors from
``entropy_parameters(merge(side, ctx))`` with ``ctx`` a checkerboard-masked convolution of the decoded
anchors. Coding is two passes of one jitted function. Anchors sit where ``(i + j) % 2 == 0``
(``anchor_parity="even"``, CompressAI's) or ``== 1`` (``"odd"``, as MLIC++).

Training: ``forward_method="twopass"`` (CompressAI's default, used by ELIC) rounds the anchors around
their means with a straight-through gradient before they feed the context, then the non-anchors
likewise; likelihoods come from the child leaf under noise. ``"onepass"`` feeds the noisy y to the
context (one network pass; the decoder gets the noisy y or ``round(y)`` with a straight-through
gradient). Evaluation (``train=False``) is always the two-pass hard rounding the coder does.

Context functions instead of the conv (MLIC++, Jiang et al. 2023, arXiv 2307.15421): with
``anchor_parameters(side)`` and ``nonanchor_parameters(y_hat_anchors, side)`` the two passes get their
parameters from any networks of the side input (which may be a pytree, e.g. the hyperprior output plus the
previous channel groups) and, for the non-anchors, of the decoded anchors (zero elsewhere); with
``anchor_lrp(y_hat_anchors, side)`` a latent residual prediction is added to the anchors between the passes
(it is what the non-anchors' context sees). Each pass is then one jitted function of its own.
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

Array = jax.Array

PARITIES = ("even", "odd")
FORWARD_METHODS = ("twopass", "onepass")


def anchor_mask(height: int, width: int, parity: str = "even") -> np.ndarray:
    """(H, W) bool: True at the anchors (``(i + j)`` even, or odd with ``parity="odd"``)."""
    if parity not in PARITIES:
        raise ValueError(f"unknown anchor parity {parity!r}; expected one of {PARITIES}")
    i, j = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    return (i + j) % 2 == (0 if parity == "even" else 1)


@dataclass(frozen=True, eq=False)
class Checkerboard(LatentCodec):
    """Two-pass checkerboard context over ``y`` (given ``side``), child leaf codec for the elements.

    Args:
      y: the leaf (Gaussian or mixture conditional) that codes each element given its parameters.
      context_prediction: checkerboard-masked conv (NHWC -> NHWC), e.g.
        ``MaskedConv(C, 2C, 5, "checkerboard")``.
      entropy_parameters: pointwise network (1x1 convs) on ``merge(...)``.
      anchor_parity: ``"even"`` or ``"odd"``.
      context_first: merge is ``concat(ctx, side)`` (CompressAI's checkerboard codec and ELIC) or
        ``concat(side, ctx)`` (``False``).
      forward_method: training path, ``"twopass"`` or ``"onepass"``.
      quantizer: training-time decoder input of ``"onepass"``, ``"noise"`` or ``"ste"``.
      keyed: in training, ``context_prediction`` is called as ``(y, key)`` with a PRNG key of its own (e.g.
        Entroformer's random top-k); it is called as ``(y)`` when coding and in evaluation.
      anchor_parameters, nonanchor_parameters, anchor_lrp: context functions instead of
        ``context_prediction`` / ``entropy_parameters`` (see the module docstring; ``"twopass"`` only).
    """

    y: ConditionalLeaf
    context_prediction: Callable[[Array], Array] | None = None
    entropy_parameters: Callable[[Array], Array] | None = None
    anchor_parity: str = "even"
    context_first: bool = True
    forward_method: str = "twopass"
    quantizer: str = "noise"
    keyed: bool = False
    anchor_parameters: Callable[[Any], Array] | None = None
    nonanchor_parameters: Callable[[Array, Any], Array] | None = None
    anchor_lrp: Callable[[Array, Any], Array] | None = None

    def __post_init__(self) -> None:
        conv = self.context_prediction is not None and self.entropy_parameters is not None
        fns = self.anchor_parameters is not None and self.nonanchor_parameters is not None
        if conv == fns:
            raise ValueError("Checkerboard needs either context_prediction and entropy_parameters, or "
                             "anchor_parameters and nonanchor_parameters")
        if self.anchor_lrp is not None and not fns:
            raise ValueError("anchor_lrp needs anchor_parameters / nonanchor_parameters")

    def children(self):
        return {"y": self.y}

    def anchors(self, height: int, width: int) -> np.ndarray:
        return anchor_mask(height, width, self.anchor_parity)

    def pass_params(self, y_hat: Array, side: Array, key: Array | None = None) -> Array:
        """Parameters everywhere: anchors from ``side`` alone, non-anchors also from ``y_hat``'s anchors."""
        anchor = jnp.asarray(self.anchors(y_hat.shape[1], y_hat.shape[2]), y_hat.dtype)[..., None]
        net_in = y_hat * anchor
        ctx = (self.context_prediction(net_in) if key is None else self.context_prediction(net_in, key))
        ctx = ctx * (1.0 - anchor)
        return self.entropy_parameters(jnp.concatenate([ctx, side] if self.context_first else [side, ctx], -1))

    def coding_step(self, y_hat: Array, side: Array, scale_table: Array) -> tuple[Array, ...]:
        return self.y.coding_params(self.pass_params(y_hat, side), scale_table)

    def anchor_step(self, side: Any, scale_table: Array) -> tuple[Array, ...]:
        """Coding parameters of the anchors (context functions)."""
        return self.y.coding_params(self.anchor_parameters(side), scale_table)

    def nonanchor_step(self, y_hat: Array, side: Any, scale_table: Array) -> tuple[Array, ...]:
        """Coding parameters of the non-anchors given the decoded anchors (zero elsewhere)."""
        return self.y.coding_params(self.nonanchor_parameters(y_hat, side), scale_table)

    def anchor_residual(self, y_hat: Array, side: Any) -> Array:
        """The anchors' latent residual prediction, zero at the non-anchors (zero without ``anchor_lrp``)."""
        if self.anchor_lrp is None:
            return jnp.zeros_like(y_hat)
        anchor = jnp.asarray(self.anchors(y_hat.shape[1], y_hat.shape[2]), y_hat.dtype)[..., None]
        return self.anchor_lrp(y_hat, side) * anchor

    def forward(self, y, side, train, key):
        if train and self.forward_method not in FORWARD_METHODS:
            raise ValueError(f"unknown forward_method {self.forward_method!r}; expected {FORWARD_METHODS}")
        kc = None
        if self.keyed and train and key is not None:
            key, kc = jax.random.split(key)
        if train and self.forward_method == "onepass":
            if self.anchor_parameters is not None:
                raise ValueError("context functions (anchor_parameters, ...) need forward_method='twopass'")
            y_lik = quantize.noise(y, key)
            y_dec = y_lik if self.quantizer == "noise" else quantize.round_ste(y)
            return LatentOut(y_dec, {"y": self.y.likelihood(y_lik, self.pass_params(y_lik, side, kc))})
        rnd = quantize.round_ste if train else quantize.round_offset  # eval: the coder's exact values
        anchor = jnp.asarray(self.anchors(y.shape[1], y.shape[2]))[..., None]
        if self.anchor_parameters is not None:
            params_a = self.anchor_parameters(side)
            y_hat_a = jnp.where(anchor, rnd(y, self.y.offset(params_a)), 0.0)
            y_hat_a = y_hat_a + self.anchor_residual(y_hat_a, side)
            params_n = self.nonanchor_parameters(y_hat_a, side)
        else:
            params_a = self.pass_params(jnp.zeros_like(y), side, kc)
            y_hat_a = rnd(y, self.y.offset(params_a))
            params_n = self.pass_params(jnp.where(anchor, y_hat_a, 0.0), side, kc)
        params = jnp.where(anchor, params_a, params_n)
        y_hat = jnp.where(anchor, y_hat_a, rnd(y, self.y.offset(params_n)))
        out = self.y.forward(y, params, train, key)
        return LatentOut(y_hat, out.likelihoods)

    def _run(self, ctx, writer, reader, y, side, m):
        _, h, w = jax.tree.leaves(side)[0].shape[:3]
        anchor = self.anchors(h, w)
        y_hat = np.zeros((1, h, w, m), np.float32)
        y_sym = np.zeros((1, h, w, m), np.int32)
        leaf, leaf_ctx = self.y, ctx.child("y")
        fns = self.anchor_parameters is not None
        for first, where in ((True, anchor), (False, ~anchor)):
            if not fns:
                out = ctx.call("coding_step", y_hat, side, ctx.scale_table)
            elif first:
                out = ctx.call("anchor_step", side, ctx.scale_table)
            else:
                if self.anchor_lrp is not None:
                    y_hat = y_hat + np.asarray(ctx.call("anchor_residual", y_hat, side), np.float32)
                out = ctx.call("nonanchor_step", y_hat, side, ctx.scale_table)
            coded = tuple(np.asarray(a)[0][where] for a in out)
            if reader is None:
                vals, sym = leaf.encode_values(leaf_ctx, writer, y[0][where], coded)
            else:
                vals, sym = leaf.decode_values(leaf_ctx, reader, coded)
            y_hat[0][where] = vals
            y_sym[0][where] = sym
        return y_hat, {"y": y_sym}

    def encode(self, ctx: Any, writer: Any, y: np.ndarray, side: np.ndarray) -> tuple[np.ndarray, dict]:
        return self._run(ctx, writer, None, np.asarray(y, np.float32), side, y.shape[-1])

    def decode(self, ctx: Any, reader: Any, shape: tuple[int, ...], side: np.ndarray
               ) -> tuple[np.ndarray, dict]:
        return self._run(ctx, None, reader, None, side, shape[-1])
