"""Cool-chic: an overfitted per-image codec (Ladune et al. 2023, arXiv 2212.05458; Leguay et al. 2023,
arXiv 2307.12706 for the low-complexity v3 design; C3, Kim et al. 2024, arXiv 2312.02753).

An image is represented by `num_grids` one-channel latent grids at resolutions `H/2^i x W/2^i`, a tiny
autoregressive entropy model (ARM: an MLP over each latent's causal neighbourhood in its own grid, predicting a
Laplace mean and log-scale), a learned 2x upsampling (an 8-tap transposed convolution per level, split into its
two 4-tap phases, separable, initialized bicubic) that stacks all grids into `num_grids` full-resolution
channels, and a small synthesis network (1x1 layers, then 3x3 residual layers). Everything is fitted to one
image; the weights are quantized and coded into the bitstream (see `jlic.overfit`).

The presets follow the published decoder configurations of Cool-chic's repository (`cfg/dec/*.cfg`):
`coolchic` = "lop" (ARM 8 neighbours x 2 hidden layers of 8, synthesis 16-1-linear-relu, 3-1-linear,
3-3-residual-relu, 3-3-residual), `coolchic-hop` (ARM 24 x 2 x 24, synthesis width 40), `coolchic-vlop`
(ARM 8 x 1, synthesis width 8, one residual layer). The ARM here is an MLP without residual connections.

All functions are pure: params are a dict of arrays, `decode_image` is jit-compiled by its callers. The ARM also
has an exact fixed-point form (`arm_fixed`) that encoder and decoder evaluate identically on any machine: the
coding tables' indexes come from it, never from float arithmetic.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jlic.entropy import laplace

Array = jax.Array
Params = dict[str, Any]

# Causal neighbours (row offset, column offset) in raster order, nearest first; the ARM reads the first n.
CONTEXT_OFFSETS = (
    (0, -1), (-1, 0), (-1, -1), (-1, 1), (0, -2), (-2, 0), (-1, -2), (-1, 2),
    (-2, -1), (-2, 1), (0, -3), (-3, 0), (-2, -2), (-2, 2), (-1, -3), (-1, 3),
    (-3, -1), (-3, 1), (0, -4), (-2, -3), (-2, 3), (-3, -2), (-3, 2), (-4, 0),
)
# C3's causal mask (arXiv 2312.02753, `context_num_rows_cols = (3, 3)`): the 3 rows above, columns -3..3, and
# the 3 latents to the left; 24 neighbours, nearest first.
SQUARE_OFFSETS = tuple(sorted([(dr, dc) for dr in range(-3, 0) for dc in range(-3, 4)]
                              + [(0, -1), (0, -2), (0, -3)],
                              key=lambda o: (o[0] ** 2 + o[1] ** 2, -o[0], o[1])))
FIXED_BITS = 16  # fractional bits of the fixed-point ARM
MAX_STEP_EXP = 16  # weight quantization steps are 2**-k with k <= this


@dataclasses.dataclass(frozen=True)
class CoolChicConfig:
    """Architecture of one overfitted decoder (everything the decoder needs besides the weights)."""

    num_grids: int = 7
    arm_context: int = 8
    arm_hidden: int = 8
    arm_layers: int = 2
    synth_hidden: int = 16
    synth_residual: int = 2
    latent_max: int = 31  # latents are clipped to [-latent_max, latent_max]
    synth_layers: int = 1  # hidden 1x1 layers of the synthesis (C3: 2)
    synth_gelu: int = 0  # 1: GELU in the synthesis instead of ReLU (C3); the ARM stays ReLU (exact integers)
    fixed_upsampling: int = 0  # 1: bilinear 2x upsampling, not fitted (C3's `image_resize`)
    context_square: int = 0  # 1: the ARM reads SQUARE_OFFSETS (C3's 7x7 causal mask), else CONTEXT_OFFSETS

    def __post_init__(self) -> None:
        if not 1 <= self.num_grids <= 10:
            raise ValueError(f"num_grids must be in 1..10, got {self.num_grids}")
        if not 1 <= self.arm_context <= len(CONTEXT_OFFSETS):
            raise ValueError(f"arm_context must be in 1..{len(CONTEXT_OFFSETS)}, got {self.arm_context}")
        for name in ("arm_hidden", "arm_layers", "synth_hidden", "latent_max"):
            if not 1 <= getattr(self, name) <= 255:
                raise ValueError(f"{name} must be in 1..255, got {getattr(self, name)}")
        if not 0 <= self.synth_residual <= 8:
            raise ValueError(f"synth_residual must be in 0..8, got {self.synth_residual}")
        if not 1 <= self.synth_layers <= 4:
            raise ValueError(f"synth_layers must be in 1..4, got {self.synth_layers}")
        for name in ("synth_gelu", "fixed_upsampling", "context_square"):
            if getattr(self, name) not in (0, 1):
                raise ValueError(f"{name} must be 0 or 1, got {getattr(self, name)}")
        if self.arm_context > len(self.all_offsets):
            raise ValueError(f"arm_context must be <= {len(self.all_offsets)} for this context shape")

    def to_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)

    @property
    def all_offsets(self) -> tuple[tuple[int, int], ...]:
        return SQUARE_OFFSETS if self.context_square else CONTEXT_OFFSETS

    @property
    def offsets(self) -> tuple[tuple[int, int], ...]:
        return self.all_offsets[: self.arm_context]

    def activation(self, x: Array) -> Array:
        """The synthesis non-linearity."""
        return jax.nn.gelu(x) if self.synth_gelu else jax.nn.relu(x)


PRESETS: dict[str, CoolChicConfig] = {
    "coolchic": CoolChicConfig(),
    "coolchic-hop": CoolChicConfig(arm_context=24, arm_hidden=24, synth_hidden=40),
    "coolchic-vlop": CoolChicConfig(arm_layers=1, synth_hidden=8, synth_residual=1),
    # C3 (Kim et al. 2024, arXiv 2312.02753, its `configs/kodak.py`): ARM (18, 18) over the 7x7 causal mask,
    # synthesis 1x1 (18, 18) GELU + 2 residual 3x3, fixed bilinear upsampling; fit with C3's latent gains
    # (`FitConfig.latent_lr_scale` 2.5, `latent_gain` 2; experiments/configs/coolchic_c3.py).
    "c3": CoolChicConfig(arm_context=24, arm_hidden=18, synth_hidden=18, synth_layers=2, synth_gelu=1,
                         fixed_upsampling=1, context_square=1),
}


def get_config(name: str = "coolchic", **overrides: Any) -> CoolChicConfig:
    """A preset by name (`PRESETS`), with field overrides."""
    if name not in PRESETS:
        raise KeyError(f"unknown overfitted model {name!r}; presets: {', '.join(sorted(PRESETS))}")
    return dataclasses.replace(PRESETS[name], **overrides)


def grid_shapes(height: int, width: int, num_grids: int) -> list[tuple[int, int]]:
    """`(ceil(H / 2^i), ceil(W / 2^i))` for each grid."""
    return [(-(-height // 2**i), -(-width // 2**i)) for i in range(num_grids)]


def _cubic(d: np.ndarray, a: float = -0.5) -> np.ndarray:
    d = np.abs(d)
    return np.where(d <= 1, (a + 2) * d**3 - (a + 3) * d**2 + 1,
                    np.where(d < 2, a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a, 0.0))


def bicubic_phases() -> np.ndarray:
    """`(2, 4)` taps of a bicubic (Keys, a = -1/2: exact on linear ramps) 2x upsampling; even outputs sit 1/4
    pixel before an input sample, odd ones 1/4 pixel after."""
    even = _cubic(np.array([1.75, 0.75, 0.25, 1.25]))
    even = even / even.sum()
    return np.stack([even, even[::-1]]).astype(np.float32)


def bilinear_phases() -> np.ndarray:
    """`(2, 4)` taps of a bilinear 2x upsampling (half-pixel centres): even outputs `x[i-1]/4 + 3 x[i]/4`, odd
    ones `3 x[i]/4 + x[i+1]/4`."""
    return np.array([[0.0, 0.25, 0.75, 0.0], [0.0, 0.75, 0.25, 0.0]], np.float32)


def init_params(key: Array, config: CoolChicConfig, height: int, width: int) -> Params:
    """Zero latents, a bicubic upsampling, random ARM / synthesis layers (output layers of the ARM zero)."""
    c = config
    keys = jax.random.split(key, 8)

    def dense(k: Array, fan_in: int, fan_out: int) -> Array:
        bound = 1.0 / math.sqrt(fan_in)
        return jax.random.uniform(k, (fan_in, fan_out), jnp.float32, -bound, bound)

    arm_w, arm_b, fan = [], [], c.arm_context
    for i in range(c.arm_layers):
        arm_w.append(dense(jax.random.fold_in(keys[0], i), fan, c.arm_hidden))
        arm_b.append(jnp.zeros((c.arm_hidden,), jnp.float32))
        fan = c.arm_hidden
    arm_w.append(jnp.zeros((fan, 2), jnp.float32))
    arm_b.append(jnp.array([0.0, math.log(0.5)], jnp.float32))
    synth_w = [dense(keys[1], c.num_grids, c.synth_hidden)]
    synth_b = [jnp.zeros((c.synth_hidden,), jnp.float32)]
    for i in range(c.synth_layers - 1):
        synth_w.append(dense(jax.random.fold_in(keys[3], i), c.synth_hidden, c.synth_hidden))
        synth_b.append(jnp.zeros((c.synth_hidden,), jnp.float32))
    synth_w.append(dense(keys[2], c.synth_hidden, 3))
    synth_b.append(jnp.full((3,), 0.5, jnp.float32))
    for _ in range(c.synth_residual):
        synth_w.append(jnp.zeros((3, 3, 3, 3), jnp.float32))
        synth_b.append(jnp.zeros((3,), jnp.float32))
    phases = bilinear_phases() if c.fixed_upsampling else bicubic_phases()
    ups = jnp.tile(jnp.asarray(phases)[None], (max(c.num_grids - 1, 1), 1, 1))
    return {
        "latents": [jnp.zeros(s, jnp.float32) for s in grid_shapes(height, width, c.num_grids)],
        "arm": {"w": arm_w, "b": arm_b},
        "ups": {"w": [ups], "b": []},
        "synth": {"w": synth_w, "b": synth_b},
    }


# ---------------------------------------------------------------------------------------------- ARM

def _pad_amounts(offsets: Sequence[tuple[int, int]]) -> tuple[int, int]:
    top = max(-dr for dr, _ in offsets)
    side = max(abs(dc) for _, dc in offsets)
    return top, side


def arm_contexts(grid: Array, offsets: Sequence[tuple[int, int]]) -> Array:
    """`(h, w, C)`: each latent's causal neighbours (zeros outside the grid)."""
    top, side = _pad_amounts(offsets)
    h, w = grid.shape
    g = jnp.pad(grid, ((top, 0), (side, side)))
    return jnp.stack([g[top + dr: top + dr + h, side + dc: side + dc + w] for dr, dc in offsets], axis=-1)


