"""What every latent codec shares: its output, the training-time quantizer, and the coding context.

A latent codec is one way of coding a latent ``y`` (optionally given ``side``: parameters predicted by its
parent, e.g. ``h_s(z_hat)``). It owns both sides of that:

* ``forward(y, side, train, key) -> LatentOut``: the training path (noise / straight-through rounding and
  likelihoods) and, with ``train=False``, hard rounding as the coder does it. Runs inside the model's flax
  ``apply``, so the learned sub-networks the model gave the codec (bound flax modules) can be called.
* ``encode(ctx, writer, y, side) -> (y_hat, symbols)`` / ``decode(ctx, reader, shape, side) -> (y_hat,
  symbols)``: host-side coding into the ONE ANS stream of :class:`jlic.entropy.stream.StreamWriter` that
  the whole codec tree shares. Every network evaluation goes through :meth:`CodingContext.call`: one
  jitted function of the params per (codec, method), which encoder and decoder both call on the same
  values, so they compute the same table indexes bit for bit.

Codecs nest (``children()``): ``Hyperprior(y=ChannelGroups(..., Checkerboard(GaussianConditional())),
z=EntropyBottleneck(...))`` is ELIC (He et al. 2022, arXiv 2203.10886).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jlic import quantize

Array = jax.Array
Symbols = dict[str, np.ndarray]

QUANTIZERS = ("noise", "ste")


class LatentOut(NamedTuple):
    """The decoder's latent (``y_hat``) and the likelihoods by latent name (``"y"``, ``"z"``, ...)."""

    y_hat: Array
    likelihoods: dict[str, Array]


def quantize_pair(y: Array, train: bool, mode: str, offset: Array | float, key: Array | None
                  ) -> tuple[Array, Array]:
    """(latent for the likelihood, latent for the decoder).

    Training: ``noise`` uses ``y + U(-1/2, 1/2)`` for both; ``ste`` uses noise for the likelihood and
    straight-through rounding around ``offset`` for the decoder (Minnen & Singh 2020, arXiv 2007.08739).
    Evaluation: hard rounding around ``offset`` for both, as the coder does.
    """
    if not train:
        y_hat = quantize.round_offset(y, offset)
        return y_hat, y_hat
    if mode not in QUANTIZERS:
        raise ValueError(f"unknown quantization {mode!r}; expected one of {QUANTIZERS}")
    y_noisy = quantize.noise(y, key)
    return y_noisy, (y_noisy if mode == "noise" else quantize.round_ste(y, offset))


def split_key(key: Array | None, n: int) -> list[Array | None]:
    """``n`` keys from ``key`` (``None`` stays ``None``: evaluation needs no randomness)."""
    return [None] * n if key is None else list(jax.random.split(key, n))


def symbols_of(y: np.ndarray, offset: np.ndarray | float) -> np.ndarray:
    """Coded symbols ``round(y - offset)`` (half to even, as ``jnp.round``), int32."""
    return np.rint(np.asarray(y, np.float32) - np.asarray(offset, np.float32)).astype(np.int32)


class LatentCodec:
    """Base class: a codec with no children, needing no coding tables. Subclasses override what they do."""

    def children(self) -> Mapping[str, LatentCodec]:
        """Child codecs by key (the keys of :meth:`CodingContext.child`)."""
        return {}

    def tables(self) -> set[str]:
        """Names of the coding tables this codec and its children use (``"factorized"``, ``"gaussian"``)."""
        out: set[str] = set()
        for c in self.children().values():
            out |= c.tables()
        return out

    def forward(self, y: Array, side: Array | None, train: bool, key: Array | None) -> LatentOut:
        raise NotImplementedError

    def encode(self, ctx: CodingContext, writer: Any, y: np.ndarray, side: np.ndarray | None
               ) -> tuple[np.ndarray, Symbols]:
        raise NotImplementedError

    def decode(self, ctx: CodingContext, reader: Any, shape: tuple[int, ...], side: np.ndarray | None
               ) -> tuple[np.ndarray, Symbols]:
        raise NotImplementedError


