"""Tiled coding of big images: independent tiles in one stream, the grid in the header extension ``"tiles"``.

A loop around the codec's single-image path (:meth:`jlic.codec.codec.Codec.encode_image` /
:meth:`~jlic.codec.codec.Codec.decode_image`) over the tiles of a grid; nothing of that path is repeated here.

An image of more than :data:`DEFAULT_TILE_ABOVE` pixels (``$JLIC_TILE_ABOVE``) is cut into a grid of tiles
of about :data:`DEFAULT_TILE` pixels a side (``$JLIC_TILE``, ``python -m jlic compress --tile``; ``0``:
never tile). Each tile is coded exactly as an image of its own (padded to the model's stride by the codec's
rule, analysis, latent codec, synthesis), so the networks never see more than one tile at a time: the
decoder's memory is a formula of the tile size (:func:`jlic.codec.limits.tiled_decode_memory_bound`), not
of the image's. Smaller images code as before (no extension: byte-identical files).

Grid: ``rows = ceil(H / side)`` (likewise columns), then the tile height ``th`` is ``ceil(H / rows)``
rounded up to the model's stride, and ``rows = ceil(H / th)``: every tile but the last of its row / column
is ``th x tw`` pixels and needs no padding; the last ones are the remainder (any size >= 1), padded like a
small image. Tiles are coded in raster order.

Streams: all tiles' coding steps go into the container's ONE stream (one
:class:`~jlic.entropy.stream.StreamWriter`, one check word), not one stream per tile: ``MAX_STREAMS`` (32)
would cap an image at 32 tiles (32 Mpx at 1024²) and each stream costs its ANS flush, check word and
length (about 12 bytes); the price is that tiles decode in order, not in parallel or at random.

Extension value (9 bytes, little-endian): ``kind`` (u8, 0 = the uniform grid above), ``rows``, ``cols``,
``tile_height``, ``tile_width`` (u16 each). The decoder refuses (``BitstreamError``) a table whose tile
sides are not multiples of the stride or whose grid does not cover the image exactly, a tiled file with
container padding, and images over ``$JLIC_MAX_PIXELS`` (decode time grows with the tile count; the memory
cap no longer bounds it).
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from jlic.codec import limits, rate_level
from jlic.entropy import bitstream
from jlic.entropy.bitstream import BitstreamError, Container
from jlic.entropy.stream import StreamReader, StreamWriter

EXTENSION = "tiles"
DEFAULT_TILE = 1024
DEFAULT_TILE_ABOVE = 2048 * 2048  # pixels; every common evaluation set (Kodak, CLIC, Tecnick) is below
TILE_ENV, TILE_ABOVE_ENV = "JLIC_TILE", "JLIC_TILE_ABOVE"
_TABLE = struct.Struct("<BHHHH")
GRID_KIND = 0


@dataclass(frozen=True)
class Grid:
    """``rows x cols`` tiles of ``th x tw`` pixels (the last row / column: the remainder) over ``h x w``."""

    h: int
    w: int
    rows: int
    cols: int
    th: int
    tw: int

    def boxes(self) -> Iterator[tuple[int, int, int, int]]:
        """``(top, left, height, width)`` of each tile, raster order."""
        for r in range(self.rows):
            for c in range(self.cols):
                t, left = r * self.th, c * self.tw
                yield t, left, min(self.th, self.h - t), min(self.tw, self.w - left)

    def to_bytes(self) -> bytes:
        return _TABLE.pack(GRID_KIND, self.rows, self.cols, self.th, self.tw)


def _env_int(name: str, default: int) -> int:
    env = os.environ.get(name)
    if not env:
        return default
    try:
        return int(env)
    except ValueError:
        raise ValueError(f"${name}={env!r} is not an integer") from None


def settings(side: int | None = None, above: int | None = None) -> tuple[int, int]:
    """(tile side, pixel threshold) in force: the arguments, else ``$JLIC_TILE`` / ``$JLIC_TILE_ABOVE``,
    else the defaults."""
    side = _env_int(TILE_ENV, DEFAULT_TILE) if side is None else int(side)
    above = _env_int(TILE_ABOVE_ENV, DEFAULT_TILE_ABOVE) if above is None else int(above)
    if side < 0 or above < 0:
        raise ValueError(f"tile side {side} and threshold {above} must be >= 0 (0: never tile)")
    return side, above


def plan(h: int, w: int, stride: int, side: int | None = None, above: int | None = None) -> Grid | None:
    """The grid an ``h x w`` image is coded in, or None (untiled: at most ``above`` pixels, or side 0)."""
    side, above = settings(side, above)
    if side == 0 or h * w <= above:
        return None
    if side < stride:
        raise ValueError(f"tile side {side} is smaller than the model's stride {stride}")
    rows, cols = math.ceil(h / side), math.ceil(w / side)
    th = -(-math.ceil(h / rows) // stride) * stride
    tw = -(-math.ceil(w / cols) // stride) * stride
    if max(th, tw) >= 1 << 16:
        raise ValueError(f"tile side {max(th, tw)} over 65535 pixels")
    return Grid(h, w, math.ceil(h / th), math.ceil(w / tw), th, tw)


def read_grid(c: Container, stride: int) -> Grid:
    """The tile grid of a tiled container, validated against its image size and the model's stride."""
    value = c.extensions[EXTENSION]
    if len(value) != _TABLE.size:
        raise BitstreamError(f"tile table of {len(value)} bytes, expected {_TABLE.size}")
    kind, rows, cols, th, tw = _TABLE.unpack(value)
    if kind != GRID_KIND:
        raise BitstreamError(f"unknown tile table kind {kind} (this jlic knows {GRID_KIND}: a uniform grid)")
    if th == 0 or tw == 0 or th % stride or tw % stride:
        raise BitstreamError(f"tile size {th}x{tw} is not a positive multiple of the model's stride {stride}")
    if rows != math.ceil(c.height / th) or cols != math.ceil(c.width / tw):
        raise BitstreamError(f"tile grid {rows}x{cols} of {th}x{tw} tiles does not cover the {c.height}x"
                             f"{c.width} image exactly")
    if any(c.padding):
        raise BitstreamError(f"tiled file with container padding {c.padding} (each tile pads itself)")
    return Grid(c.height, c.width, rows, cols, th, tw)