def arm_float(arm: Params, ctx: Array) -> tuple[Array, Array]:
    """Laplace mean and scale of each latent from its context `(..., C)` (float path, for training)."""
    h = ctx
    for w, b in zip(arm["w"][:-1], arm["b"][:-1], strict=True):
        h = jax.nn.relu(h @ w + b)
    out = h @ arm["w"][-1] + arm["b"][-1]
    log_b = jnp.clip(out[..., 1], math.log(laplace.SCALE_MIN), math.log(laplace.SCALE_MAX))
    return out[..., 0], jnp.exp(log_b)


def rate_bits(arm: Params, latents: Sequence[Array], config: CoolChicConfig) -> Array:
    """Estimated bits of (quantized) latent grids under the ARM's Laplace model."""
    total = jnp.float32(0.0)
    for g in latents:
        mu, scale = arm_float(arm, arm_contexts(g, config.offsets))
        mu = jnp.clip(mu, -config.latent_max, config.latent_max)
        total = total + jnp.sum(-jnp.log2(laplace.likelihood(g, mu, scale)))
    return total


def make_arm_fixed(arm_int: dict[str, list[np.ndarray]], exps: dict[str, int], config: CoolChicConfig,
                   log_scales: np.ndarray, num_fracs: int
                   ) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The exact fixed-point ARM as a function of integer contexts `(N, C)` -> `(round(mean), fraction bin,
    scale bin)`, with its constants prepared once (the decoder calls it once per wavefront).

    Weights are integers `w * 2^k` (exponent `exps["w"]`, biases `exps["b"]`, both <= FIXED_BITS); values are
    kept as integers with `FIXED_BITS` fractional bits inside float64, where every product and sum is an
    integer below 2^53, so BLAS evaluates them exactly in any order and batch size.
    """
    p, kw, kb = FIXED_BITS, int(exps["w"]), int(exps["b"])
    one = float(1 << p)
    ws = [np.asarray(w, np.float64) for w in arm_int["w"]]
    bs = [np.asarray(b, np.float64) * float(1 << (p - kb)) for b in arm_int["b"]]
    inv_w = 1.0 / float(1 << kw)
    lim = config.latent_max * one
    mid = np.floor((log_scales[1:] + log_scales[:-1]) / 2 * one)
    last = len(ws) - 1

    def apply(ctx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        h = np.asarray(ctx, np.float64) * one
        for i in range(last + 1):
            h = np.floor((h @ ws[i]) * inv_w)
            h += bs[i]
            if i < last:
                np.maximum(h, 0.0, out=h)
        mu = np.clip(h[:, 0], -lim, lim)
        rounded = np.floor((mu + one / 2) / one)
        frac = mu - rounded * one  # in [-one/2, one/2)
        frac_bin = np.minimum(np.floor((frac + one / 2) * (num_fracs / one)), num_fracs - 1)
        scale_bin = np.searchsorted(mid, h[:, 1], side="right")
        return rounded.astype(np.int64), frac_bin.astype(np.int64), scale_bin

    return apply


def arm_fixed(arm_int: dict[str, list[np.ndarray]], exps: dict[str, int], ctx: np.ndarray,
              config: CoolChicConfig, log_scales: np.ndarray, num_fracs: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One call of `make_arm_fixed(...)(ctx)`."""
    return make_arm_fixed(arm_int, exps, config, log_scales, num_fracs)(ctx)


