"""A schedule of sub-latent steps: y coded in a fixed sequence of element sets, coarse scales first.

Hierarchical progressive context modeling (HPCM, Li et al. 2025, arXiv 2507.19125): y (H, W, C) is seen at
levels of resolution, each a sub-latent gathered from y (a phase of a stride-4 or stride-2 grid per channel
group, then y itself), each level containing the previous one; the elements of a level not yet coded are
coded in steps (HPCM: 2 steps at 1/4 resolution, 3 at 1/2, 6 at full resolution). Every step's elements form
a dense tensor (h_l, w_l, c_k), coded by that step's child codec (any codec: a leaf, a checkerboard, channel
groups, ...) given the parameters ``step_params`` returns: a function of the step, the level's sub-latent
decoded so far (zero where not yet coded), a state carried from step to step (HPCM's progressive context)
and the parent's ``side``. The geometry (:class:`Layout`) is static, computed on the host per latent shape;
the codec moves elements with gathers and scatters, so the same composition codes every level.

``step_params(k, layout, y_hat_level, state, side) -> (params_level, state)``: ``params_level`` is
``(B, h_l, w_l, P * C)`` (P parameter planes of C channels on the level grid, e.g. ``concat(scales, means)``);
the codec picks the step's elements of each plane, so the child gets ``(B, h_l, w_l, P * c_k)``. The first
call gets ``state=None``. Encoder and decoder call it through one jitted function per step
(:meth:`CodingContext.call`), so the deterministic mode covers it with no code of its own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jlic.latent_codecs.base import LatentCodec, LatentOut, split_key

Array = jax.Array


class Layout(NamedTuple):
    """Static geometry of a schedule for one latent shape (H, W, C).

    Attributes:
      levels: per level, ``(h_l, w_l, C)`` flat indices into ``y[b]`` (``H * W * C``): the sub-latent.
      steps: per step, ``(level, (h_l, w_l, c_k) flat indices into that level's grid (h_l * w_l * C))``.
    """

    levels: tuple[np.ndarray, ...]
    steps: tuple[tuple[int, np.ndarray], ...]

    def lift(self, level: int) -> np.ndarray:
        """``(h, w, C)`` flat indices into level ``level``'s grid of the elements of level ``level - 1``."""
        fine = self.levels[level].reshape(-1)
        where = np.full(int(fine.max()) + 1, -1, np.int64)
        where[fine] = np.arange(fine.size)
        out = where[self.levels[level - 1]]
        if (out < 0).any():
            raise ValueError(f"level {level - 1} is not contained in level {level}")
        return out

    def elements(self, k: int) -> np.ndarray:
        """Step ``k``'s ``(h_l, w_l, c_k)`` flat indices into ``y[b]``."""
        level, idx = self.steps[k]
        return self.levels[level].reshape(-1)[idx]


def _pack(mask: np.ndarray) -> np.ndarray:
    """(h, w, C) bool with the same number ``c`` of True channels at every position -> (h, w, c) flat indices
    into the grid (True channels in increasing order)."""
    h, w, C = mask.shape
    per = mask.sum(-1)
    if per.min() != per.max() or per.min() == 0:
        raise ValueError("a step must take the same (non-zero) number of channels at every position")
    flat = np.arange(h * w * C).reshape(h, w, C)
    return flat[mask].reshape(h, w, int(per.min()))


# HPCM's schedule (lyq133/LIC-HPCM, src/models/base.py): phases of the 1/2-resolution grid per eighth of the
# channels, of the 1/4 grid inside it per quarter, and the step masks of each level.
HPCM_HALF_PHASES = ((0, 0), (1, 1), (0, 1), (1, 0), (0, 0), (1, 1), (0, 1), (1, 0))  # per channel eighth
HPCM_QUARTER_PHASES = ((0, 0), (0, 1), (1, 0), (1, 1))  # inside the 1/2 grid, per channel quarter
HPCM_FOUR_PARTS = ((0, 1, 2, 3), (3, 2, 1, 0), (2, 3, 0, 1), (1, 0, 3, 2))  # phase of quarter q in part t
# The 4x4 tile split into eight 2-position patterns; part t gives eighth g the pattern HPCM_EIGHT_PARTS[t][g].
HPCM_PATTERNS = (((0, 0), (2, 2)), ((0, 2), (2, 0)), ((1, 1), (3, 3)), ((1, 3), (3, 1)),
                 ((0, 1), (2, 3)), ((0, 3), (2, 1)), ((1, 0), (3, 2)), ((1, 2), (3, 0)))
HPCM_EIGHT_PARTS = ((0, 2, 4, 6, 1, 3, 5, 7), (1, 3, 5, 7, 0, 2, 4, 6), (2, 4, 6, 0, 3, 5, 7, 1),
                    (3, 5, 7, 1, 2, 4, 6, 0), (4, 6, 0, 2, 5, 7, 1, 3), (5, 7, 1, 3, 4, 6, 0, 2),
                    (6, 0, 2, 4, 7, 1, 3, 5), (7, 1, 3, 5, 6, 0, 2, 4))


@functools.cache
def hpcm_layout(height: int, width: int, channels: int) -> Layout:
    """HPCM's hierarchical schedule: levels 1/4, 1/2, 1; steps 2 + 3 + 6 (H, W multiples of 4, C of 8).

    Level 1/2: eighth g of the channels at phase ``HPCM_HALF_PHASES[g]`` of the stride-2 grid; level 1/4:
    quarter q at phase ``HPCM_QUARTER_PHASES[q]`` of that grid. Steps at 1/4: a checkerboard, the first half
    of the channels on the even squares, the second half on the odd ones, then the rest; at 1/2: parts 1, 2,
    3 of ``HPCM_FOUR_PARTS`` (part 0 is the 1/4 level); at 1: parts 2..7 of ``HPCM_EIGHT_PARTS`` (parts 0, 1
    are the 1/2 level).
    """
    H, W, C = height, width, channels
    if H % 4 or W % 4 or C % 8:
        raise ValueError(f"the HPCM schedule needs H, W multiples of 4 and C of 8, got {(H, W, C)}")
    full = np.arange(H * W * C).reshape(H, W, C)
    c = np.arange(C)
    eighth, quarter, half = c // (C // 8), c // (C // 4), c // (C // 2)
    ph = np.asarray(HPCM_HALF_PHASES)[eighth]  # (C, 2)
    i2, j2 = np.meshgrid(np.arange(H // 2), np.arange(W // 2), indexing="ij")
    lvl_half = full[2 * i2[..., None] + ph[:, 0], 2 * j2[..., None] + ph[:, 1], c]
    pq = np.asarray(HPCM_QUARTER_PHASES)[quarter]
    i1, j1 = np.meshgrid(np.arange(H // 4), np.arange(W // 4), indexing="ij")
    grid_half = np.arange(lvl_half.size).reshape(lvl_half.shape)
    quarter_in_half = grid_half[2 * i1[..., None] + pq[:, 0], 2 * j1[..., None] + pq[:, 1], c]
    lvl_quarter = lvl_half.reshape(-1)[quarter_in_half]

    steps: list[tuple[int, np.ndarray]] = []
    even = ((i1 + j1) % 2 == 0)[..., None]
    first = np.where(half == 0, even, ~even)
    steps += [(0, _pack(first)), (0, _pack(~first))]
    phase_half = (2 * (i2 % 2) + (j2 % 2))[..., None]
    for t in range(1, 4):
        steps.append((1, _pack(phase_half == np.asarray(HPCM_FOUR_PARTS[t])[quarter])))
    i, j = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    pattern = np.zeros((4, 4), np.int64)
    for x, cells in enumerate(HPCM_PATTERNS):
        for a, b in cells:
            pattern[a, b] = x
    pat = pattern[i % 4, j % 4][..., None]
    for t in range(2, 8):
        steps.append((2, _pack(pat == np.asarray(HPCM_EIGHT_PARTS[t])[eighth])))
    layout = Layout((lvl_quarter, lvl_half, full), tuple(steps))
    check_layout(layout, H * W * C)
    return layout


def check_layout(layout: Layout, size: int) -> None:
    """Every element is coded by exactly one step, and each level's elements are coded before any step of a
    later level (so a level's sub-latent decoded so far is complete for the coarser levels)."""
    seen = np.zeros(size, np.int64)
    for k in range(len(layout.steps)):
        seen[layout.elements(k).reshape(-1)] += 1
    if not (seen == 1).all():
        raise ValueError("the steps must code every element of y exactly once")
    done = np.zeros(size, bool)
    for k, (level, _) in enumerate(layout.steps):
        if level > 0 and (k == 0 or layout.steps[k - 1][0] != level):
            if not done[layout.levels[level - 1].reshape(-1)].all():
                raise ValueError(f"level {level - 1} is not fully coded before level {level} starts")
        done[layout.elements(k).reshape(-1)] = True


def gather(x: Array, idx: np.ndarray) -> Array:
    """``x`` (B, ...) flattened per example, taken at ``idx`` -> (B, *idx.shape)."""
    return x.reshape(x.shape[0], -1)[:, idx.reshape(-1)].reshape(x.shape[0], *idx.shape)


def pick_planes(params: Array, idx: np.ndarray, channels: int) -> Array:
    """``(B, h, w, P * C)`` -> ``(B, h, w, P * c_k)``: each plane of ``channels`` taken at ``idx``."""
    b, h, w, pc = params.shape
    if pc % channels:
        raise ValueError(f"step parameters have {pc} channels, not a multiple of the latent's {channels}")
    planes = jnp.moveaxis(params.reshape(b, h, w, pc // channels, channels), 3, 1)
    picked = planes.reshape(b, pc // channels, -1)[:, :, idx.reshape(-1)]
    return jnp.moveaxis(picked.reshape(b, pc // channels, *idx.shape), 1, 3).reshape(b, *idx.shape[:2], -1)


def lift(layout: Layout, level: int, x: Array) -> Array:
    """``x`` on level ``level - 1``'s grid (B, h, w, C) placed on level ``level``'s grid, zero elsewhere."""
    b, C = x.shape[0], x.shape[-1]
    h, w = layout.levels[level].shape[:2]
    return put(jnp.zeros((b, h, w, C), x.dtype), layout.lift(level), x)


def put(x: Array, idx: np.ndarray, values: Array) -> Array:
    """``x`` (B, ...) with ``values`` (B, *idx.shape) put at the flat indices ``idx`` of each example."""
    b = x.shape[0]
    return x.reshape(b, -1).at[:, idx.reshape(-1)].set(values.reshape(b, -1)).reshape(x.shape)


@dataclass(frozen=True, eq=False)
class Schedule(LatentCodec):
    """y coded in the steps of ``layout(H, W, C)``, step ``k`` by ``codecs[k]`` (see the module docstring).

    Args:
      codecs: one codec per step (keys ``"s0"``, ``"s1"``, ...), each coding a dense ``(B, h_l, w_l, c_k)``.
      step_params: ``(k, layout, y_hat_level, state, side) -> (params_level, state)``.
      layout: ``(H, W, C) -> Layout`` (default: HPCM's schedule).
    """

    codecs: tuple[LatentCodec, ...]
    step_params: Callable[[int, Layout, Array, Any, Any], tuple[Array, Any]]
    layout: Callable[[int, int, int], Layout] = hpcm_layout

    def children(self):
        return {f"s{k}": c for k, c in enumerate(self.codecs)}

    def _layout(self, shape: tuple[int, ...]) -> Layout:
        lay = self.layout(*shape[-3:])
        if len(lay.steps) != len(self.codecs):
            raise ValueError(f"the layout has {len(lay.steps)} steps, the schedule {len(self.codecs)} codecs")
        return lay

    def step(self, k: int, shape: tuple[int, ...], y_hat: Array, state: Any, side: Any) -> tuple[Array, Any]:
        """Step ``k``'s child parameters ``(B, h_l, w_l, P * c_k)`` and the next state, given ``y_hat`` (the
        whole latent decoded so far, zero elsewhere)."""
        lay = self._layout(shape)
        level, idx = lay.steps[k]
        params, state = self.step_params(k, lay, gather(y_hat, lay.levels[level]), state, side)
        return pick_planes(params, idx, shape[-1]), state

    def forward(self, y, side, train, key):
        lay = self._layout(y.shape)
        keys = split_key(key, len(self.codecs))
        y_hat = jnp.zeros_like(y)
        lik = jnp.zeros_like(y)
        state = None
        for k, codec in enumerate(self.codecs):
            params, state = self.step(k, y.shape, y_hat, state, side)
            where = lay.elements(k)
            out = codec.forward(gather(y, where), params, train, keys[k])
            y_hat = put(y_hat, where, out.y_hat)
            lik = put(lik, where, out.likelihoods["y"])
        return LatentOut(y_hat, {"y": lik})

    def _run(self, ctx, writer, reader, y, side, shape):
        lay = self._layout(shape)
        y_hat = np.zeros(shape, np.float32)
        y_sym = np.zeros(shape, np.int32)
        state = None
        for k, codec in enumerate(self.codecs):
            params, state = ctx.call("step", y_hat, state, side, static=(k, tuple(shape)))
            params = np.asarray(params, np.float32)
            state = jax.tree.map(lambda a: np.asarray(a, np.float32), state)
            where = lay.elements(k)
            child = ctx.child(f"s{k}")
            if reader is None:
                hat_k, sym = codec.encode(child, writer, y.reshape(shape[0], -1)[:, where.reshape(-1)]
                                          .reshape(shape[0], *where.shape), params)
            else:
                hat_k, sym = codec.decode(child, reader, (shape[0], *where.shape), params)
            flat = where.reshape(-1)
            y_hat.reshape(shape[0], -1)[:, flat] = np.asarray(hat_k, np.float32).reshape(shape[0], -1)
            y_sym.reshape(shape[0], -1)[:, flat] = np.asarray(sym["y"]).reshape(shape[0], -1)
        return y_hat, {"y": y_sym}

    def encode(self, ctx, writer, y, side):
        return self._run(ctx, writer, None, np.asarray(y, np.float32), side, tuple(y.shape))

    def decode(self, ctx, reader, shape, side):
        return self._run(ctx, None, reader, None, side, tuple(shape))
