"""Images to ``.jlic`` bytes and back with a registered model: real entropy coding of its latents.

``compress(model, params, image) -> bytes`` and ``decompress(model, params, data) -> uint8 image`` work for
every model: ``y = g_a(x)`` is coded by the model's latent codec (``model.latent_codec(params)``, a
composition from :mod:`jlic.latent_codecs`: entropy bottleneck, hyperprior, raster scan, checkerboard,
channel groups, ...) into ONE ANS stream (:class:`jlic.entropy.stream.StreamWriter`) that the codec tree
shares; the decoder walks the same tree with a :class:`jlic.entropy.stream.StreamReader`. Nothing here
knows which codecs a model uses.

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
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jlic.codec import limits, rate_level, tiles
from jlic.entropy import bitstream, factorized, gaussian
from jlic.entropy import cdf as cdf_lib
from jlic.entropy.bitstream import BitstreamError, Container
from jlic.entropy.cdf import CdfTables
from jlic.entropy.coder import Coder
from jlic.entropy.stream import StreamReader, StreamWriter


@dataclass(frozen=True)
class ModelTables:
    """Integer tables of a model's entropy models (computed once per params, storable).

    Attributes:
      factorized: one row per channel of the factorized (``entropy_bottleneck``) latent (None for models
        without one, e.g. HPCM, whose hyper-latent has a learned parametric prior).
      medians: float32 ``(C,)`` quantization offsets of that latent (None without one).
      gaussian: one row per entry of ``scale_table`` (None for models without a Gaussian conditional).
      scale_table: float32 scales of the Gaussian rows.
    """

    factorized: CdfTables | None
    medians: np.ndarray | None
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
        arrays = {}
        if self.factorized is not None:
            arrays["medians"] = self.medians
            arrays["factorized"] = np.frombuffer(cdf_lib.to_bytes(self.factorized), np.uint8)
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
                factorized=cdf_lib.from_bytes(f["factorized"].tobytes()) if "factorized" in f else None,
                medians=f["medians"].astype(np.float32) if "medians" in f else None,
                gaussian=g,
                scale_table=f["scale_table"].astype(np.float32) if "scale_table" in f else None,
            )


def build_model_tables(model: Any, params: Any, precision: int = 16) -> ModelTables:
    """Quantized CDF tables for ``model`` with ``params`` (the expensive part; do it once).

    The factorized tables come from the ``entropy_bottleneck`` parameters (if the model's latent codec has
    an entropy bottleneck); the Gaussian scale-table rows are built if it uses a conditional (Gaussian or
    mixture) leaf. Leaves with tables of their own (the generalized Gaussian) build them from constants.
    """
    used = model.latent_codec(params).tables()
    tables = ModelTables(factorized=None, medians=None)
    if "factorized" in used:
        eb = params["entropy_bottleneck"]
        pmf, offset, length = factorized.pmf_table(eb)
        tables = ModelTables(
            factorized=cdf_lib.from_pmf(pmf, offset, length, precision),
            medians=np.asarray(factorized.medians(eb), np.float32),
        )
    if "gaussian" in used:
        pmf, offset, length = gaussian.pmf_table(gaussian.SCALE_TABLE)
        tables = ModelTables(
            tables.factorized,
            tables.medians,
            cdf_lib.from_pmf(pmf, offset, length, precision),
            np.asarray(gaussian.SCALE_TABLE, np.float32),
        )
    return tables


def _shape_of(fn: Callable, *args: Any) -> tuple[int, ...]:
    return tuple(jax.eval_shape(fn, *args).shape)


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
    """A model + params + tables, with jit-compiled transforms; ``compress`` / ``decompress`` images.

    ``jit=False`` runs every network op by op; ``batch`` is the positions per network call of a
    raster-scan codec (``None``: whole wavefronts). Neither changes the bytes or the decoded latents.
    ``mode="deterministic"`` codes with exact networks (:mod:`jlic.fixedpoint`: the file decodes the same on
    any device); the container records the mode and ``decompress`` follows it. ``tile`` / ``tile_above``:
    the tile side and pixel threshold of :mod:`jlic.codec.tiles` (None: ``$JLIC_TILE`` / its default).
    """

    tile: int | None = None
    tile_above: int | None = None

    def __init__(self, model: Any, params: Any, tables: ModelTables | None = None, jit: bool = True,
                 batch: int | None = None, mode: str = "float") -> None:
        if mode not in bitstream.MODE_IDS:
            raise ValueError(f"unknown coding mode {mode!r}; expected one of {tuple(bitstream.MODE_IDS)}")
        self.mode = mode
        self.model = model
        self.params = params
        self.tables = build_model_tables(model, params) if tables is None else tables
        self.coders = {}
        if self.tables.factorized is not None:
            self.coders["factorized"] = Coder(self.tables.factorized)
        if self.tables.gaussian is not None:
            self.coders["gaussian"] = Coder(self.tables.gaussian)
        self.context = model.coding_context(params, self.tables, self.coders, jit=jit, batch=batch)
        self.latent_codec = self.context.root()
        self.contexts: dict[str, Any] = {"float": self.context}
        # The hash covers the architecture config *and* the coding tables (a digest of the params' entropy
        # models), so a file is refused by a checkpoint of another λ / training step, not decoded to garbage.
        tables_digest = self.tables.digest()
        self.config_hash = bitstream.config_hash(model.name, {**dict(model.kwargs), "tables": tables_digest})
        fns: dict[str, Callable] = {"analysis": model.analysis, "synthesis": model.synthesis}
        self._fns = {k: jax.jit(f) if jit else f for k, f in fns.items()}

    def context_for(self, mode: str) -> Any:
        """The coding context of ``mode`` (``"float"``: jitted networks; ``"deterministic"``: exact ones)."""
        if mode not in self.contexts:
            from jlic.fixedpoint.context import DeterministicContext

            self.contexts[mode] = DeterministicContext.of(self.context)
        return self.contexts[mode]

    def fn(self, name: str) -> Callable:
        """The (jit-compiled unless ``jit=False``) transform ``name`` of the model."""
        return self._fns[name]

    pad_mode = "edge"  # np.pad mode of `pad` (conventions.ZeroPaddedCodec: "constant")

    def pads(self, h: int, w: int) -> tuple[int, int, int, int]:
        """Top, bottom, left, right padding (centred) of an ``h`` x ``w`` image to a multiple of the stride."""
        ph, pw = -h % self.model.stride, -w % self.model.stride
        return ph // 2, ph - ph // 2, pw // 2, pw - pw // 2

    def pad(self, image: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        """Float NHWC batch of one, padded (centred, ``pad_mode``) to a multiple of ``model.stride``."""
        x = to_float_image(image)
        pads = self.pads(*x.shape[:2])
        x = np.pad(x, ((pads[0], pads[1]), (pads[2], pads[3]), (0, 0)), mode=self.pad_mode)
        return x[None], pads

    def encode_image(self, ctx: Any, writer: StreamWriter, image: np.ndarray
                     ) -> tuple[tuple[int, int, int, int], dict[str, np.ndarray]]:
        """The single-image coding path, into ``writer``: pad to the stride, analysis, the latent codec's
        encode. (The padding, the coded latents: symbols by latent name and ``"y_hat"``.) Whole images and
        the tiles of :mod:`jlic.codec.tiles` are both coded by it."""
        x, pads = self.pad(image)
        y = np.asarray(self.fn("analysis")(self.params, x), np.float32)
        y_hat, symbols = self.latent_codec.encode(ctx, writer, y, None)
        return pads, {**symbols, "y_hat": np.asarray(y_hat, np.float32)}

    def decode_image(self, ctx: Any, reader: StreamReader, h: int, w: int, pads: tuple[int, int, int, int],
                     level: tuple = (), synthesize: bool = True
                     ) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        """The single-image decoding path, from ``reader``: the latent codec's decode for an ``h`` x ``w``
        image padded by ``pads``, then (``synthesize``) synthesis at the file's rate ``level``, crop, 8 bits.
        (The HxWx3 uint8 image or None, its latents.) Checks on the container are the caller's, first."""
        t, b, left, r = pads
        x = jax.ShapeDtypeStruct((1, h + t + b, w + left + r, 3), jnp.float32)
        y_shape = _shape_of(self.model.analysis, self.params, x)
        y_hat, symbols = self.latent_codec.decode(ctx, reader, y_shape, None)
        latents = {**symbols, "y_hat": np.asarray(y_hat, np.float32)}
        if not synthesize:
            return None, latents
        x_hat = np.asarray(self.fn("synthesis")(self.params, jnp.asarray(y_hat), *level))
        # nan_to_num: a crafted stream can drive the synthesis to NaN before the check word refuses it
        image = np.round(np.clip(np.nan_to_num(x_hat[0, t:t + h, left:left + w]), 0.0, 1.0) * 255.0)
        return image.astype(np.uint8), latents

    def compress_with_latents(self, image: np.ndarray) -> tuple[bytes, dict[str, np.ndarray]]:
        """``compress`` plus the coded latents: symbols by latent name (``"y"``, ``"z"``) and ``"y_hat"``."""
        writer = StreamWriter(check=True)
        pads, latents = self.encode_image(self.context_for(self.mode), writer, image)
        h, w = np.shape(image)[:2]
        data = bitstream.pack(Container(self.model.name, self.config_hash, h, w, 3, 8, pads, [writer.finish()],
                                        mode=self.mode, extensions=rate_level.extensions(self.model)))
        return data, latents

    def compress(self, image: np.ndarray) -> bytes:
        """HxWx3 image (uint8, uint16 or float in [0, 1]) -> ``.jlic`` bytes; big images are coded in tiles
        (:mod:`jlic.codec.tiles`)."""
        grid = tiles.plan(*np.shape(image)[:2], self.model.stride, self.tile, self.tile_above)
        if grid is not None:
            return tiles.compress(self, image, grid)[0]
        return self.compress_with_latents(image)[0]

    def decompress_latents(self, data: bytes) -> tuple[Container, dict[str, np.ndarray]]:
        """Parse, verify and entropy-decode ``data``; the container and the decoded latents."""
        c = bitstream.unpack(data, expected_name=self.model.name, expected_hash=self.config_hash)
        if tiles.EXTENSION in c.extensions:
            raise BitstreamError("tiled file: its latents are decoded tile by tile (jlic.codec.tiles)")
        return c, self._decode(c, synthesize=False)[1]

    def _decode(self, c: Container, synthesize: bool = True) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        """Image (``synthesize``) and latents of a parsed, untiled container, after the checks against the
        model; the stream's check word is verified last."""
        t, b, left, r = c.padding
        stride = self.model.stride
        hp, wp = c.height + t + b, c.width + left + r
        if hp % stride or wp % stride or max(t + b, left + r) >= stride:
            raise BitstreamError(f"padding {c.padding} of a {c.height}x{c.width} image is not the model's")
        limits.check_container(self.model, self.params, c, hp, wp)  # before any decoding: caps, memory bound
        level = rate_level.read(self.model, c)  # a variable-rate model's file must carry a valid level
        if len(c.streams) != 1:
            raise BitstreamError(f"expected 1 entropy-coded stream for {self.model.name}, got {len(c.streams)}")
        reader = StreamReader(c.streams[0], check=True)
        ctx = rate_level.decoding_context(self.context_for(c.mode), level)
        image, latents = self.decode_image(ctx, reader, c.height, c.width, c.padding,
                                           rate_level.synthesis_args(self.model, c), synthesize)
        reader.finish()
        return image, latents

    def decompress(self, data: bytes) -> np.ndarray:
        """``.jlic`` bytes -> HxWx3 uint8 image."""
        c = bitstream.unpack(data, expected_name=self.model.name, expected_hash=self.config_hash)
        if tiles.EXTENSION in c.extensions:
            return tiles.decompress(self, c)
        return self._decode(c)[0]


def compress(model: Any, params: Any, image: np.ndarray, tables: ModelTables | None = None) -> bytes:
    """One-shot :meth:`Codec.compress` (build a :class:`Codec` once to code many images)."""
    return Codec(model, params, tables).compress(image)


def decompress(model: Any, params: Any, data: bytes, tables: ModelTables | None = None) -> np.ndarray:
    """One-shot :meth:`Codec.decompress`."""
    return Codec(model, params, tables).decompress(data)
