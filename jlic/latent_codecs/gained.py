"""Variable rate inside the latent codec: a per-level gain on y's Gaussian leaf and a per-level step on z.

Kamisli, Racapé, Choi 2024, arXiv 2402.18930 (CompressAI's ``bmshj2018-hyperprior-vbr``, ``mbt2018-mean-vbr``,
``mbt2018-vbr``). The root :class:`GainedHyperprior` takes the rate level as its ``side`` in ``forward`` and
from ``ctx.rate_level`` when coding (the ``.jlic`` header records it, :mod:`jlic.codec.rate_level`). From the
level it derives the gain ``g`` (the learned per-level gains, interpolated exponentially between levels,
so a fractional level is CompressAI's ``inputscale`` at that gain) and, with a z-step network, the z
quantization step ``max(net(1/g), 0.5)`` (:class:`StepEntropyBottleneck`, integer tables per step, built on
first use). ``h_a`` sees the unscaled y; ``h_s(z_hat)`` plus the gain (one channel) go down to the y codec:
a :class:`jlic.latent_codecs.scaled_gaussian.ScaledGaussian` leaf, or :class:`GainedRasterScan` over one
(``mbt2018-vbr``: its context output is shifted by a learned linear map of ``g`` before the entropy
parameters, and the context sees the decoded latents with their offsets, in evaluation as in coding).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jlic import quantize
from jlic.entropy import cdf as cdf_lib
from jlic.entropy import factorized
from jlic.entropy.coder import Coder
from jlic.latent_codecs.base import LatentCodec, LatentOut, split_key
from jlic.latent_codecs.hyperprior import Hyperprior
from jlic.latent_codecs.rasterscan import RasterScan, wavefronts
from jlic.latent_codecs.scaled_gaussian import dense_np
from jlic.ops.masked import make_mask, mask_taps, wavefront_slope

Array = jax.Array
MIN_Z_STEP = 0.5  # CompressAI's LowerBound on the z step


def gain_at(gains: Array, level: Array | float) -> Array:
    """Gain at ``level`` (scalar or array): ``gains[l]`` at an integer level, exponential interpolation
    ``g_l^(1-t) g_{l+1}^t`` between levels."""
    n = gains.shape[0]
    level = jnp.clip(jnp.asarray(level, jnp.float32), 0.0, n - 1)
    lo = jnp.clip(jnp.floor(level).astype(jnp.int32), 0, max(n - 2, 0))
    hi = jnp.minimum(lo + 1, n - 1)
    t = level - lo.astype(jnp.float32)
    g = jnp.abs(gains)
    mixed = jnp.exp((1.0 - t) * jnp.log(g[lo]) + t * jnp.log(g[hi]))
    return jnp.where(t == 0.0, g[lo], jnp.where(t == 1.0, g[hi], mixed))


def gain_np(gains: np.ndarray, level: float) -> np.float32:
    """:func:`gain_at` on the host for coding: float64 interpolation rounded once to float32 (the same value
    on every machine, whatever the jit setting)."""
    g = np.abs(np.asarray(gains, np.float64))
    level = float(np.clip(level, 0.0, len(g) - 1))
    lo = min(int(np.floor(level)), max(len(g) - 2, 0))
    t = level - lo
    if t == 0.0 or t == 1.0:
        return np.float32(g[lo + int(t)])
    return np.float32(np.exp((1.0 - t) * np.log(g[lo]) + t * np.log(g[lo + 1])))


def _nhwc(a: Array) -> Array:
    """A scalar or a per-example vector as an NHWC-broadcastable array."""
    return a if a.ndim == 0 else a.reshape(-1, 1, 1, 1)


def _channels(shape: tuple[int, ...]) -> np.ndarray:
    """Table index (the channel) of every element of an NHWC latent."""
    return np.broadcast_to(np.arange(shape[-1], dtype=np.int32), shape)


@dataclass(frozen=True, eq=False)
class StepEntropyBottleneck(LatentCodec):
    """Factorized density on z quantized with step ``side`` (a scalar or NHWC-broadcastable array):
    ``z_hat = round((z - median) / step) step + median``, bins of width ``step``; training adds
    ``U(-step/2, step/2)`` (CompressAI's ``EntropyBottleneckVbr``). Coding tables per step (bins of width
    ``step``), cached in the context's coders.

    ``unit_bins`` (default, CompressAI 1.2.8's forward): the likelihoods of ``forward`` are taken on bins of
    width 1 around ``z_hat``, as CompressAI's ``EntropyBottleneckVbr.forward`` does (it passes the step to
    ``_likelihood_variable`` in the ``stop_gradient`` position, so the bins stay 1 wide); its weights were
    trained with that rate term. The coded bits follow the step-wide tables either way, so with a step
    other than 1 the forward's z bits differ from the coded ones. ``unit_bins=False``: step-wide bins.
    """

    params: Any
    unit_bins: bool = True

    def tables(self) -> set[str]:
        return {"factorized"}

    def forward(self, y: Array, side: Array | None, train: bool, key: Array | None) -> LatentOut:
        med = factorized.medians(self.params)
        if train:
            z_hat = y + (quantize.noise(jnp.zeros_like(y), key)) * side
        else:
            z_hat = jnp.round((y - med) / side) * side + med
        bins = 1.0 if self.unit_bins else side
        return LatentOut(z_hat, {"y": factorized.likelihood(self.params, z_hat, step=bins)})

    def _coder(self, ctx: Any, step: float) -> Any:
        key = f"factorized@step={float(step).hex()}"
        if key not in ctx.coders:
            pmf, offset, length = factorized.pmf_table(self.params, step=float(step))
            ctx.coders[key] = Coder(cdf_lib.from_pmf(pmf, offset, length, ctx.tables.factorized.precision))
        return ctx.coders[key]

    def _check(self, channels: int) -> np.ndarray:
        med = np.asarray(factorized.medians(self.params), np.float32)
        if channels != med.shape[0]:
            raise ValueError(f"z has {channels} channels, its density {med.shape[0]}")
        return med

    def encode(self, ctx, writer, y, side):
        med, step = self._check(y.shape[-1]), np.float32(side)
        sym = np.rint((np.asarray(y, np.float32) - med) / step).astype(np.int32)
        writer.encode(self._coder(ctx, step), sym, _channels(y.shape))
        return sym.astype(np.float32) * step + med, {"y": sym}

    def decode(self, ctx, reader, shape, side):
        med, step = self._check(shape[-1]), np.float32(side)
        sym = reader.decode(self._coder(ctx, step), _channels(shape))
        return sym.astype(np.float32) * step + med, {"y": sym}


@dataclass(frozen=True, eq=False)
class GainedHyperprior(Hyperprior):
    """:class:`Hyperprior` at a rate level (see the module docstring).

    Args (besides the hyperprior's):
      gains: the learned gains ``(levels,)``, positive.
      z_step: network ``1/g (..., 1) -> (..., 1)`` giving the z step (then ``z`` is a
        :class:`StepEntropyBottleneck`), or None (z coded with step 1 at every level).
    """

    gains: Any = None
    z_step: Callable[[Array], Array] | None = None

    def level_params(self, level: Array) -> tuple[Array, Array]:
        """(gain, z step) at ``level`` (same shape as ``level``)."""
        g = jax.lax.stop_gradient(gain_at(self.gains, level))
        if self.z_step is None:
            return g, jnp.ones_like(g)
        return g, jnp.maximum(self.z_step((1.0 / g)[..., None])[..., 0], MIN_Z_STEP)

    def forward(self, y, side, train, key):
        """``side``: the rate level, a scalar or one per example."""
        kz, ky = split_key(key, 2)
        g, step = self.level_params(jnp.asarray(side, jnp.float32))
        z_out = self.z.forward(self.h_a(y), _nhwc(step), train, kz)
        hyper = self.h_s(z_out.y_hat)
        gain = jnp.broadcast_to(_nhwc(g), (*hyper.shape[:-1], 1))
        y_out = self.y.forward(y, self.y.side_of(hyper, gain), train, ky)
        return LatentOut(y_out.y_hat, self._merge(y_out.likelihoods, z_out.likelihoods))

    def _level(self, ctx: Any) -> tuple[np.float32, np.float32]:
        """(gain, z step) of the context's level, computed on the host (:func:`gain_np`, and the z-step MLP
        with :func:`jlic.latent_codecs.scaled_gaussian.dense_np`)."""
        level = getattr(ctx, "rate_level", None)
        if level is None:
            raise ValueError("a gained hyperprior codes at a rate level: the coding context has none")
        g = gain_np(np.asarray(self.gains), level)
        if self.z_step is None:
            return g, np.float32(1)
        step = dense_np(self.z_step.variables["params"], np.full((1,), np.float32(1) / g), last="softplus")
        return g, np.maximum(np.float32(step[0]), np.float32(MIN_Z_STEP))

    def _side(self, ctx: Any, z_hat: np.ndarray, g: np.float32) -> np.ndarray:
        return self.y.side_np(np.asarray(ctx.call("hyper_synthesis", z_hat), np.float32), g)

    def encode(self, ctx, writer, y, side):
        g, step = self._level(ctx)
        z = np.asarray(ctx.call("hyper_analysis", y))
        z_hat, z_sym = self.z.encode(ctx.child("z"), writer, z, step)
        y_hat, y_sym = self.y.encode(ctx.child("y"), writer, y, self._side(ctx, z_hat, g))
        return y_hat, self._merge(y_sym, z_sym)

    def decode(self, ctx, reader, shape, side):
        g, step = self._level(ctx)
        z_shape = ctx.shape("hyper_analysis", jax.ShapeDtypeStruct(shape, jnp.float32))
        z_hat, z_sym = self.z.decode(ctx.child("z"), reader, z_shape, step)
        y_hat, y_sym = self.y.decode(ctx.child("y"), reader, shape, self._side(ctx, z_hat, g))
        return y_hat, self._merge(y_sym, z_sym)


def _unbound(module: Any) -> Callable[..., Array]:
    """A bound flax module as a pure function of its inputs (callable inside ``jax.lax.scan``)."""
    variables = module.variables
    free = module.clone(parent=None)
    return lambda *args: free.apply(variables, *args)


@dataclass(frozen=True, eq=False)
class GainedRasterScan(RasterScan):
    """:class:`RasterScan` whose side tensor ends with the gain channel: the context output plus
    ``scale_to_context(g)`` enters the entropy parameters, and the gain is passed on to the leaf.

    Evaluation runs the recursion the coder runs (CompressAI's ``ste_recursive``): wavefront by wavefront
    (one ``lax.scan``), the context of each position sees its decoded neighbours with their offsets. Training
    (not CompressAI's sequential loop) is parallel: the context sees ``y`` plus one step of uniform noise.
    """

    scale_to_context: Callable[[Array], Array] | None = None

    def side_of(self, hyper: Array, gain: Array) -> Array:
        """Side tensor ``concat(h_s output, scale_to_context(g), g)``."""
        return jnp.concatenate([hyper, self.scale_to_context(gain), gain], -1)

    def side_np(self, hyper: np.ndarray, gain: np.float32) -> np.ndarray:
        """:meth:`side_of` on the host: the shift ``g w + b`` in numpy (one product and one sum per entry)."""
        shift = dense_np({"layer_0": self.scale_to_context.variables["params"]}, np.full((1,), gain))
        rows = hyper.shape[:-1]
        return np.concatenate([hyper, np.broadcast_to(shift, (*rows, shift.shape[-1])),
                               np.full((*rows, 1), gain, np.float32)], -1)

    def _split_side(self, side: Array) -> tuple[Array, Array, Array]:
        width = (side.shape[-1] - 1) // 2  # h_s output 2M, shift 2M, gain 1
        return side[..., :width], side[..., width:-1], side[..., -1:]

    def _params(self, side: Array, ctx: Array) -> Array:
        hyper, shift, gain = self._split_side(side)
        out = self.entropy_parameters(jnp.concatenate([hyper, ctx + shift], -1))
        return jnp.concatenate([out, gain], -1)

    def forward(self, y, side, train, key):
        if train:
            kc, ky = split_key(key, 2)
            gain = jax.lax.stop_gradient(side[..., -1:])
            y_ctx = y + (quantize.noise(jnp.zeros_like(y), kc)) / gain
            return self.y.forward(y, self.full_params(y_ctx, side), True, ky)
        return self._recursive(y, side)

    def _recursive(self, y: Array, side: Array) -> LatentOut:
        b, height, width, m = y.shape
        cp = self.context_prediction
        k = cp.kernel_size
        p = k // 2
        ti, tj = mask_taps(k, cp.mask_type)
        fronts = wavefronts(height, width, wavefront_slope(make_mask(k, cp.mask_type)))
        size = max(len(f[0]) for f in fronts)
        pad = [np.concatenate([np.arange(len(h)), np.zeros(size - len(h), np.int64)]) for h, _ in fronts]
        rows = jnp.asarray(np.stack([h[i] for (h, _), i in zip(fronts, pad, strict=True)]), jnp.int32)
        cols = jnp.asarray(np.stack([w[i] for (_, w), i in zip(fronts, pad, strict=True)]), jnp.int32)
        kernel, bias = cp.kernel[ti, tj], cp.bias
        entropy_parameters = _unbound(self.entropy_parameters)
        hyper_all, shift, _ = self._split_side(side)
        leaf = dataclasses.replace(self.y, offset_net=_unbound(self.y.offset_net))

        def body(carry, hw):
            y_pad, lik = carry
            hs, ws = hw
            taps = y_pad[:, hs[:, None] + ti, ws[:, None] + tj]  # (B, P, T, M)
            ctx = jnp.einsum("bptc,tco->bpo", taps, kernel) + bias + shift[:, hs, ws]
            out = entropy_parameters(jnp.concatenate([hyper_all[:, hs, ws], ctx], -1)[:, None])[:, 0]
            params = jnp.concatenate([out, side[:, hs, ws, -1:]], -1)
            res = leaf.forward(y[:, hs, ws], params, False, None)
            y_pad = y_pad.at[:, hs + p, ws + p].set(res.y_hat)
            return (y_pad, lik.at[:, hs, ws].set(res.likelihoods["y"])), None

        init = (jnp.zeros((b, height + 2 * p, width + 2 * p, m), y.dtype), jnp.zeros(y.shape, y.dtype))
        (y_pad, lik), _ = jax.lax.scan(body, init, (rows, cols))
        return LatentOut(y_pad[:, p:p + height, p:p + width], {"y": lik})