# ------------------------------------------------------------------------------- upsampling, synthesis

def _upsample_axis(x: Array, taps: Array, axis: int, size: int) -> Array:
    """2x along `axis` (1 or 2 of a `(C, h, w)` array), edge padding, cropped to `size`.

    A stride-2 transposed convolution with the 8 taps `K[2m] = taps[0, m]` (even outputs, inputs `i-2..i+1`),
    `K[2m+1] = taps[1, m]` (odd outputs, inputs `i-1..i+2`), computed as one input-dilated convolution.
    """
    pad = [(0, 0)] * 3
    pad[axis] = (2, 2)
    xp = jnp.pad(x, pad, mode="edge")[:, None]  # (C, 1, h', w')
    k = jnp.stack([taps[0], taps[1]], axis=-1).reshape(8)
    kernel = k.reshape((1, 1, 8, 1) if axis == 1 else (1, 1, 1, 8))
    dil = (2, 1) if axis == 1 else (1, 2)
    out = jax.lax.conv_general_dilated(xp, kernel, (1, 1), ((0, 0), (0, 0)), lhs_dilation=dil,
                                       dimension_numbers=("NCHW", "OIHW", "NCHW"))[:, 0]
    return jax.lax.slice_in_dim(out, 0, size, axis=axis)


def upsample_stack(latents: Sequence[Array], ups: Params, axis_fn: Callable | None = None) -> Array:
    """`(L, H, W)`: every grid brought to full resolution by repeated learned 2x upsampling (`axis_fn`: one
    axis of it, `_upsample_axis` by default)."""
    axis_fn = axis_fn or _upsample_axis
    feat = latents[-1][None]
    kernels = ups["w"][0]
    for lvl in range(len(latents) - 2, -1, -1):
        h, w = latents[lvl].shape
        feat = axis_fn(axis_fn(feat, kernels[lvl], 1, h), kernels[lvl], 2, w)
        feat = jnp.concatenate([latents[lvl][None], feat], axis=0)
    return feat