def compress(codec: Any, image: np.ndarray, grid: Grid) -> tuple[bytes, list[dict[str, np.ndarray]]]:
    """Tiled ``.jlic`` bytes of ``image`` and each tile's coded latents (raster order)."""
    if np.shape(image)[:2] != (grid.h, grid.w):
        raise ValueError(f"grid of a {grid.h}x{grid.w} image, got {np.shape(image)[:2]}")
    writer = StreamWriter(check=True)
    ctx = codec.context_for(codec.mode)
    latents = [codec.encode_image(ctx, writer, image[t:t + th, left:left + tw])[1]
               for t, left, th, tw in grid.boxes()]
    c = Container(codec.model.name, codec.config_hash, grid.h, grid.w, 3, 8, (0, 0, 0, 0), [writer.finish()],
                  mode=codec.mode,
                  extensions={EXTENSION: grid.to_bytes(), **rate_level.extensions(codec.model)})
    return bitstream.pack(c), latents


def decode_tiles(codec: Any, c: Container) -> Iterator[tuple[int, int, np.ndarray, dict[str, np.ndarray]]]:
    """``(top, left, uint8 tile, its latents)`` of a parsed tiled container, one tile's networks at a time.

    Every check (table, memory bound, pixel cap, stream count) runs before the first tile is decoded; the
    stream's check word after the last.
    """
    stride = codec.model.stride
    grid = read_grid(c, stride)
    limits.check_container(codec.model, codec.params, c, min(grid.th, -(-c.height // stride) * stride),
                           min(grid.tw, -(-c.width // stride) * stride), image_pixels=c.height * c.width)
    level = rate_level.synthesis_args(codec.model, c)  # the file's level (variable-rate models)
    if len(c.streams) != 1:
        raise BitstreamError(f"expected 1 entropy-coded stream for {codec.model.name}, got {len(c.streams)}")
    reader = StreamReader(c.streams[0], check=True)
    ctx = rate_level.decoding_context(codec.context_for(c.mode), level[0] if level else None)
    for t, left, th, tw in grid.boxes():
        tile, latents = codec.decode_image(ctx, reader, th, tw, codec.pads(th, tw), level)
        yield t, left, tile, latents
    reader.finish()


def decompress(codec: Any, c: Container) -> np.ndarray:
    """HxWx3 uint8 image of a parsed tiled container, assembled tile by tile."""
    out = None
    for t, left, tile, _ in decode_tiles(codec, c):
        if out is None:  # allocated once the checks have passed
            out = np.empty((c.height, c.width, 3), np.uint8)
        out[t:t + tile.shape[0], left:left + tile.shape[1]] = tile
    assert out is not None
    return out
