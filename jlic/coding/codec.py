"""Images to ``.jlic`` bytes and back with a registered model: real entropy coding of its latents.

``compress(model, params, image) -> bytes`` and ``decompress(model, params, data) -> uint8 image`` work for
every model whose latents are coded by one of the built-in latent codecs:

* :class:`FactorizedLatents` (bmshj2018-factorized, Ballé et al. 2018, arXiv:1802.01436): ``y`` coded
  per channel with the factorized density, symbols ``round(y - median)``.
* :class:`HyperpriorLatents` (bmshj2018-hyperprior, arXiv:1802.01436; mbt2018-mean, Minnen et al. 2018,
  arXiv:1809.02736): ``z`` as above, then ``y`` with Gaussian tables indexed by ``scale_index(h_s(z_hat))``,
  symbols ``round(y - mean)``, reconstruction ``symbol + mean``. The encoder decodes its own ``z`` (from
  the symbols) before computing scales, exactly as the decoder does.

Models with context models (autoregressive, checkerboard, channel-wise) plug in their own coding by
giving the model object a ``latent_codec`` attribute implementing :class:`LatentCodec`; the container,
padding, tables and image handling here stay the same.

The image is padded to a multiple of ``model.stride`` by edge replication, centred (as ``model.apply``
does; CompressAI pads with zeros), and cropped back after decoding. Tables are built once per params
(:func:`build_model_tables`) and can be stored with :meth:`ModelTables.to_bytes`; a :class:`Codec` holds
tables and jit-compiled transforms so that coding many images compiles once per image size.

The container's config hash covers the model name, its constructor kwargs and a digest of the coding
tables, so decoding with another checkpoint (other λ, other training step) is refused with a
``BitstreamError`` instead of silently producing garbage.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np

from jlic.coding import bitstream
from jlic.coding import cdf as cdf_lib
from jlic.coding.bitstream import BitstreamError, Container
from jlic.coding.cdf import CdfTables
from jlic.coding.coder import Coder
from jlic.entropy import factorized, gaussian


@dataclass(frozen=True)
class ModelTables:
    """Integer tables of a model's entropy models (computed once per params, storable).

    Attributes:
      factorized: one row per channel of the factorized (``entropy_bottleneck``) latent.
      medians: float32 ``(C,)`` quantization offsets of that latent.
      gaussian: one row per entry of ``scale_table`` (None for models without a Gaussian conditional).
      scale_table: float32 scales of the Gaussian rows.
    """

    factorized: CdfTables
    medians: np.ndarray
    gaussian: CdfTables | None = None
    scale_table: np.ndarray | None = None

    def digest(self) -> str:
        """SHA-256 (hex) of every integer table and float array, independent of serialization."""
        h = hashlib.sha256()
        for t in (self.factorized, self.gaussian):
            if t is not None:
                for a in (t.cdf, t.cdf_length, t.offset, np.int32(t.precision)):
                    h.update(np.ascontiguousarray(a).astype("<i4").tobytes())
        for a in (self.medians, self.scale_table):
            if a is not None:
                h.update(np.ascontiguousarray(a).astype("<f4").tobytes())
        return h.hexdigest()

    def to_bytes(self) -> bytes:
        arrays = {
            "medians": self.medians,
            "factorized": np.frombuffer(cdf_lib.to_bytes(self.factorized), np.uint8),
        }
        if self.gaussian is not None:
            arrays["gaussian"] = np.frombuffer(cdf_lib.to_bytes(self.gaussian), np.uint8)
            arrays["scale_table"] = self.scale_table
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ModelTables:
        with np.load(io.BytesIO(data), allow_pickle=False) as f:
            g = cdf_lib.from_bytes(f["gaussian"].tobytes()) if "gaussian" in f else None
            return cls(
                factorized=cdf_lib.from_bytes(f["factorized"].tobytes()),
                medians=f["medians"].astype(np.float32),
                gaussian=g,
                scale_table=f["scale_table"].astype(np.float32) if "scale_table" in f else None,
            )


def has_hyperprior(model: Any) -> bool:
    """Whether the model has a hyper-analysis / hyper-synthesis pair (and a Gaussian conditional on y)."""
    return hasattr(model.module, "hyper_analysis") and hasattr(model.module, "hyper_synthesis")


def build_model_tables(model: Any, params: Any, precision: int = 16) -> ModelTables:
    """Quantized CDF tables for ``model`` with ``params`` (the expensive part; do it once)."""
    eb = params["entropy_bottleneck"]
    pmf, offset, length = factorized.pmf_table(eb)
    tables = ModelTables(
        factorized=cdf_lib.from_pmf(pmf, offset, length, precision),
        medians=np.asarray(factorized.medians(eb), np.float32),
    )
    if has_hyperprior(model):
        pmf, offset, length = gaussian.pmf_table(gaussian.SCALE_TABLE)
        tables = ModelTables(
            tables.factorized,
            tables.medians,
            cdf_lib.from_pmf(pmf, offset, length, precision),
            np.asarray(gaussian.SCALE_TABLE, np.float32),
        )
    return tables


class LatentCodec(Protocol):
    """How a model's latents become streams. ``x`` is the padded NHWC image (batch 1)."""

    def encode(self, codec: Codec, x: np.ndarray) -> tuple[list[bytes], dict[str, np.ndarray]]:
        """Streams and the quantized latents (``y_hat`` at least) the decoder will reproduce."""
        ...

    def decode(self, codec: Codec, streams: list[bytes], x_shape: tuple[int, ...]) -> dict[str, np.ndarray]:
        """The quantized latents (``y_hat`` at least) from the streams."""
        ...