class ConditionalLeaf(LatentCodec):
    """A density coded given a parameter tensor (Gaussian, mixture): the leaves under the context codecs.

    Besides ``forward`` / ``encode`` / ``decode`` (on the whole latent), a leaf offers the pieces the
    context codecs combine: ``likelihood(y, params)``, ``offset(params)`` (what symbols are rounded
    around), ``coding_params(params, scale_table)`` (jittable: the integer coding parameters of each
    element) and ``encode_values`` / ``decode_values`` on any array of elements with those parameters.
    """

    quantizer: str = "noise"

    def likelihood(self, y: Array, params: Array) -> Array:
        raise NotImplementedError

    def offset(self, params: Array) -> Array | float:
        raise NotImplementedError

    def coding_params(self, params: Array, scale_table: Array) -> tuple[Array, ...]:
        raise NotImplementedError

    def encode_values(self, ctx: CodingContext, writer: Any, y: np.ndarray, coded: tuple[np.ndarray, ...]
                      ) -> tuple[np.ndarray, np.ndarray]:
        """(y_hat, symbols) of elements ``y`` whose ``coding_params`` are ``coded``, written to ``writer``."""
        raise NotImplementedError

    def decode_values(self, ctx: CodingContext, reader: Any, coded: tuple[np.ndarray, ...]
                      ) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def forward(self, y: Array, side: Array | None, train: bool, key: Array | None) -> LatentOut:
        y_lik, y_dec = quantize_pair(y, train, self.quantizer, self.offset(side), key)
        return LatentOut(y_dec, {"y": self.likelihood(y_lik, side)})

    def tables(self) -> set[str]:
        return {"gaussian"}

    def _coded(self, ctx: CodingContext, side: np.ndarray) -> tuple[np.ndarray, ...]:
        return tuple(np.asarray(a) for a in ctx.call("coding_params", side, ctx.scale_table))

    def encode(self, ctx, writer, y, side):
        y_hat, sym = self.encode_values(ctx, writer, y, self._coded(ctx, side))
        return y_hat, {"y": sym}

    def decode(self, ctx, reader, shape, side):
        y_hat, sym = self.decode_values(ctx, reader, self._coded(ctx, side))
        return y_hat.reshape(shape), {"y": sym.reshape(shape)}


def _node(module: Any, path: tuple[str, ...]) -> LatentCodec:
    node = module.latent_codec
    for k in path:
        node = node.children()[k]
    return node


class CodingContext:
    """Params, coding tables, coders and compiled functions for coding with one model's codec tree.

    Args:
      module: the model's flax module (its ``latent_codec`` attribute is the root codec, built in ``setup``).
      params: the model parameters.
      tables: a :class:`jlic.codec.codec.ModelTables` (integer CDF tables, medians, scale table).
      jit: compile the per-step functions (``False`` runs them op by op; same results).
      batch: positions per network call of the raster-scan codec (``None``: a whole wavefront).
      cache: where compiled functions are kept (pass the same dict to reuse them across contexts of one
        module, e.g. one per image size or checkpoint of the same model).
    """

    def __init__(self, module: Any, params: Any, tables: Any, coders: Mapping[str, Any], jit: bool = True,
                 batch: int | None = None, cache: dict | None = None) -> None:
        self.module = module
        self.params = params
        self.tables = tables
        self.coders = dict(coders)
        self.jit = jit
        self.batch = batch
        self.scale_table = (None if tables.scale_table is None
                            else jnp.asarray(tables.scale_table, jnp.float32))
        self.path: tuple[str, ...] = ()
        self._fns: dict[tuple, Callable] = {} if cache is None else cache  # shareable between contexts

    def root(self) -> LatentCodec:
        """The root codec (bound to the params; only its structure is used on the host)."""
        return self.module.bind({"params": self.params}).latent_codec

    def child(self, key: str) -> CodingContext:
        """The context of child ``key`` of the current codec (shares the compiled functions)."""
        c = copy.copy(self)
        c.path = (*self.path, key)
        return c

    def _fn(self, method: str, static: tuple) -> Callable:
        k = (self.path, method, static, self.jit)
        fn = self._fns.get(k)
        if fn is None:
            path, module = self.path, self.module

            def run(params: Any, *args: Any) -> Any:
                return module.apply({"params": params}, *args,
                                    method=lambda m, *a: getattr(_node(m, path), method)(*static, *a))

            fn = self._fns[k] = jax.jit(run) if self.jit else run
        return fn

    def call(self, method: str, *args: Any, static: tuple = ()) -> Any:
        """``codec.method(*static, *args)`` of the current codec, compiled once per (codec, method, static)."""
        return self._fn(method, static)(self.params, *args)

    def shape(self, method: str, *args: Any, static: tuple = ()) -> tuple[int, ...]:
        """Output shape of :meth:`call` on arrays of these shapes (``jax.ShapeDtypeStruct``), no compute."""
        return tuple(jax.eval_shape(self._fn(method, static), self.params, *args).shape)
