"""Latent codecs whose y is coded in a few dependent passes: checkerboard (2) and channel-wise (#slices).

Both code z with the factorized model (stream 0), then y in passes (stream 1, one ANS stream decoded pass by
pass, :mod:`jlic.entropy.context.stream`). Each pass runs one jitted function of the model on the y_hat
decoded so far, giving (scale index, mean) for the symbols of that pass; encoder and decoder call the same
compiled function on the same values, so they agree bit for bit.

- Checkerboard (He et al. 2021, "Checkerboard context model for efficient learned image compression",
  arXiv 2103.15306): pass 0 codes the anchors with hyperprior-only parameters, pass 1 the non-anchors with a
  checkerboard-masked context of the decoded anchors. Model hooks: `hyper_params(params, z_hat)`,
  `checkerboard_params(params, y_hat, hyper) -> (scales, means)` and `anchor_mask(h, w)`.
- Channel-wise (Minnen & Singh 2020, "Channel-wise autoregressive entropy models for learned image
  compression", arXiv 2007.08739): pass i codes channel slice i with mean/scale from the hyperprior and the
  previous slices, then adds the latent residual prediction. Model hooks: `hyper_params`,
  `slice_params(params, hyper, y_hat_prev, i) -> (scales, means)`, `slice_lrp(params, hyper, y_hat_upto, i)`,
  `num_slices`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jlic.coding.bitstream import BitstreamError
from jlic.entropy import gaussian
from jlic.entropy.context.stream import StepDecoder, encode_steps


def _quantize(x: np.ndarray, offset: np.ndarray | float) -> np.ndarray:
    return np.rint(np.asarray(x, np.float32) - np.asarray(offset, np.float32)).astype(np.int32)


class _HyperLatents:
    """z handling shared by the pass codecs (as `HyperpriorLatents` in `jlic.coding.codec`)."""

    def __init__(self, model: Any, jit: bool = True) -> None:
        self.model = model
        self.wrap = jax.jit if jit else (lambda f, **_: f)
        self._hyper = self.wrap(model.hyper_params)

    def _encode_z(self, codec: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, bytes, np.ndarray]:
        y = np.asarray(codec.fn("analysis")(codec.params, x))
        z = np.asarray(codec.fn("hyper_analysis")(codec.params, y))
        z_sym = _quantize(z, codec.tables.medians)
        z_idx = np.broadcast_to(np.arange(z.shape[-1], dtype=np.int32), z.shape)
        return y, z_sym, codec.coders["factorized"].encode(z_sym, z_idx), self._hyper_at(codec, z_sym)

    def _decode_z(self, codec: Any, streams: list[bytes], x_shape: tuple[int, ...]
                  ) -> tuple[np.ndarray, np.ndarray]:
        if len(streams) != 2:
            raise BitstreamError(f"expected 2 streams for {codec.model.name}, got {len(streams)}")
        x_struct = jax.ShapeDtypeStruct(x_shape, jnp.float32)
        z_shape = tuple(jax.eval_shape(lambda p, x: codec.model.hyper_analysis(p, codec.model.analysis(p, x)),
                                       codec.params, x_struct).shape)
        z_idx = np.broadcast_to(np.arange(z_shape[-1], dtype=np.int32), z_shape)
        z_sym = codec.coders["factorized"].decode(streams[0], z_idx)
        return z_sym, self._hyper_at(codec, z_sym)

    def _hyper_at(self, codec: Any, z_sym: np.ndarray) -> np.ndarray:
        z_hat = z_sym.astype(np.float32) + codec.tables.medians
        return np.asarray(self._hyper(codec.params, z_hat), np.float32)

    def encode(self, codec: Any, x: np.ndarray) -> tuple[list[bytes], dict[str, np.ndarray]]:
        y, z_sym, z_stream, hyper = self._encode_z(codec, x)
        steps, y_hat, y_sym = self._run(codec, hyper, y, None)
        y_stream = encode_steps(codec.coders["gaussian"], steps)
        return [z_stream, y_stream], {"z": z_sym, "y": y_sym, "y_hat": y_hat}

    def decode(self, codec: Any, streams: list[bytes], x_shape: tuple[int, ...]) -> dict[str, np.ndarray]:
        z_sym, hyper = self._decode_z(codec, streams, x_shape)
        decoder = StepDecoder(codec.coders["gaussian"], streams[1])
        _, y_hat, y_sym = self._run(codec, hyper, None, decoder)
        decoder.finish()
        return {"z": z_sym, "y": y_sym, "y_hat": y_hat}

    def _run(self, codec: Any, hyper: np.ndarray, y: np.ndarray | None, decoder: StepDecoder | None
             ) -> tuple[list, np.ndarray, np.ndarray]:
        raise NotImplementedError


def _code(y: np.ndarray | None, decoder: StepDecoder | None, idx: np.ndarray, means: np.ndarray
          ) -> np.ndarray:
    """Symbols of one pass: quantized from y (encoder) or decoded with `idx` (decoder)."""
    return _quantize(y, means) if decoder is None else decoder.decode(idx)


class CheckerboardLatents(_HyperLatents):
    """Two passes over y: anchors, then non-anchors given the anchors."""

    def __init__(self, model: Any, jit: bool = True) -> None:
        super().__init__(model, jit)
        self._params = self.wrap(self._params_fn)

    def _params_fn(self, params: Any, y_hat: jax.Array, hyper: jax.Array, table: jax.Array
                   ) -> tuple[jax.Array, jax.Array]:
        scales, means = self.model.checkerboard_params(params, y_hat, hyper)
        return gaussian.scale_index(scales, table), means

    def _run(self, codec, hyper, y, decoder):
        _, h, w, _ = hyper.shape
        m = self.model.module.M
        anchor = np.asarray(self.model.anchor_mask(h, w), bool).reshape(h, w)
        table = jnp.asarray(codec.tables.scale_table, jnp.float32)
        y_hat = np.zeros((1, h, w, m), np.float32)
        y_sym = np.zeros((1, h, w, m), np.int32)
        steps = []
        for where in (anchor, ~anchor):
            idx, means = self._params(codec.params, y_hat, hyper, table)
            idx, means = np.asarray(idx)[0][where], np.asarray(means, np.float32)[0][where]
            sym = _code(None if y is None else y[0][where], decoder, idx, means)
            y_hat[0][where] = sym.astype(np.float32) + means
            y_sym[0][where] = sym
            steps.append((sym, idx))
        return steps, y_hat, y_sym


class ChannelwiseLatents(_HyperLatents):
    """`num_slices` passes over y, one channel slice each, with latent residual prediction."""

    def __init__(self, model: Any, jit: bool = True) -> None:
        super().__init__(model, jit)
        self._params = self.wrap(self._params_fn, static_argnums=4)
        self._lrp = self.wrap(model.slice_lrp, static_argnums=3)

    def _params_fn(self, params: Any, hyper: jax.Array, prev: jax.Array, table: jax.Array, i: int
                   ) -> tuple[jax.Array, jax.Array]:
        scales, means = self.model.slice_params(params, hyper, prev, i)
        return gaussian.scale_index(scales, table), means

    def _run(self, codec, hyper, y, decoder):
        m, n = self.model.module.M, self.model.module.num_slices
        size = m // n
        table = jnp.asarray(codec.tables.scale_table, jnp.float32)
        shape = (*hyper.shape[:3], m)
        y_hat = np.zeros(shape, np.float32)
        y_sym = np.zeros(shape, np.int32)
        steps = []
        for i in range(n):
            sl = slice(i * size, (i + 1) * size)
            idx, means = self._params(codec.params, hyper, y_hat[..., :i * size], table, i)
            idx, means = np.asarray(idx), np.asarray(means, np.float32)
            sym = _code(None if y is None else y[..., sl], decoder, idx, means)
            y_hat[..., sl] = sym.astype(np.float32) + means
            lrp = self._lrp(codec.params, hyper, y_hat[..., :(i + 1) * size], i)
            y_hat[..., sl] += np.asarray(lrp, np.float32)
            y_sym[..., sl] = sym
            steps.append((sym, idx))
        return steps, y_hat, y_sym