def _quantize(x: np.ndarray, offset: np.ndarray | float) -> np.ndarray:
    """Symbols ``round(x - offset)`` (half to even, as ``jnp.round`` / ``torch.round``), int32."""
    return np.rint(np.asarray(x, np.float32) - np.asarray(offset, np.float32)).astype(np.int32)


def _shape_of(fn: Callable, *args: Any) -> tuple[int, ...]:
    return tuple(jax.eval_shape(fn, *args).shape)


class FactorizedLatents:
    """One stream: ``y`` with per-channel factorized tables."""

    def encode(self, codec: Codec, x: np.ndarray) -> tuple[list[bytes], dict[str, np.ndarray]]:
        y = np.asarray(codec.fn("analysis")(codec.params, x))
        sym = _quantize(y, codec.tables.medians)
        idx = np.broadcast_to(np.arange(y.shape[-1], dtype=np.int32), y.shape)
        return [codec.coders["factorized"].encode(sym, idx)], {"y": sym, "y_hat": sym + codec.tables.medians}

    def decode(self, codec: Codec, streams: list[bytes], x_shape: tuple[int, ...]) -> dict[str, np.ndarray]:
        if len(streams) != 1:
            raise BitstreamError(f"expected 1 stream for {codec.model.name}, got {len(streams)}")
        y_shape = _shape_of(codec.model.analysis, codec.params, jax.ShapeDtypeStruct(x_shape, jnp.float32))
        if y_shape[-1] != codec.tables.factorized.num_tables:
            raise ValueError("tables do not match the model's latent channels")
        idx = np.broadcast_to(np.arange(y_shape[-1], dtype=np.int32), y_shape)
        sym = codec.coders["factorized"].decode(streams[0], idx)
        return {"y": sym, "y_hat": sym + codec.tables.medians}