def _conv3x3(x: Array, w: Array) -> Array:
    """3x3 convolution of `(C, H, W)` with an HWIO kernel, edge padding."""
    xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1)), mode="edge")
    return jax.lax.conv_general_dilated(xp[None], w, (1, 1), "VALID",
                                        dimension_numbers=("NCHW", "HWIO", "NCHW"))[0]


def synthesis(synth: Params, feat: Array, config: CoolChicConfig | None = None) -> Array:
    """`(3, H, W)` image in [0, 1] (unclipped) from the stacked features `(L, H, W)` (channels first: the
    1x1 layers are one `(out, in) @ (in, H W)` product each, 2.5x faster on CPU than channels last)."""
    config = config or CoolChicConfig()
    ws, bs = synth["w"], synth["b"]
    n_dense = config.synth_layers + 1
    c, h, w = feat.shape
    x = feat.reshape(c, h * w)
    for i in range(n_dense):
        x = ws[i].T @ x + bs[i][:, None]
        if i < n_dense - 1:
            x = config.activation(x)
    return _residual_layers(x.reshape(3, h, w), ws[n_dense:], bs[n_dense:], config, _conv3x3)


def _residual_layers(x: Array, ws: Sequence[Array], bs: Sequence[Array], config: CoolChicConfig,
                     conv: Callable, barrier: bool = False) -> Array:
    """The 3x3 residual layers `x + conv(x) + b`, activation between them (`barrier`: materialize inputs)."""
    for i, (k, b) in enumerate(zip(ws, bs, strict=True)):
        if barrier:
            x = jax.lax.optimization_barrier(x)
        x = x + conv(x, k) + b[:, None, None]
        if i < len(ws) - 1:
            x = config.activation(x)
    return x


