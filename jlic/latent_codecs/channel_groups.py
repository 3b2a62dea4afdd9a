"""Channel groups: y split on the channel axis into groups coded one after the other, each given the
previous ones (Minnen & Singh 2020, arXiv 2007.08739: equal slices with latent residual prediction; He et
al. 2022, ELIC, arXiv 2203.10886: uneven groups, each with a checkerboard inside).

Group k is coded by its own child codec given ``side_k``: the parent's ``side`` for a group without
channel context, else ``concat(channel_context[k](y_hat[:k]), side)`` (CompressAI's order), or, with
``context_takes_side``, ``channel_context[k](y_hat[:k], side)`` (the model combines them itself). With
latent residual prediction, ``lrp[k](y_hat[:k], side, y_hat_k)`` is added to group k's ``y_hat`` before
the later groups see it. ``side_k`` may be a pytree (e.g. MLIC++'s hyperprior output, previous groups and
their contexts, computed once per group for both checkerboard passes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from jlic.latent_codecs.base import LatentCodec, LatentOut, split_key

Array = jax.Array


@dataclass(frozen=True, eq=False)
class ChannelGroups(LatentCodec):
    """Groups of ``groups[k]`` channels (any sizes), child codec ``codecs[k]`` each.

    Args:
      groups: channels per group, in coding order (their sum is y's channel count).
      codecs: one codec per group (keys ``"y0"``, ``"y1"``, ...).
      channel_context: per group, a network of the previous groups' ``y_hat`` (``None``: no channel
        context, e.g. the first group).
      lrp: per group, the latent residual prediction (or ``None`` for none at all).
      context_takes_side: ``channel_context[k]`` takes ``(y_hat_prev, side)`` and returns ``side_k``.
    """

    groups: tuple[int, ...]
    codecs: tuple[LatentCodec, ...]
    channel_context: Sequence[Callable | None]
    lrp: Sequence[Callable | None] | None = None
    context_takes_side: bool = False

    def __post_init__(self) -> None:
        n = len(self.groups)
        lrp_n = n if self.lrp is None else len(self.lrp)
        if len(self.codecs) != n or len(self.channel_context) != n or lrp_n != n:
            raise ValueError(f"{n} groups need {n} codecs, channel contexts (and lrp networks)")
        if any(g <= 0 for g in self.groups):
            raise ValueError(f"group sizes must be positive, got {self.groups}")

    def children(self):
        return {f"y{k}": c for k, c in enumerate(self.codecs)}

    def _bounds(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.groups)]).astype(int)

    def group_side(self, k: int, prev: Array, side: Array | None) -> Array | None:
        """``side_k``: the side input of group k's codec given the previous groups' ``y_hat``."""
        net = self.channel_context[k]
        if net is None:
            return side
        if self.context_takes_side:
            return net(prev, side)
        ctx = net(prev)
        return ctx if side is None else jnp.concatenate([ctx, side], -1)

    def group_lrp(self, k: int, prev: Array, side: Array | None, y_hat_k: Array) -> Array:
        """Latent residual prediction added to group k's ``y_hat``."""
        return self.lrp[k](prev, side, y_hat_k)

    def _has_lrp(self, k: int) -> bool:
        return self.lrp is not None and self.lrp[k] is not None

    def forward(self, y, side, train, key):
        b = self._bounds()
        if y.shape[-1] != b[-1]:
            raise ValueError(f"groups {self.groups} sum to {b[-1]} channels, y has {y.shape[-1]}")
        keys = split_key(key, len(self.groups))
        y_hats, liks = [], []
        for k, codec in enumerate(self.codecs):
            prev = jnp.concatenate(y_hats, -1) if y_hats else y[..., :0]
            out = codec.forward(y[..., b[k]:b[k + 1]], self.group_side(k, prev, side), train, keys[k])
            y_hat = out.y_hat
            if self._has_lrp(k):
                y_hat = y_hat + self.group_lrp(k, prev, side, y_hat)
            y_hats.append(y_hat)
            liks.append(out.likelihoods["y"])
        return LatentOut(jnp.concatenate(y_hats, -1), {"y": jnp.concatenate(liks, -1)})

    def _run(self, ctx, writer, reader, y, side, shape):
        b = self._bounds()
        if shape[-1] != b[-1]:
            raise ValueError(f"groups {self.groups} sum to {b[-1]} channels, y has {shape[-1]}")
        y_hat = np.zeros(shape, np.float32)
        y_sym = np.zeros(shape, np.int32)
        for k, codec in enumerate(self.codecs):
            prev = y_hat[..., :b[k]]
            side_k = side
            if self.channel_context[k] is not None:
                side_k = jax.tree.map(lambda a: np.asarray(a, np.float32),
                                      ctx.call("group_side", prev, side, static=(k,)))
            child = ctx.child(f"y{k}")
            if reader is None:
                hat_k, sym = codec.encode(child, writer, y[..., b[k]:b[k + 1]], side_k)
            else:
                hat_k, sym = codec.decode(child, reader, (*shape[:-1], self.groups[k]), side_k)
            hat_k = np.asarray(hat_k, np.float32)
            if self._has_lrp(k):
                hat_k = hat_k + np.asarray(ctx.call("group_lrp", prev, side, hat_k, static=(k,)), np.float32)
            y_hat[..., b[k]:b[k + 1]] = hat_k
            y_sym[..., b[k]:b[k + 1]] = sym["y"]
        return y_hat, {"y": y_sym}

    def encode(self, ctx, writer, y, side):
        return self._run(ctx, writer, None, np.asarray(y, np.float32), side, tuple(y.shape))

    def decode(self, ctx, reader, shape, side):
        return self._run(ctx, None, reader, None, side, tuple(shape))