class HyperpriorLatents:
    """Two streams, ``[z, y]`` (decode order): ``z`` factorized, ``y`` Gaussian given ``h_s(z_hat)``."""

    def _y_params(self, codec: Codec, z_sym: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z_hat = z_sym.astype(np.float32) + codec.tables.medians
        scales, means = codec.fn("hyper_synthesis")(codec.params, z_hat)
        idx = np.asarray(codec.fn("scale_index")(scales), np.int32)
        mean = np.zeros(idx.shape, np.float32) if means is None else np.asarray(means, np.float32)
        return idx, mean

    def encode(self, codec: Codec, x: np.ndarray) -> tuple[list[bytes], dict[str, np.ndarray]]:
        y = np.asarray(codec.fn("analysis")(codec.params, x))
        z = np.asarray(codec.fn("hyper_analysis")(codec.params, y))
        z_sym = _quantize(z, codec.tables.medians)
        z_idx = np.broadcast_to(np.arange(z.shape[-1], dtype=np.int32), z.shape)
        z_stream = codec.coders["factorized"].encode(z_sym, z_idx)
        idx, mean = self._y_params(codec, z_sym)  # from the decoded z, as the decoder will
        y_sym = _quantize(y, mean)
        y_stream = codec.coders["gaussian"].encode(y_sym, idx)
        return [z_stream, y_stream], {"z": z_sym, "y": y_sym, "y_index": idx, "y_hat": y_sym + mean}

    def decode(self, codec: Codec, streams: list[bytes], x_shape: tuple[int, ...]) -> dict[str, np.ndarray]:
        if len(streams) != 2:
            raise BitstreamError(f"expected 2 streams for {codec.model.name}, got {len(streams)}")
        x_struct = jax.ShapeDtypeStruct(x_shape, jnp.float32)
        z_shape = _shape_of(lambda p, x: codec.model.hyper_analysis(p, codec.model.analysis(p, x)),
                            codec.params, x_struct)
        if z_shape[-1] != codec.tables.factorized.num_tables:
            raise ValueError("tables do not match the model's hyper-latent channels")
        z_idx = np.broadcast_to(np.arange(z_shape[-1], dtype=np.int32), z_shape)
        z_sym = codec.coders["factorized"].decode(streams[0], z_idx)
        idx, mean = self._y_params(codec, z_sym)
        y_sym = codec.coders["gaussian"].decode(streams[1], idx)
        return {"z": z_sym, "y": y_sym, "y_index": idx, "y_hat": y_sym + mean}


def latent_codec_for(model: Any) -> LatentCodec:
    """The model's own ``latent_codec`` if it has one, else the built-in codec matching its hooks."""
    own = getattr(model, "latent_codec", None)
    if own is not None:
        return own
    return HyperpriorLatents() if has_hyperprior(model) else FactorizedLatents()


def to_float_image(image: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 / uint16 / float in [0, 1] -> float32 HxWx3 in [0, 1]."""
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[-1] != 3:
        raise ValueError(f"expected an HxWx3 image, got shape {a.shape}")
    if a.dtype == np.uint8:
        return a.astype(np.float32) / np.float32(255)
    if a.dtype == np.uint16:
        return a.astype(np.float32) / np.float32(65535)
    if np.issubdtype(a.dtype, np.floating):
        return np.clip(a, 0.0, 1.0).astype(np.float32)
    raise ValueError(f"unsupported image dtype {a.dtype}")


class Codec:
    """A model + params + tables, with jit-compiled transforms; ``compress`` / ``decompress`` images."""

    def __init__(self, model: Any, params: Any, tables: ModelTables | None = None, jit: bool = True) -> None:
        self.model = model
        self.params = params
        self.tables = build_model_tables(model, params) if tables is None else tables
        self.coders = {"factorized": Coder(self.tables.factorized)}
        if self.tables.gaussian is not None:
            self.coders["gaussian"] = Coder(self.tables.gaussian)
        self.latent_codec = latent_codec_for(model)
        # The hash covers the architecture config *and* the coding tables (a digest of the params' entropy
        # models), so a file is refused by a checkpoint of another λ / training step, not decoded to garbage.
        tables_digest = self.tables.digest()
        self.config_hash = bitstream.config_hash(model.name, {**dict(model.kwargs), "tables": tables_digest})
        scale_table = self.tables.scale_table
        fns: dict[str, Callable] = {
            "analysis": model.analysis,
            "synthesis": model.synthesis,
            "scale_index": lambda s: gaussian.scale_index(s, scale_table),
        }
        if has_hyperprior(model):
            fns["hyper_analysis"] = model.hyper_analysis
            fns["hyper_synthesis"] = model.hyper_synthesis
        self._fns = {k: jax.jit(f) if jit else f for k, f in fns.items()}

    def fn(self, name: str) -> Callable:
        """The (jit-compiled unless ``jit=False``) transform ``name`` of the model."""
        return self._fns[name]

    def pad(self, image: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        """Float NHWC batch of one, edge-padded (centred) to a multiple of ``model.stride``."""
        x = to_float_image(image)
        h, w = x.shape[:2]
        ph, pw = -h % self.model.stride, -w % self.model.stride
        pads = (ph // 2, ph - ph // 2, pw // 2, pw - pw // 2)
        x = np.pad(x, ((pads[0], pads[1]), (pads[2], pads[3]), (0, 0)), mode="edge")
        return x[None], pads

    def compress_with_latents(self, image: np.ndarray) -> tuple[bytes, dict[str, np.ndarray]]:
        """``compress`` plus the quantized latents it coded (for tests and bit accounting)."""
        x, pads = self.pad(image)
        streams, latents = self.latent_codec.encode(self, x)
        h, w = np.shape(image)[:2]
        data = bitstream.pack(Container(self.model.name, self.config_hash, h, w, 3, 8, pads, streams))
        return data, latents

    def compress(self, image: np.ndarray) -> bytes:
        """HxWx3 image (uint8, uint16 or float in [0, 1]) -> ``.jlic`` bytes."""
        return self.compress_with_latents(image)[0]

    def decompress_latents(self, data: bytes) -> tuple[Container, dict[str, np.ndarray]]:
        """Parse, verify and entropy-decode ``data``; the container and the quantized latents."""
        c = bitstream.unpack(data, expected_name=self.model.name, expected_hash=self.config_hash)
        t, b, left, r = c.padding
        stride = self.model.stride
        hp, wp = c.height + t + b, c.width + left + r
        if hp % stride or wp % stride or max(t + b, left + r) >= stride:
            raise BitstreamError(f"padding {c.padding} of a {c.height}x{c.width} image is not the model's")
        return c, self.latent_codec.decode(self, c.streams, (1, hp, wp, 3))

    def decompress(self, data: bytes) -> np.ndarray:
        """``.jlic`` bytes -> HxWx3 uint8 image."""
        c, latents = self.decompress_latents(data)
        x_hat = np.asarray(self.fn("synthesis")(self.params, jnp.asarray(latents["y_hat"])))
        t, left = c.padding[0], c.padding[2]
        x_hat = x_hat[0, t:t + c.height, left:left + c.width]
        return np.round(np.clip(x_hat, 0.0, 1.0) * 255.0).astype(np.uint8)


def compress(model: Any, params: Any, image: np.ndarray, tables: ModelTables | None = None) -> bytes:
    """One-shot :meth:`Codec.compress` (build a :class:`Codec` once to code many images)."""
    return Codec(model, params, tables).compress(image)


def decompress(model: Any, params: Any, data: bytes, tables: ModelTables | None = None) -> np.ndarray:
    """One-shot :meth:`Codec.decompress`."""
    return Codec(model, params, tables).decompress(data)