def decode_image(nets: Params, latents: Sequence[Array], height: int, width: int,
                 config: CoolChicConfig | None = None) -> Array:
    """Reconstruction `(height, width, 3)` from (quantized) latents; `nets` holds "ups" and "synth"."""
    x = synthesis(nets["synth"], upsample_stack(latents, nets["ups"]), config)
    return jnp.moveaxis(x[:, :height, :width], 0, -1)


# ---------------------------------------------------------- training form of the same decoder (fast gradients)
# XLA:CPU differentiates shifted slices into one full-size pad per slice (then adds them), edge padding into
# full-size pads of its edge rows, and input-dilated convolutions into slow convolutions: on a full Kodak image
# those transposes, not the arithmetic, were most of a fit step (jax.profiler trace, kodim01, 2026-12-07). The
# functions below give them hand-written transposes (one fused loop each) and compute every layer channels
# first; `decode_image_train` and `rate_bits_train` equal `decode_image` and `rate_bits` to float32 rounding.

@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3))
def windows(xp: Array, starts: tuple[tuple[int, int], ...], h: int, w: int) -> Array:
    """`(K, ..., h, w)`: the windows `xp[..., a:a+h, b:b+w]` for each start `(a, b)` in `starts`."""
    return jnp.stack([xp[..., a: a + h, b: b + w] for a, b in starts])


