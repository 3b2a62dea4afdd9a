"""Convolutions with CompressAI/PyTorch semantics in NHWC layout, with fast exact gradients on XLA:CPU.

`Conv` is `nn.Conv2d(k, s, padding=k//2)`; `ConvTranspose` is `nn.ConvTranspose2d(k, s, padding=k//2,
output_padding=s-1)`, whose output is exactly `s` times its input (odd `k`). Kernels are HWIO: a PyTorch conv
weight `(out, in, kh, kw)` maps to `w.transpose(2, 3, 1, 0)`, a transposed-conv weight `(in, out, kh, kw)`
maps to `w.transpose(2, 3, 0, 1)`.

Speed. XLA:CPU lowers a convolution with an input (lhs) dilation, i.e. a transposed convolution, and above all
the kernel gradient of one, far slower than the equivalent strided convolutions (13 s vs 0.5 s for the kernel
gradient of a 5x5 stride-2 128->128 layer at batch 8, 64->128 px). Here every op avoids lhs dilation:

- the transposed convolution is computed in polyphase form (Shi et al. 2016, arXiv 1609.05158; the same
  identity as the sub-pixel convolution): one stride-1 convolution of the undilated input whose `s*s*out`
  output channels are the output phases, then a depth-to-space interleave;
- its input gradient is a strided convolution of the output cotangent and its kernel gradient is the kernel
  gradient of that strided convolution (a stride-`s` correlation of the cotangent with the input), which
  equals the spatially flipped kernel gradient of the `lax` form;
- the strided convolution's input gradient is the polyphase transposed convolution of the cotangent.

- kernel gradients (of both ops, every stride) are `k*k` matrix products over batch and space
  (`DEFAULT_KERNEL_GRAD_RULE` says which measurements kept this for small convolutions too);
- under `vmap` over stacked kernels (a λ sweep) no convolution becomes a grouped convolution (slow on
  XLA:CPU): see `_conv_fn`.

All of these are exact rewrites (same sums, float32 rounding only), as `jax.custom_vjp` rules, so they work
under `jit`, `vmap` and `grad` (reverse mode only: `custom_vjp` has no `jax.jvp`).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Iterator

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jlic.ops.initializers import fan_in_uniform, uniform

Array = jax.Array
_DN = ("NHWC", "HWIO", "NHWC")


# ----------------------------------------------------------------------------------------------- reference ops


def conv2d_reference(x: Array, kernel: Array, stride: int = 1) -> Array:
    """Plain `lax` strided convolution with padding `k // 2` (the reference `conv2d` must equal)."""
    k = kernel.shape[0]
    p = k // 2
    return lax.conv_general_dilated(x, kernel, (stride, stride), ((p, p), (p, p)), dimension_numbers=_DN)


def conv_transpose_padding(k: int, stride: int) -> tuple[int, int]:
    """Low/high padding of the dilated input so the output is `stride` times the input."""
    p = k // 2
    return k - 1 - p, k - 1 - p + stride - 1


def conv_transpose2d_reference(x: Array, kernel: Array, stride: int = 2) -> Array:
    """Plain `lax` input-dilated form of `conv_transpose2d` (slow on XLA:CPU; the reference it must equal)."""
    k = kernel.shape[0]
    pad = conv_transpose_padding(k, stride)
    return lax.conv_general_dilated(
        x, jnp.flip(kernel, (0, 1)), (1, 1), (pad, pad), lhs_dilation=(stride, stride),
        dimension_numbers=_DN)


# -------------------------------------------------------------------------------- conv with a vmap rule


def _lax_conv(x: Array, w: Array, strides: tuple[int, int], pads: tuple[tuple[int, int], ...]) -> Array:
    return lax.conv_general_dilated(x, w, strides, pads, dimension_numbers=_DN)


@functools.cache
def _conv_fn(strides: tuple[int, int], pads: tuple[tuple[int, int], ...]):
    """`lax` convolution whose batching rule never makes a grouped convolution.

    Vmapping a convolution over stacked kernels (the λ axis of a sweep) lowers by default to a grouped
    convolution (`feature_group_count = n`), which XLA:CPU runs ~3x slower per model than `n` separate
    ones. Here a batched input is folded into the batch axis, a batched kernel alone into the output
    channels, and both batched become `n` separate convolutions.
    """

    @jax.custom_batching.custom_vmap
    def conv(x: Array, w: Array) -> Array:
        return _lax_conv(x, w, strides, pads)

    @conv.def_vmap
    def _rule(n: int, in_batched: list[bool], x: Array, w: Array) -> tuple[Array, bool]:
        xb, wb = in_batched
        if xb and not wb:
            y = conv(x.reshape(-1, *x.shape[2:]), w)
            return y.reshape(n, -1, *y.shape[1:]), True
        if wb and not xb:
            k_h, k_w, ci, co = w.shape[1:]
            y = conv(x, w.transpose(1, 2, 3, 0, 4).reshape(k_h, k_w, ci, n * co))
            return y.reshape(*y.shape[:3], n, co).transpose(3, 0, 1, 2, 4), True
        return jnp.stack([conv(x[i], w[i]) for i in range(n)]), True

    return conv


def _conv(x: Array, w: Array, strides: tuple[int, int], pads: tuple[tuple[int, int], ...]) -> Array:
    """`lax.conv_general_dilated` (NHWC, HWIO) with the vmap rule of `_conv_fn`."""
    pads = tuple((int(lo), int(hi)) for lo, hi in pads)
    return _conv_fn(tuple(strides), pads)(x, w)


# --------------------------------------------------------------------------------------------- polyphase form


@functools.cache
def _phase_taps(k: int, s: int) -> tuple[tuple[tuple[int, tuple[int, ...]], ...], ...]:
    """Static tap map of the polyphase transposed convolution along one axis (odd `k`, padding `k // 2`).

    Output index `o = s*q + r` receives `x[q + d] * w[t]` for every tap `t` with `r + p - t = s*d`. For each
    phase `r` returns `(d_min, taps)`: the phase is a stride-1 correlation of `x` (offsets `d_min, d_min+1,
    ...`) with kernel rows `taps` (empty when no tap reaches the phase, e.g. `s > k`).
    """
    p = k // 2
    out = []
    for r in range(s):
        pairs = sorted(((r + p - t) // s, t) for t in range(k) if (r + p - t) % s == 0)
        out.append((pairs[0][0] if pairs else 0, tuple(t for _, t in pairs)))
    return tuple(out)


# Below this many output channels a transposed convolution is one matmul plus an overlap-add: XLA:CPU runs
# the polyphase convolutions with few output channels badly (the last synthesis layer, 128 -> 3 channels at
# 8x128² -> 256²: 644 ms polyphase, 112 ms matmul + overlap-add, 103 ms lax; 2-core CPU under load).
_FEW_CHANNELS = 16


def _conv_transpose_overlap_add(x: Array, kernel: Array, s: int) -> Array:
    """`conv_transpose2d` as `y = x @ W` (every input pixel to its `k*k*out` tap values), then each tap
    plane dilated by `s` and shifted into place with one `lax.pad` (negative padding crops) and summed:
    `out[s*i + t - p, s*j + u - p] += y[i, j, t, u]`."""
    n, h, w, ci = x.shape
    k, co = kernel.shape[0], kernel.shape[-1]
    p = k // 2
    y = (x.reshape(-1, ci) @ kernel.transpose(2, 0, 1, 3).reshape(ci, k * k * co)).reshape(n, h, w, k, k, co)
    zero = jnp.zeros((), x.dtype)
    out = None
    for t in range(k):
        for u in range(k):
            cfg = ((0, 0, 0), (t - p, s - 1 - t + p, s - 1), (u - p, s - 1 - u + p, s - 1), (0, 0, 0))
            z = lax.pad(y[:, :, :, t, u, :], zero, cfg)
            out = z if out is None else out + z
    return out


def _conv_transpose_polyphase(x: Array, kernel: Array, s: int) -> Array:
    """`conv_transpose2d` (odd `k`) as `s*s` stride-1 convs of the undilated input, one per output phase,
    interleaved (depth-to-space); no lhs dilation and no multiplications by inserted zeros. With fewer
    than `_FEW_CHANNELS` outputs, `_conv_transpose_overlap_add` instead."""
    b, h, w, _ = x.shape
    k, co = kernel.shape[0], kernel.shape[-1]
    if co < _FEW_CHANNELS:
        return _conv_transpose_overlap_add(x, kernel, s)
    phases = _phase_taps(k, s)
    rows = []
    for d_h, taps_h in phases:
        cols = []
        for d_w, taps_w in phases:
            if not taps_h or not taps_w:
                cols.append(jnp.zeros((b, h, w, co), x.dtype))
                continue
            sub = kernel[np.asarray(taps_h)][:, np.asarray(taps_w)]
            pads = ((-d_h, d_h + len(taps_h) - 1), (-d_w, d_w + len(taps_w) - 1))
            cols.append(_conv(x, sub, (1, 1), pads))
        rows.append(jnp.stack(cols, axis=3))
    y = jnp.stack(rows, axis=3)  # (b, h, w, rh, rw, co)
    return y.transpose(0, 1, 3, 2, 4, 5).reshape(b, h * s, w * s, co)


def _strided_conv(g: Array, kernel_oi: Array, s: int, out_hw: tuple[int, int]) -> Array:
    """Stride-`s` correlation `z[i] = sum_t g[s*i + t - p] w[t]`, exactly `out_hw` outputs, zero padding."""
    k = kernel_oi.shape[0]
    p = k // 2
    pads = tuple((p, s * (n - 1) + k - 1 - p - (m - 1)) for n, m in zip(out_hw, g.shape[1:3], strict=True))
    return _conv(g, kernel_oi, (s, s), pads)


def _strided_kernel_grad(a: Array, b: Array, k: int, s: int) -> Array:
    """`dW[t, u, c, d] = sum_{n,i,j} a[n, s*i + t - p, s*j + u - p, c] * b[n, i, j, d]` (zero outside `a`).

    The kernel gradient of a stride-`s`, padding-`k//2` convolution of `a` whose output cotangent is `b`,
    as two-dimensional matrix products over the `n*i*j` axis (XLA:CPU's own lowering is several times
    slower, and it runs a dot that contracts the leading axes of 4-D arrays ~2.6x slower than the same dot
    on `(n*i*j, c)` matrices).

    With tap `t = s*t' + r`, `a` splits into `s*s` phase images `A_rq[n, y, x] = a[n, s*y + r - p, s*x + q - p]`
    and `dW[s*t' + r, s*u' + q] = sum_{n,y,x} A_rq[n, y, x] * b[n, y - t', x - u']`: each tap is one dot of a
    phase image with a shifted copy of `b`. That copies `a` once and `b` `(e+1)**2` times (`e = (k-1)//s`)
    instead of `a` `k*k` times, all alive at once: the bmshj2018-hyperprior (q3) train step at 8x256² needs
    1222 instead of 1553 MiB of XLA temp memory, at the same speed (interleaved A/B, 2-core CPU).
    """
    n, hb, wb, d = b.shape
    c = a.shape[-1]
    p = k // 2
    at_b = lambda a2, b2: lax.dot_general(a2, b2, (((0,), (0,)), ((), ())), preferred_element_type=jnp.float32)
    if c < _FEW_CHANNELS:  # im2col: one dot reads `b` once instead of k*k times (327 -> 165 ms for the
        # first analysis layer, 3 -> 128 channels at 8x256², 2-core CPU under load)
        pad_hi = [s * (nb - 1) + k - 1 - p - (na - 1) for nb, na in ((hb, a.shape[1]), (wb, a.shape[2]))]
        ap = lax.pad(a, jnp.zeros((), a.dtype), ((0, 0, 0), (p, pad_hi[0], 0), (p, pad_hi[1], 0), (0, 0, 0)))
        wins = [lax.slice(ap, (0, t, u, 0), (n, t + s * (hb - 1) + 1, u + s * (wb - 1) + 1, c), (1, s, s, 1))
                for t in range(k) for u in range(k)]
        cols = jnp.concatenate(wins, axis=-1).reshape(-1, k * k * c)
        return at_b(cols, b.reshape(-1, d)).reshape(k, k, c, d)
    e = (k - 1) // s
    hh, ww = hb + e, wb + e
    # Pad (or crop: nothing past s*hh - p is ever read) `a` to s*hh x s*ww so every phase is hh x ww.
    ap = lax.pad(a, jnp.zeros((), a.dtype),
                 ((0, 0, 0), (p, s * hh - a.shape[1] - p, 0), (p, s * ww - a.shape[2] - p, 0), (0, 0, 0)))
    bp = jnp.pad(b, ((0, 0), (e, e), (e, e), (0, 0)))
    shifted = {(t, u): lax.slice(bp, (0, e - t, e - u, 0), (n, e - t + hh, e - u + ww, d)).reshape(-1, d)
               for t in range(e + 1) for u in range(e + 1)}
    dw = [[None] * k for _ in range(k)]
    for r in range(s):
        for q in range(s):
            phase = lax.slice(ap, (0, r, q, 0), ap.shape, (1, s, s, 1)).reshape(-1, c)
            for t in range(e + 1):
                for u in range(e + 1):
                    if s * t + r < k and s * u + q < k:
                        dw[s * t + r][s * u + q] = at_b(phase, shifted[t, u])
    return jnp.stack([jnp.stack(row) for row in dw])


# ------------------------------------------------------------------------------------- ops with custom VJPs

# Which kernel gradients use `_strided_kernel_grad` ("taps", the default: every one) and which lax's own VJP
# of the strided convolution ("lax"); "auto": lax's for the small ones (`_taps_kernel_grad`). Chosen for a
# block of code with `kernel_grad_rule(...)` (so `benchmarks/compile.py` can compare them); no module
# attribute to set. "auto" is not the default: alone, a small
# convolution's gradient (input and kernel) compiles 2-4x faster with lax's kernel gradient and runs about
# as fast (`python -m benchmarks.compile --layers 4,1,1`: batch 4, 32 channels, 16-32 px), and larger ones
# run faster as dots (`--layers 8,4,2`, 128 channels: 3x3 at 64² 0.7-1.1 vs 1.7-2.0 s, 5x5 s2 3->128 at
# 128² 37-39 vs 78-83 ms), but in whole train steps "auto" removed only 3% (mbt2018-mean N=32) and 0.4%
# (Entroformer-CPU) of the HLO instructions and no compile time measurable on the loaded 2-core box
# (`--variants base,autograd`), while it would change the float rounding of every small model's training.
DEFAULT_KERNEL_GRAD_RULE = "taps"
KERNEL_GRAD_RULES = ("taps", "lax", "auto")
_kernel_grad_rule: contextvars.ContextVar[str] = contextvars.ContextVar("jlic_kernel_grad_rule",
                                                                         default=DEFAULT_KERNEL_GRAD_RULE)


@contextlib.contextmanager
def kernel_grad_rule(rule: str) -> Iterator[None]:
    """Trace convolution kernel gradients with ``rule`` ("taps", "lax" or "auto") inside the block.

    Read when a program is traced: a function jitted and traced before keeps the rule it was traced with.
    """
    if rule not in KERNEL_GRAD_RULES:
        raise ValueError(f"kernel gradient rule must be one of {KERNEL_GRAD_RULES}, not {rule!r}")
    token = _kernel_grad_rule.set(rule)
    try:
        yield
    finally:
        _kernel_grad_rule.reset(token)


# "auto": lax's kernel gradient below this many multiply-adds, for non-transposed convolutions with k > 1
# (transposed ones: run times by lax varied between runs, 5.1 vs 2.9 ms then 1.7 vs 3.0 ms for 5x5 at 32
# channels, 16² -> 32²; a 1x1 one is one dot either way).
_LAX_GRAD_MACS = 10**8


def _taps_kernel_grad(macs: int, k: int, transposed: bool) -> bool:
    """Whether the kernel gradient of a `k`x`k` (transposed) convolution of `macs` multiply-adds uses
    `_strided_kernel_grad`."""
    rule = _kernel_grad_rule.get()
    if rule == "auto":
        return transposed or k == 1 or macs >= _LAX_GRAD_MACS
    return rule == "taps"


def _lax_kernel_grad(a: Array, b: Array, k: int, s: int) -> Array:
    """`_strided_kernel_grad(a, b, k, s)` by lax's VJP of the stride-`s` convolution of `a` (the same sums)."""
    p = k // 2
    sides = zip(b.shape[1:3], a.shape[1:3], strict=True)
    pads = tuple((p, s * (n - 1) + k - 1 - p - (m - 1)) for n, m in sides)
    zeros = jnp.zeros((k, k, a.shape[-1], b.shape[-1]), a.dtype)
    _, vjp = jax.vjp(lambda w: _lax_conv(a, w, (s, s), pads), zeros)
    return vjp(b.astype(a.dtype))[0]


