"""Fast coding of latents with a causal (raster-order) context model, by wavefronts.

Minnen, Ballé, Toderici 2018, "Joint autoregressive and hierarchical priors for learned image compression",
arXiv 1809.02736. A 5x5 type-A masked context makes latent (h, w) depend on (h-1, w+2): decoding pixel by
pixel (CompressAI's loop) needs H*W sequential network calls. With `t = a*h + w` and `a` from
:func:`jlic.ops.masked.wavefront_slope` (3 for 5x5), every position depends only on positions with a smaller
`t`, so the positions sharing a `t` (a "wavefront") are decoded together: `a*(H-1) + W` steps, each one
jitted call of the masked conv (on the gathered 12 causal taps) + entropy parameters at only those positions,
and one vectorized entropy-decoder call. The encoder runs the *same* step function on the same values (it has
to: means depend on already quantized neighbours), so scale indexes and means agree bit for bit, and codes all
wavefronts into one stream (:mod:`jlic.entropy.context.stream`).

A model plugs in by providing `hyper_params(params, z_hat) -> (1, H, W, C)` (hyperprior features at the y
grid) and `context_params(params, taps (P, T, M), hyper (P, C)) -> (scales, means)` of shape (P, M), where
`taps` are the values at the kept taps of the type-A mask (`jlic.ops.masked.mask_taps`).
With `mixture=True` (Cheng et al. 2020, arXiv 2001.01568) the model provides `mixture_taps(params, taps,
hyper) -> (means, scales, logits)` (P, M, K) instead, symbols are `round(y)` and every symbol gets its own
integer table (`jlic.entropy.context.mixture_coding`).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jlic.coding.bitstream import BitstreamError
from jlic.entropy import gaussian, mixture
from jlic.entropy.context.mixture_coding import MixtureStep
from jlic.entropy.context.stream import StepDecoder, encode_steps
from jlic.ops.masked import mask_taps


def wavefronts(height: int, width: int, slope: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Positions (rows, cols) of each wavefront `t = slope*h + w`, for t = 0, 1, ... in order."""
    h, w = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    t = (slope * h + w).ravel()
    order = np.argsort(t, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(t))])
    hs, ws = h.ravel()[order], w.ravel()[order]
    return [(hs[a:b], ws[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _quantize(x: np.ndarray, offset: np.ndarray | float) -> np.ndarray:
    return np.rint(np.asarray(x, np.float32) - np.asarray(offset, np.float32)).astype(np.int32)


class AutoregressiveLatents:
    """Latent codec (see `jlic.coding.codec.LatentCodec`): streams `[z, y]`, y decoded by wavefronts.

    Args:
      model: the registered model (its module provides `hyper_params` and `context_params`).
      kernel_size: context size k; slope: wavefront slope (3 for the 5x5 type-A mask).
      batch: positions per network call (a wavefront is padded/split to this size; `None`: the longest
        wavefront). Any value decodes streams written with any other, up to float reproducibility of the
        network on different shapes, which the tests check.
      jit: compile the per-step function (`False` runs it op by op).
    """

    def __init__(self, model: Any, kernel_size: int = 5, slope: int = 3, batch: int | None = None,
                 jit: bool = True, mixture: bool = False) -> None:
        self.model = model
        self.mixture = mixture
        self.kernel_size = kernel_size
        self.slope = slope
        self.batch = batch
        wrap = jax.jit if jit else (lambda f: f)
        self._hyper = wrap(model.hyper_params)
        self._step = wrap(self._step_fn)

    def _step_fn(self, params: Any, taps: jax.Array, hyper: jax.Array, scale_table: jax.Array
                 ) -> tuple[jax.Array, ...]:
        if self.mixture:
            means, scales, logits = self.model.mixture_taps(params, taps, hyper)
            return mixture.quantize_params(means, scales, logits, scale_table)
        scales, means = self.model.context_params(params, taps, hyper)
        return gaussian.scale_index(scales, scale_table), means

    def _spec(self, out: tuple[jax.Array, ...], n: int, table: np.ndarray) -> tuple[Any, np.ndarray | float]:
        """What the coder needs for one step's symbols, and the quantization offset (means or 0)."""
        if self.mixture:
            mq, sidx, counts = (np.asarray(a)[:n].reshape(-1, a.shape[-1]) for a in out)
            return MixtureStep(mq, sidx, counts, table), 0.0
        return np.asarray(out[0])[:n], np.asarray(out[1], np.float32)[:n]

    def _run(self, codec: Any, hyper: np.ndarray, y: np.ndarray | None, decoder: StepDecoder | None
             ) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray]:
        """Walk the wavefronts; quantize `y` (encoder) or decode (decoder): steps, y_hat and symbols."""
        _, height, width, _ = hyper.shape
        m = self.model.module.M
        k, p = self.kernel_size, self.kernel_size // 2
        y_pad = np.zeros((height + 2 * p, width + 2 * p, m), np.float32)
        y_sym = np.zeros((1, height, width, m), np.int32)
        ti, tj = mask_taps(k, "A")
        fronts = wavefronts(height, width, self.slope)
        size = self.batch or max(len(f[0]) for f in fronts)
        table = jnp.asarray(codec.tables.scale_table, jnp.float32)
        steps = []
        for hs_all, ws_all in fronts:
            for start in range(0, len(hs_all), size):
                hs, ws = hs_all[start:start + size], ws_all[start:start + size]
                n = len(hs)
                take = np.concatenate([np.arange(n), np.zeros(size - n, np.int64)])
                hp, wp = hs[take], ws[take]
                taps = y_pad[hp[:, None] + ti, wp[:, None] + tj]  # (P, T, M)
                out = self._step(codec.params, taps, hyper[0, hp, wp], table)
                idx, means = self._spec(out, n, codec.tables.scale_table)
                if decoder is None:
                    sym = _quantize(y[0, hs, ws], means)
                else:
                    sym = decoder.decode(idx).reshape(n, m)
                y_pad[hs + p, ws + p] = sym.astype(np.float32) + means
                y_sym[0, hs, ws] = sym
                steps.append((sym, idx))
        return steps, y_pad[None, p:p + height, p:p + width], y_sym

    def _hyper_at(self, codec: Any, z_sym: np.ndarray) -> np.ndarray:
        z_hat = z_sym.astype(np.float32) + codec.tables.medians
        return np.asarray(self._hyper(codec.params, z_hat), np.float32)

    def encode(self, codec: Any, x: np.ndarray) -> tuple[list[bytes], dict[str, np.ndarray]]:
        y = np.asarray(codec.fn("analysis")(codec.params, x))
        z = np.asarray(codec.fn("hyper_analysis")(codec.params, y))
        z_sym = _quantize(z, codec.tables.medians)
        z_idx = np.broadcast_to(np.arange(z.shape[-1], dtype=np.int32), z.shape)
        z_stream = codec.coders["factorized"].encode(z_sym, z_idx)
        steps, y_hat, y_sym = self._run(codec, self._hyper_at(codec, z_sym), y, None)
        y_stream = encode_steps(codec.coders["gaussian"], steps)
        return [z_stream, y_stream], {"z": z_sym, "y": y_sym, "y_hat": y_hat}

    def decode(self, codec: Any, streams: list[bytes], x_shape: tuple[int, ...]) -> dict[str, np.ndarray]:
        if len(streams) != 2:
            raise BitstreamError(f"expected 2 streams for {codec.model.name}, got {len(streams)}")
        x_struct = jax.ShapeDtypeStruct(x_shape, jnp.float32)
        z_shape = tuple(jax.eval_shape(lambda p, x: codec.model.hyper_analysis(p, codec.model.analysis(p, x)),
                                       codec.params, x_struct).shape)
        z_idx = np.broadcast_to(np.arange(z_shape[-1], dtype=np.int32), z_shape)
        z_sym = codec.coders["factorized"].decode(streams[0], z_idx)
        hyper = self._hyper_at(codec, z_sym)
        decoder = StepDecoder(codec.coders["gaussian"], streams[1])
        _, y_hat, y_sym = self._run(codec, hyper, None, decoder)
        decoder.finish()
        return {"z": z_sym, "y": y_sym, "y_hat": y_hat}