def _windows_fwd(xp: Array, starts: tuple[tuple[int, int], ...], h: int, w: int) -> tuple[Array, tuple]:
    return windows(xp, starts, h, w), xp.shape


def _windows_bwd(starts: tuple[tuple[int, int], ...], h: int, w: int, shape: tuple, d: Array) -> tuple[Array]:
    """`dxp[u, v] = sum_k d[k, u - a_k, v - b_k]`: slices of one zero-padded cotangent, summed in one loop."""
    hp, wp = shape[-2:]
    big_a, big_b = max(a for a, _ in starts), max(b for _, b in starts)
    pad = [(0, 0)] * (d.ndim - 2) + [(big_a, hp - h), (big_b, wp - w)]
    dp = jnp.pad(d, pad)
    out = sum(dp[k, ..., big_a - a: big_a - a + hp, big_b - b: big_b - b + wp]
              for k, (a, b) in enumerate(starts))
    return (out,)


windows.defvjp(_windows_fwd, _windows_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2))
def edge_pad(x: Array, axis: int, n: int) -> Array:
    """`jnp.pad(x, n, mode="edge")` along one `axis` (its transpose adds the pad's cotangent to the edge rows
    instead of padding them to full size)."""
    first = jax.lax.slice_in_dim(x, 0, 1, axis=axis)
    last = jax.lax.slice_in_dim(x, x.shape[axis] - 1, x.shape[axis], axis=axis)
    reps = lambda e: jnp.concatenate([e] * n, axis=axis)
    return jnp.concatenate([reps(first), x, reps(last)], axis=axis)


def _edge_pad_fwd(x: Array, axis: int, n: int) -> tuple[Array, None]:
    return edge_pad(x, axis, n), None


def _edge_pad_bwd(axis: int, n: int, _: None, d: Array) -> tuple[Array]:
    size = d.shape[axis] - 2 * n
    head = jnp.sum(jax.lax.slice_in_dim(d, 0, n + 1, axis=axis), axis=axis, keepdims=True)
    tail = jnp.sum(jax.lax.slice_in_dim(d, n + size - 1, 2 * n + size, axis=axis), axis=axis, keepdims=True)
    if size == 1:
        return (head + tail - jax.lax.slice_in_dim(d, n, n + 1, axis=axis),)
    mid = jax.lax.slice_in_dim(d, n + 1, n + size - 1, axis=axis)
    return (jnp.concatenate([head, mid, tail], axis=axis),)


edge_pad.defvjp(_edge_pad_fwd, _edge_pad_bwd)


def _upsample_axis_train(x: Array, taps: Array, axis: int, size: int) -> Array:
    """`_upsample_axis` as two polyphase 4-tap filters over the windows of the edge-padded input."""
    n = x.shape[axis]
    xp = edge_pad(x, axis, 2)
    starts = tuple((m, 0) if axis == 1 else (0, m) for m in range(5))
    h, w = (n, x.shape[2]) if axis == 1 else (x.shape[1], n)
    win = windows(xp, starts, h, w)  # (5, C, h, w)
    even = jnp.tensordot(taps[0], win[:4], axes=1)
    odd = jnp.tensordot(taps[1], win[1:], axes=1)
    shape = list(x.shape)
    shape[axis] = 2 * n
    return jax.lax.slice_in_dim(jnp.stack([even, odd], axis=axis + 1).reshape(shape), 0, size, axis=axis)


def _conv3x3_train(x: Array, w: Array) -> Array:
    """`_conv3x3` as one `(Cout, 9 Cin) @ (9 Cin, H W)` product over the windows of the edge-padded input."""
    c, h, wd = x.shape
    xp = edge_pad(edge_pad(x, 1, 1), 2, 1)
    win = windows(xp, tuple((i, j) for i in range(3) for j in range(3)), h, wd)  # (9, C, H, W)
    out = w.reshape(9 * c, -1).T @ win.reshape(9 * c, h * wd)
    return out.reshape(-1, h, wd)