def _kernel_grad(a: Array, b: Array, k: int, s: int, transposed: bool) -> Array:
    """`_strided_kernel_grad(a, b, k, s)`, as dots or by lax (`_taps_kernel_grad`)."""
    if _taps_kernel_grad(int(np.prod(b.shape)) * k * k * a.shape[-1], k, transposed):
        return _strided_kernel_grad(a, b, k, s)
    return _lax_kernel_grad(a, b, k, s)



@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _conv_transpose2d(x: Array, kernel: Array, stride: int) -> Array:
    return _conv_transpose_polyphase(x, kernel, stride)


def _conv_transpose2d_fwd(x: Array, kernel: Array, stride: int) -> tuple[Array, tuple[Array, Array]]:
    return _conv_transpose_polyphase(x, kernel, stride), (x, kernel)


def _conv_transpose2d_bwd(stride: int, res: tuple[Array, Array], g: Array) -> tuple[Array, Array]:
    x, kernel = res
    k = kernel.shape[0]
    dx = _strided_conv(g, kernel.transpose(0, 1, 3, 2), stride, x.shape[1:3])
    dk = _kernel_grad(g, x, k, stride, True).transpose(0, 1, 3, 2)
    return dx.astype(x.dtype), dk.astype(kernel.dtype)


_conv_transpose2d.defvjp(_conv_transpose2d_fwd, _conv_transpose2d_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _conv2d(x: Array, kernel: Array, stride: int) -> Array:
    p = kernel.shape[0] // 2
    return _conv(x, kernel, (stride, stride), ((p, p), (p, p)))


def _conv2d_fwd(x: Array, kernel: Array, stride: int) -> tuple[Array, tuple[Array, Array]]:
    return _conv2d(x, kernel, stride), (x, kernel)


def _conv2d_bwd(stride: int, res: tuple[Array, Array], g: Array) -> tuple[Array, Array]:
    x, kernel = res
    dk = _kernel_grad(x, g, kernel.shape[0], stride, False)
    h, w = x.shape[1:3]
    dx = _conv_transpose_polyphase(g, kernel.transpose(0, 1, 3, 2), stride)[:, :h, :w, :]
    return dx.astype(x.dtype), dk.astype(kernel.dtype)


_conv2d.defvjp(_conv2d_fwd, _conv2d_bwd)


def conv2d(x: Array, kernel: Array, stride: int = 1) -> Array:
    """Strided 2-D convolution with symmetric padding `k // 2` (PyTorch `Conv2d(padding=k//2)`).

    For odd `k`: input gradient in polyphase form (a stride-1 conv when `stride == 1`), kernel gradient as
    `k*k` matrix products, and a vmap rule without grouped convolutions; equal to `conv2d_reference`.
    """
    k = kernel.shape[0]
    if k % 2 == 0:
        return conv2d_reference(x, kernel, stride)
    return _conv2d(x, kernel, stride)


def conv_transpose2d(x: Array, kernel: Array, stride: int = 2) -> Array:
    """PyTorch `ConvTranspose2d(k, s, padding=k//2, output_padding=s-1)` with an HWIO kernel (in, out).

    Polyphase forward, strided-convolution gradients (see the module docstring); equal to
    `conv_transpose2d_reference` to float rounding.
    """
    if kernel.shape[0] % 2 == 0:
        return conv_transpose2d_reference(x, kernel, stride)
    return _conv_transpose2d(x, kernel, stride)


# ------------------------------------------------------------------------------------------------- modules


class Conv(nn.Module):
    """2-D convolution, `k // 2` padding, HWIO kernel, with bias."""

    features: int
    kernel_size: int = 5
    stride: int = 2
    use_bias: bool = True

    @nn.compact
    def __call__(self, x: Array) -> Array:
        k = self.kernel_size
        shape = (k, k, x.shape[-1], self.features)
        kernel = self.param("kernel", fan_in_uniform((0, 1, 2)), shape, jnp.float32)
        y = conv2d(x, kernel.astype(x.dtype), self.stride)
        if self.use_bias:
            bound = 1.0 / jnp.sqrt(k * k * x.shape[-1])
            bias = self.param("bias", lambda key, s: uniform(key, s, jnp.float32, -bound, bound),
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
        # PyTorch's fan-in of a transposed conv weight (in, out, kh, kw) is out * kh * kw.
        shape = (k, k, x.shape[-1], self.features)
        kernel = self.param("kernel", fan_in_uniform((0, 1, 3)), shape, jnp.float32)
        y = conv_transpose2d(x, kernel.astype(x.dtype), self.stride)
        if self.use_bias:
            bound = 1.0 / jnp.sqrt(k * k * self.features)
            bias = self.param("bias", lambda key, s: uniform(key, s, jnp.float32, -bound, bound),
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
