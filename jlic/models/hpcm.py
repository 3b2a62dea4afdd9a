"""Li, Wang, Yuan, Wang, Sun 2025, "Learned Image Compression with Hierarchical Progressive Context
Modeling" (HPCM, ICCV 2025), arXiv 2507.19125: `hpcm-base` and `hpcm-large`.

Layer list of the official code (lyq133/LIC-HPCM, ``src/models/HPCM_Base.py`` / ``HPCM_Large.py``), so its
state_dicts map one to one (``PConvRB``: partial 3x3 conv on the first quarter of the channels, 1x1 to 4x,
LeakyReLU, 1x1 back, residual; ``DWConvRB``: depthwise 3x3, 1x1 to 2x, LeakyReLU, 1x1 back, residual; widths
(96, 192, 384) = (3N/8, 3N/4, 3N/2) at N = 256, M = 320):

- g_a: conv4x4/2 (3->96) 2xPConvRB conv2x2/2 (->192) 2xPConvRB conv2x2/2 (->384) 4xPConvRB (Large 8x)
  conv2x2/2 (->M); g_s mirrors it with transposed convs (deconv4x4/2 last).
- h_a: PConvRB(M) conv2x2/2 (->N) 3xPConvRB conv2x2/2; h_s: deconv2x2/2 3xPConvRB deconv2x2/2 (->2M)
  PConvRB(2M): the hyper parameters ``concat(scales, means)`` of y at full resolution.
- z: one learned (scale, mean) per channel, generalized Gaussian of shape 1.5 (as y).
- y: the hierarchical schedule (:func:`jlic.latent_codecs.schedule.hpcm_layout`: 2 steps at 1/4 resolution,
  3 at 1/2, 6 at full). Each step after the first: ``adaptor_k`` (1x1, 3M->3M) on ``concat(context, y_hat so
  far)``, the spatial prior's first branch (2 DWConvRB; s3: 3; Large: 2/4), times the learned per-step
  ``quant_step`` (3M), second branch (1 DWConvRB; s3: 2; Large: 2/3) and a 1x1 to 2M: the step's
  ``(scales, means)``. The prior of levels 1/4 and 1/2 is shared, level 1 has its own.
- progressive context fusion: the context carried from step to step is a windowed cross-attention cell
  (1x1 q from the new parameters, k, v from the carried context, windows 4 / 8 / 8, 32 heads over 2M
  channels) plus a 1x1 of the new parameters; at a new level it is lifted onto the finer grid, the hyper
  parameters of the elements not yet coded are added, and a 1x1 (``context_net``) mixes them.

The hyper parameters of level 1/2 are taken as the official code takes them: the values of
``h_s`` at the 1/2 grid's phase minus one position of each 4x4 tile, moved in row-major order into the
grid positions not at 1/4 (for six of the eight channel groups this is not the geometric match; it is what
the published weights were trained with).

Parameters: hpcm-base 68,505,299 and hpcm-large 89,718,803 (jlic and the official modules, both counted; see
tests/models/test_hpcm.py). Images are padded to multiples of 256 (the windows of the 1/4 level).
"""

from __future__ import annotations

import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jlic.latent_codecs import GGMConditional, Hyperprior, LearnedPrior, Schedule
from jlic.latent_codecs.schedule import Layout, gather, hpcm_layout, lift
from jlic.layers.linear_attention import DepthwiseConv
from jlic.models.base import LatentCodecModel
from jlic.models.registry import register
from jlic.ops.conv import Conv
from jlic.ops.initializers import fan_in_uniform, uniform

Array = jax.Array

SIZES = {  # PConvRBs at 3N/2 in g_a / g_s; DWConvRBs (branch 1, branch 2) of the 1/4-1/2 and the full prior
    "base": {"deep": 4, "prior_coarse": (2, 1), "prior_full": (3, 2)},
    "large": {"deep": 8, "prior_coarse": (2, 2), "prior_full": (4, 3)},
}
LEVEL_OF_STEP = (0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 2)
WINDOWS = (4, 8, 8)
HEADS = 32