def decode_image_train(nets: Params, latents: Sequence[Array], height: int, width: int,
                       config: CoolChicConfig | None = None) -> Array:
    """`decode_image` for fitting: the same function with fast gradients (`windows`, `edge_pad`)."""
    config = config or CoolChicConfig()
    feat = upsample_stack(latents, nets["ups"], _upsample_axis_train)
    ws, bs = nets["synth"]["w"], nets["synth"]["b"]
    n_dense = config.synth_layers + 1
    c, h, w = feat.shape
    x = feat.reshape(c, h * w)
    for i in range(n_dense):
        x = ws[i].T @ x + bs[i][:, None]
        if i < n_dense - 1:
            x = config.activation(x)
    x = _residual_layers(x.reshape(3, h, w), ws[n_dense:], bs[n_dense:], config, _conv3x3_train)
    return jnp.moveaxis(x[:, :height, :width], 0, -1)


def rate_bits_train(arm: Params, latents: Sequence[Array], config: CoolChicConfig) -> Array:
    """`rate_bits` for fitting: the contexts of all grids as one channels-first `(C, N)` array (`windows`), one
    ARM evaluation over it."""
    top, side = _pad_amounts(config.offsets)
    starts = tuple((top + dr, side + dc) for dr, dc in config.offsets)
    ctx, ys = [], []
    for g in latents:
        h, w = g.shape
        ctx.append(windows(jnp.pad(g, ((top, 0), (side, side))), starts, h, w).reshape(len(starts), h * w))
        ys.append(g.reshape(-1))
    hdn, y = jnp.concatenate(ctx, axis=1), jnp.concatenate(ys)
    for w, b in zip(arm["w"][:-1], arm["b"][:-1], strict=True):
        hdn = jax.nn.relu(w.T @ hdn + b[:, None])
    out = arm["w"][-1].T @ hdn + arm["b"][-1][:, None]
    mu = jnp.clip(out[0], -config.latent_max, config.latent_max)
    scale = jnp.exp(jnp.clip(out[1], math.log(laplace.SCALE_MIN), math.log(laplace.SCALE_MAX)))
    return jnp.sum(-jnp.log2(laplace.likelihood(y, mu, scale)))


# ------------------------------------------------------- inference form of the same decoder (no gradients)
# The decoder's networks are so narrow (1-16 channels) that XLA:CPU's conv / dot kernels spend their time on
# overhead; written as sums of shifted, scaled planes, each layer is one fused elementwise loop: upsampling
# 110 -> 10 ms and synthesis 90 -> 25 ms CPU on a 768x512 image (loaded 2-core EPYC). Their gradients compile
# and run far slower, so fitting uses `decode_image_train`; all three agree to float32 rounding (tested).

def _upsample_axis_planes(x: Array, taps: Array, axis: int, size: int) -> Array:
    """`_upsample_axis` as its two polyphase 4-tap filters over shifted slices, interleaved."""
    n = x.shape[axis]
    pad = [(0, 0)] * 3
    pad[axis] = (2, 2)
    xp = jnp.pad(x, pad, mode="edge")
    shifted = [jax.lax.slice_in_dim(xp, m, m + n, axis=axis) for m in range(5)]
    even = sum(taps[0, m] * shifted[m] for m in range(4))
    odd = sum(taps[1, m] * shifted[m + 1] for m in range(4))
    shape = list(x.shape)
    shape[axis] = 2 * n
    return jax.lax.slice_in_dim(jnp.stack([even, odd], axis=axis + 1).reshape(shape), 0, size, axis=axis)


def _conv3x3_planes(x: Array, w: Array) -> Array:
    """`_conv3x3` as a sum over the 9 shifts and the input channels."""
    c, h, wd = x.shape
    xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1)), mode="edge")
    shifted = [xp[:, i: i + h, j: j + wd] for i in range(3) for j in range(3)]
    return jnp.stack([sum(w[t // 3, t % 3, i, o] * shifted[t][i] for t in range(9) for i in range(c))
                      for o in range(w.shape[3])])


def decode_planes_inference(nets: Params, latents: Sequence[Array], config: CoolChicConfig | None = None
                            ) -> Array:
    """`(3, H, W)` output of the synthesis (uncropped, channels first), computed plane by plane."""
    config = config or CoolChicConfig()
    feat = upsample_stack(latents, nets["ups"], _upsample_axis_planes)
    # materialize each stage: fused into its consumers, XLA would recompute the upsampling for each of the 16
    # hidden planes (5x slower)
    planes = list(jax.lax.optimization_barrier(feat))
    ws, bs = nets["synth"]["w"], nets["synth"]["b"]
    n_dense = config.synth_layers + 1
    for layer in range(n_dense):
        w, b = ws[layer], bs[layer]
        planes = [sum(w[i, o] * planes[i] for i in range(len(planes))) + b[o] for o in range(w.shape[1])]
        if layer < n_dense - 1:
            planes = [config.activation(p) for p in planes]
            if n_dense > 2:  # chained hidden layers in one fusion would be recomputed per output
                planes = list(jax.lax.optimization_barrier(jnp.stack(planes)))
    x = jnp.stack(planes)
    return _residual_layers(x, ws[n_dense:], bs[n_dense:], config, _conv3x3_planes, barrier=True)


def decode_image_inference(nets: Params, latents: Sequence[Array], height: int, width: int,
                           config: CoolChicConfig | None = None) -> Array:
    """`decode_image` for decoding (jit it): the same function, computed plane by plane."""
    return jnp.moveaxis(decode_planes_inference(nets, latents, config)[:, :height, :width], 0, -1)


def decode_uint8_planes(nets: Params, latents: Sequence[Array], height: int, width: int,
                        config: CoolChicConfig | None = None) -> Array:
    """`(3, height, width)` uint8 decoded image (`to_uint8` of `decode_image_inference`, channels first: the
    transpose to `(H, W, 3)` costs less outside XLA)."""
    x = decode_planes_inference(nets, latents, config)[:, :height, :width]
    return jnp.round(jnp.clip(x, 0.0, 1.0) * 255.0).astype(jnp.uint8)


def to_uint8(x: Array) -> np.ndarray:
    return np.asarray(jnp.round(jnp.clip(x, 0.0, 1.0) * 255.0)).astype(np.uint8)


# ---------------------------------------------------------------------------------------- complexity

def macs_per_pixel(config: CoolChicConfig, height: int, width: int) -> dict[str, float]:
    """Multiply-accumulates per image pixel of the decoder (ARM over all latents, upsampling, synthesis)."""
    c, n = config, height * width
    shapes = grid_shapes(height, width, c.num_grids)
    latents = sum(h * w for h, w in shapes)
    fan, arm = c.arm_context, 0
    for _ in range(c.arm_layers):
        arm += fan * c.arm_hidden
        fan = c.arm_hidden
    arm += fan * 2
    ups = 0
    for lvl in range(c.num_grids - 2, -1, -1):
        (h, w), (_, wc) = shapes[lvl], shapes[lvl + 1]
        channels = c.num_grids - 1 - lvl
        ups += channels * 4 * (h * wc + h * w)
    synth = (c.num_grids * c.synth_hidden + (c.synth_layers - 1) * c.synth_hidden**2 + c.synth_hidden * 3
             + c.synth_residual * 27 * 3) * n
    out = {"arm": arm * latents / n, "upsampling": ups / n, "synthesis": synth / n}
    out["total"] = sum(out.values())
    return out


def num_params(params: Params) -> int:
    """Network parameters (ARM, upsampling, synthesis), latents excluded."""
    return sum(int(np.size(x)) for k in ("arm", "ups", "synth") for x in jax.tree.leaves(params[k]))