def widths(N: int) -> tuple[int, int, int]:
    """Transform widths (3N/8, 3N/4, 3N/2), at least 8: the official (96, 192, 384) at N = 256."""
    return tuple(max(8, 3 * N * r // 8) for r in (1, 2, 4))


def leaky(x: Array) -> Array:
    return jax.nn.leaky_relu(x, 0.01)  # PyTorch's LeakyReLU default


def _bias(fan_in: int):
    bound = 1.0 / math.sqrt(fan_in)
    return lambda key, s: uniform(key, s, jnp.float32, -bound, bound)


class Conv2x2Down(nn.Module):
    """``Conv2d(k=2, s=2)``: space-to-depth then one matrix product; HWIO kernel (2, 2, in, out)."""

    features: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        b, h, w, c = x.shape
        kernel = self.param("kernel", fan_in_uniform((0, 1, 2)), (2, 2, c, self.features), jnp.float32)
        bias = self.param("bias", _bias(4 * c), (self.features,))
        x = x.reshape(b, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 2, 4, 5).reshape(b, h // 2, w // 2, 4 * c)
        return x @ kernel.reshape(4 * c, self.features) + bias


class Deconv2x2Up(nn.Module):
    """``ConvTranspose2d(k=2, s=2)``: one matrix product then depth-to-space; kernel (2, 2, in, out)."""

    features: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        b, h, w, c = x.shape
        kernel = self.param("kernel", fan_in_uniform((0, 1, 3)), (2, 2, c, self.features), jnp.float32)
        bias = self.param("bias", _bias(4 * self.features), (self.features,))
        y = x @ kernel.transpose(2, 0, 1, 3).reshape(c, 4 * self.features)
        y = y.reshape(b, h, w, 2, 2, self.features).transpose(0, 1, 3, 2, 4, 5)
        return y.reshape(b, 2 * h, 2 * w, self.features) + bias


class Conv4x4Down(nn.Module):
    """``Conv2d(k=4, s=2, padding=1)``; HWIO kernel."""

    features: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        c = x.shape[-1]
        kernel = self.param("kernel", fan_in_uniform((0, 1, 2)), (4, 4, c, self.features), jnp.float32)
        bias = self.param("bias", _bias(16 * c), (self.features,))
        y = jax.lax.conv_general_dilated(x, kernel, (2, 2), ((1, 1), (1, 1)),
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return y + bias


class Deconv4x4Up(nn.Module):
    """``ConvTranspose2d(k=4, s=2, padding=1)``: ``out[2i + t - 1] += x[i] w[t]``, as one matrix product and an
    overlap-add of the 16 tap planes (no input dilation, which XLA:CPU runs slowly); kernel (4, 4, in, out)."""

    features: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        b, h, w, c = x.shape
        f = self.features
        kernel = self.param("kernel", fan_in_uniform((0, 1, 3)), (4, 4, c, f), jnp.float32)
        bias = self.param("bias", _bias(16 * f), (f,))
        y = (x @ kernel.transpose(2, 0, 1, 3).reshape(c, 16 * f)).reshape(b, h, w, 4, 4, f)
        zero = jnp.zeros((), x.dtype)
        out = None
        for t in range(4):
            for u in range(4):
                cfg = ((0, 0, 0), (t - 1, 2 - t, 1), (u - 1, 2 - u, 1), (0, 0, 0))
                z = jax.lax.pad(y[:, :, :, t, u, :], zero, cfg)
                out = z if out is None else out + z
        return out + bias


class PConvRB(nn.Module):
    """Partial-conv residual block: 3x3 on the first quarter of the channels, 1x1 to ``ratio`` x, LeakyReLU,
    1x1 back, plus the input."""

    ratio: int = 4

    @nn.compact
    def __call__(self, x: Array) -> Array:
        c = x.shape[-1]
        q = c // 4
        h = jnp.concatenate([Conv(q, 3, 1, name="pconv")(x[..., :q]), x[..., q:]], -1)
        h = leaky(Conv(c * self.ratio, 1, 1, name="expand")(h))
        return x + Conv(c, 1, 1, name="project")(h)


class DWConvRB(nn.Module):
    """Depthwise residual block: depthwise 3x3, 1x1 to 2x, LeakyReLU, 1x1 back, plus the input."""

    @nn.compact
    def __call__(self, x: Array) -> Array:
        c = x.shape[-1]
        h = DepthwiseConv(3, name="dwconv")(x)
        h = leaky(Conv(2 * c, 1, 1, name="expand")(h))
        return x + Conv(c, 1, 1, name="project")(h)


class Analysis(nn.Module):
    N: int
    M: int
    deep: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        w1, w2, w3 = widths(self.N)
        x = Conv4x4Down(w1, name="down_0")(x)
        x = PConvRB(name="block_0_1")(PConvRB(name="block_0_0")(x))
        x = Conv2x2Down(w2, name="down_1")(x)
        x = PConvRB(name="block_1_1")(PConvRB(name="block_1_0")(x))
        x = Conv2x2Down(w3, name="down_2")(x)
        for i in range(self.deep):
            x = PConvRB(name=f"block_2_{i}")(x)
        return Conv2x2Down(self.M, name="down_3")(x)


class Synthesis(nn.Module):
    N: int
    deep: int

    @nn.compact
    def __call__(self, y: Array) -> Array:
        w1, w2, w3 = widths(self.N)
        y = Deconv2x2Up(w3, name="up_0")(y)
        for i in range(self.deep):
            y = PConvRB(name=f"block_0_{i}")(y)
        y = Deconv2x2Up(w2, name="up_1")(y)
        y = PConvRB(name="block_1_1")(PConvRB(name="block_1_0")(y))
        y = Deconv2x2Up(w1, name="up_2")(y)
        y = PConvRB(name="block_2_1")(PConvRB(name="block_2_0")(y))
        return Deconv4x4Up(3, name="up_3")(y)


class HyperAnalysis(nn.Module):
    N: int

    @nn.compact
    def __call__(self, y: Array) -> Array:
        z = Conv2x2Down(self.N, name="down_0")(PConvRB(name="block_0")(y))
        for i in range(3):
            z = PConvRB(name=f"block_1_{i}")(z)
        return Conv2x2Down(self.N, name="down_1")(z)


class HyperSynthesis(nn.Module):
    N: int
    M: int

    @nn.compact
    def __call__(self, z: Array) -> Array:
        h = Deconv2x2Up(self.N, name="up_0")(z)
        for i in range(3):
            h = PConvRB(name=f"block_0_{i}")(h)
        return PConvRB(name="block_1")(Deconv2x2Up(2 * self.M, name="up_1")(h))


class SpatialPrior(nn.Module):
    """``branch_2(branch_1(x) * quant_step)``: DWConvRBs (``first``, then ``second``) and a 1x1 to 2M."""

    M: int
    first: int
    second: int

    @nn.compact
    def __call__(self, x: Array, quant_step: Array) -> Array:
        for i in range(self.first):
            x = DWConvRB(name=f"branch_1_{i}")(x)
        x = x * quant_step
        for i in range(self.second):
            x = DWConvRB(name=f"branch_2_{i}")(x)
        return Conv(2 * self.M, 1, 1, name="out")(x)


class CrossAttention(nn.Module):
    """Windowed cross-attention cell: queries (1x1) from ``x``, keys and values (1x1) from the carried
    context ``h``, ``heads`` heads in ``window`` x ``window`` windows; plus a 1x1 of ``x``. A grid whose sides
    are not multiples of ``window`` (inputs smaller than 256 px, e.g. a quick ``init``) gets windows of
    ``gcd(window, H, W)``; the official code accepts only multiples."""

    window: int
    heads: int

    @nn.compact
    def __call__(self, x: Array, h: Array) -> Array:
        b, H, W, c = x.shape
        ws, nh = math.gcd(self.window, H, W), self.heads  # the window (at HPCM's sizes, a multiple of 256)
        q, k, v = Conv(c, 1, 1, name="q")(x), Conv(c, 1, 1, name="k")(h), Conv(c, 1, 1, name="v")(h)

        def windows(t):  # (b, H, W, c) -> (b, nW, heads, ws*ws, c/heads)
            t = t.reshape(b, H // ws, ws, W // ws, ws, nh, c // nh)
            return t.transpose(0, 1, 3, 5, 2, 4, 6).reshape(b, (H // ws) * (W // ws), nh, ws * ws, c // nh)

        q, k, v = windows(q), windows(k), windows(v)
        att = jax.nn.softmax(jnp.einsum("bwhqd,bwhkd->bwhqk", q, k) / math.sqrt(c // nh), axis=-1)
        o = jnp.einsum("bwhqk,bwhkd->bwhqd", att, v)
        o = o.reshape(b, H // ws, W // ws, nh, ws, ws, c // nh).transpose(0, 1, 4, 2, 5, 3, 6)
        o = o.reshape(b, H, W, c)
        return o + Conv(c, 1, 1, name="out")(x)


class ZPrior(nn.Module):
    """The learned per-channel (scale, mean) of z: ``scale`` (init 1) and ``bias`` (the mean, init 0)."""

    N: int

    @nn.compact
    def __call__(self) -> Array:
        scale = self.param("scale", nn.initializers.ones, (self.N,))
        mean = self.param("bias", nn.initializers.zeros, (self.N,))
        return jnp.concatenate([scale, mean])


@functools.cache
def half_level_hyper_index(height: int, width: int, channels: int) -> np.ndarray:
    """Flat indices into ``h_s``'s scales (H, W, C) of the values the official code puts at the 1/2 level's
    positions not at 1/4, in row-major order per channel, and -1 at the 1/4 positions (there: zero)."""
    layout = hpcm_layout(height, width, channels)
    H, W, C = height, width, channels
    half, quarter = layout.levels[1], layout.lift(1)
    h2, w2 = half.shape[:2]
    at_quarter = np.zeros(h2 * w2 * C, bool)
    at_quarter[quarter.reshape(-1)] = True
    at_quarter = at_quarter.reshape(h2, w2, C)
    # the official "mask for s1" position of each channel eighth in the 4x4 tile
    s1_cells = ((0, 0), (1, 1), (0, 1), (1, 0), (0, 2), (1, 3), (0, 3), (1, 2))
    eighth = np.arange(C) // (C // 8)
    out = np.full((h2, w2, C), -1, np.int64)
    i, j = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    for c in range(C):
        in_half = np.zeros((H, W), bool)
        in_half.reshape(-1)[half[..., c].reshape(-1) // C] = True
        a, b = s1_cells[eighth[c]]
        src = np.flatnonzero(in_half & ~((i % 4 == a) & (j % 4 == b)))
        dst = np.flatnonzero(~at_quarter[..., c])
        out[..., c].reshape(-1)[dst] = src * C + c
    return out


class HPCM(LatentCodecModel):
    """HPCM (``size`` "base" or "large"): transforms above and one composition, hyperprior(y = schedule of 11
    steps with a generalized Gaussian leaf each, z = learned per-channel generalized Gaussian prior)."""

    N: int = 256
    M: int = 320
    size: str = "base"

    def setup(self):
        if self.size not in SIZES:
            raise ValueError(f"unknown HPCM size {self.size!r}; expected one of {tuple(SIZES)}")
        cfg = SIZES[self.size]
        M = self.M
        self.g_a = Analysis(self.N, M, cfg["deep"])
        self.g_s = Synthesis(self.N, cfg["deep"])
        self.h_a = HyperAnalysis(self.N)
        self.h_s = HyperSynthesis(self.N, M)
        self.z_prior = ZPrior(self.N)
        self.adaptor = {str(k): Conv(3 * M, 1, 1) for k in range(1, 11)}
        self.quant_step = [self.param(f"quant_step_{k}", nn.initializers.ones, (3 * M,)) for k in range(1, 11)]
        self.prior_coarse = SpatialPrior(M, *cfg["prior_coarse"])
        self.prior_full = SpatialPrior(M, *cfg["prior_full"])
        heads = math.gcd(HEADS, 2 * M)
        self.attention = {str(lv): CrossAttention(WINDOWS[lv], heads) for lv in range(3)}
        self.context_net = {str(lv): Conv(2 * M, 1, 1) for lv in range(1, 3)}
        y = Schedule(codecs=tuple(GGMConditional() for _ in LEVEL_OF_STEP), step_params=self.step_params)
        self.latent_codec = Hyperprior(y=y, z=LearnedPrior(GGMConditional(), self.z_prior), h_a=self.h_a,
                                       h_s=self.h_s)

    def step_params(self, k: int, layout: Layout, y_hat: Array, state: Array | None, side: Array
                    ) -> tuple[Array, Array]:
        """Step ``k``'s ``(scales, means)`` on its level's grid and the carried context (see the docstring)."""
        level = LEVEL_OF_STEP[k]
        scales, means = jnp.split(side, 2, axis=-1)
        if k == 0:
            hyper = jnp.concatenate([gather(scales, layout.levels[0]), gather(means, layout.levels[0])], -1)
            return hyper, hyper
        if LEVEL_OF_STEP[k - 1] != level:  # lift the context to the new level, add the hyper parameters there
            state = jnp.concatenate([lift(layout, level, s) for s in jnp.split(state, 2, axis=-1)], -1)
            state = self.context_net[str(level)](state + self._hyper(layout, level, scales, means))
        prior = self.prior_full if level == 2 else self.prior_coarse
        params = prior(self.adaptor[str(k)](jnp.concatenate([state, y_hat], -1)), self.quant_step[k - 1])
        return params, self.attention[str(level)](params, state)

    @staticmethod
    def _hyper(layout: Layout, level: int, scales: Array, means: Array) -> Array:
        """``concat(scales, means)`` at the level's positions not in the previous level, zero there."""
        H, W, C = scales.shape[1:]
        if level == 1:
            idx = half_level_hyper_index(H, W, C)
        else:
            idx = np.arange(H * W * C).reshape(H, W, C)
            coded = np.zeros(H * W * C, bool)
            coded[layout.levels[1].reshape(-1)] = True
            idx = np.where(coded.reshape(H, W, C), -1, idx)
        keep = jnp.asarray(idx >= 0)
        safe = np.maximum(idx, 0)
        return jnp.concatenate([jnp.where(keep, gather(a, safe), 0.0) for a in (scales, means)], -1)


register("hpcm-base", functools.partial(HPCM, size="base"), {q: {"N": 256, "M": 320} for q in range(1, 7)},
         stride=256)
register("hpcm-large", functools.partial(HPCM, size="large"), {q: {"N": 256, "M": 320} for q in range(1, 7)},
         stride=256)
