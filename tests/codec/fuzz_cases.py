"""Crafted `.jlic` files for the fuzz tests: mutations of a valid file with the CRC recomputed, so the
container check passes and the model's decoder itself reads the crafted streams and header.

Public API only (`jlic.entropy.bitstream` pack/unpack, `jlic.codec.codec`, `jlic.models`), so the same
cases run on any implementation of the models' latent codecs.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib
from collections.abc import Iterator

import numpy as np

from jlic.entropy import bitstream
from jlic.entropy.bitstream import Container


def repack(c: Container, raw_extensions: bytes | None = None, **changes) -> bytes:
    """`c` with `changes`, serialized without `pack`'s validation (crafted fields pass through) and with
    a correct CRC. `raw_extensions`: the header extension block as given (count byte included), instead
    of `c.extensions` packed."""
    c = dataclasses.replace(c, **changes)
    name = c.model_name.encode("ascii")
    body = b"".join([
        struct.pack("<4sBBB", bitstream.MAGIC, bitstream.FORMAT_VERSION, bitstream.CODER_IDS[c.coder],
                    len(name)),
        name, c.config_hash,
        struct.pack("<IIBBHHHHB", c.height, c.width, c.channels, c.bit_depth, *c.padding, len(c.streams)),
        bitstream._pack_extensions(c.extensions) if raw_extensions is None else raw_extensions,
        struct.pack(f"<{len(c.streams)}I", *(len(s) for s in c.streams)), *c.streams,
    ])
    return body + struct.pack("<I", zlib.crc32(body))


def _flip(s: bytes, rng: np.random.Generator, n: int = 1) -> bytes:
    b = bytearray(s)
    for _ in range(n):
        if b:
            i = int(rng.integers(len(b)))
            b[i] ^= 1 << int(rng.integers(8))
    return bytes(b)


def crafted(data: bytes, rng: np.random.Generator, other_names: list[str], random_cases: int = 0,
            new_shapes: bool = True) -> Iterator[tuple[str, bytes]]:
    """(label, file) pairs: structured mutations, then `random_cases` random ones. `new_shapes=False`
    leaves out the decodable size changes (each compiles the transforms for a new shape: slow)."""
    c = bitstream.unpack(data)
    k = len(c.streams)
    for i in range(k):
        s = c.streams[i]

        def with_stream(new: bytes, i=i) -> list[bytes]:
            return [new if j == i else t for j, t in enumerate(c.streams)]

        yield f"stream{i}:empty", repack(c, streams=with_stream(b""))
        yield f"stream{i}:4 bytes", repack(c, streams=with_stream(s[:4]))
        yield f"stream{i}:half", repack(c, streams=with_stream(s[: len(s) // 2 // 4 * 4]))
        yield f"stream{i}:not a multiple of 4", repack(c, streams=with_stream(s[:-1]))
        yield f"stream{i}:first word dropped", repack(c, streams=with_stream(s[4:]))
        yield f"stream{i}:zeros", repack(c, streams=with_stream(bytes(len(s))))
        yield f"stream{i}:ones", repack(c, streams=with_stream(b"\xff" * len(s)))
        yield f"stream{i}:garbage", repack(c, streams=with_stream(rng.bytes(len(s))))
        yield f"stream{i}:long garbage", repack(c, streams=with_stream(rng.bytes(4 * len(s) + 64)))
        yield f"stream{i}:doubled", repack(c, streams=with_stream(s + s))
        yield f"stream{i}:one bit flipped", repack(c, streams=with_stream(_flip(s, rng)))
    yield "all streams empty", repack(c, streams=[b""] * k)
    yield "no streams", repack(c, streams=[])
    yield "one extra stream", repack(c, streams=[*c.streams, c.streams[-1]])
    yield "streams swapped", repack(c, streams=c.streams[::-1])
    for name in other_names[:3]:
        yield f"foreign model {name}", repack(c, model_name=name)
    yield "unknown model name", repack(c, model_name="no-such-model")
    yield "other config hash", repack(c, config_hash=bytes(8))
    yield "huge size 65536x4096", repack(c, height=65536, width=4096)
    yield "huge size 16384x16384", repack(c, height=16384, width=16384)
    if new_shapes:
        yield "size 1x1", repack(c, height=1, width=1, padding=(0, 0, 0, 0))
        yield "height doubled", repack(c, height=2 * c.height)
        yield "width + 64", repack(c, width=c.width + 64)
    yield "padding 1000", repack(c, padding=(1000, 1000, 0, 0))
    yield "padding odd", repack(c, padding=(1, 0, 0, 0))
    yield "range coder id", repack(c, coder="range" if c.coder == "ans" else "ans")
    yield "channels 1, depth 16", repack(c, channels=1, bit_depth=16)
    for j in range(random_cases):
        kind = int(rng.integers(4))
        if kind == 0:  # several bit flips in one stream
            i = int(rng.integers(k)) if k else 0
            flips = int(rng.integers(1, 9))
            streams = [(_flip(t, rng, flips) if n == i else t) for n, t in enumerate(c.streams)]
            yield f"random {j}: bit flips", repack(c, streams=streams)
        elif kind == 1:  # random truncation / extension of one stream
            i = int(rng.integers(k)) if k else 0
            cut = int(rng.integers(0, 2 * len(c.streams[i]) + 8)) if k else 0
            streams = [((t + rng.bytes(cut))[:cut] if n == i else t) for n, t in enumerate(c.streams)]
            yield f"random {j}: stream length {cut}", repack(c, streams=streams)
        elif kind == 2:  # random header size
            h, w = (int(x) for x in rng.integers(1, 1 << int(rng.integers(1, 17)), 2))
            yield f"random {j}: size {h}x{w}", repack(c, height=h, width=w)
        else:  # random streams of random lengths
            streams = [rng.bytes(int(rng.integers(0, 256))) for _ in range(k)]
            yield f"random {j}: random streams", repack(c, streams=streams)


def _ext(*entries: tuple[int, bytes], count: int | None = None) -> bytes:
    """A raw header extension block: (tag, value) entries, the count byte `count` or their number."""
    body = b"".join(bytes([tag, len(v) & 0xFF]) + v for tag, v in entries)
    return bytes([len(entries) if count is None else count]) + body


def crafted_extensions(data: bytes) -> Iterator[tuple[str, bytes]]:
    """Header extension blocks the writer never makes: unknown / duplicated tags, bad counts and lengths."""
    c = bitstream.unpack(data)
    tags = bitstream.EXTENSION_TAGS
    own = [(tags[k], v) for k, v in c.extensions.items()]
    unknown = max(tags.values()) + 1
    yield "ext: unknown tag 0", repack(c, _ext(*own, (0, b"\x01")))
    yield f"ext: unknown tag {unknown}", repack(c, _ext(*own, (unknown, b"\x01\x02")))
    yield "ext: unknown tag 255", repack(c, _ext((255, bytes(255)), *own))
    tiles_value = own[0][1] if own else bytes(9)
    yield "ext: tiles duplicated", repack(c, _ext((tags["tiles"], tiles_value), (tags["tiles"], tiles_value)))
    yield "ext: rate_level duplicated", repack(c, _ext(*own, (tags["rate_level"], b"\x00"),
                                                       (tags["rate_level"], b"\x01")))
    yield "ext: count over the cap", repack(c, _ext(*own, count=bitstream.MAX_EXTENSIONS + 1))
    yield "ext: count past the entries", repack(c, _ext(*own, count=len(own) + 2))
    yield "ext: empty value", repack(c, _ext(*own, (tags["rate_level"], b"")))
    past = _ext(*own, count=len(own) + 1) + bytes([tags["rate_level"], 255, 1])  # 255 bytes declared, 1 given
    yield "ext: length past the header", repack(c, past)
    # Known tags the model's writer does not put in this file: whether they are refused is reported.
    if "tiles" not in c.extensions:
        yield "ext?: a tile table on an untiled file", repack(
            c, extensions={**c.extensions, "tiles": struct.pack("<BHHHH", 0, 1, 1, 64, 64)})
    if "rate_level" not in c.extensions:
        yield "ext?: a rate level on a fixed-rate file", repack(
            c, extensions={**c.extensions, "rate_level": b"\x00"})


def crafted_tiles(data: bytes, stride: int, rng: np.random.Generator, random_cases: int = 0,
                  new_shapes: bool = True) -> Iterator[tuple[str, bytes]]:
    """Mutations of a TILED file's table, geometry and stream (labels `tiles: ...` must be refused;
    `tiles?: ...` may decode: the grid still covers the image). `new_shapes=False` leaves out the cases
    that decode at other tile shapes (each compiles the transforms: slow)."""
    c = bitstream.unpack(data)
    kind, rows, cols, th, tw = struct.unpack("<BHHHH", c.extensions["tiles"])

    def table(*v: int) -> dict[str, bytes]:
        return {**c.extensions, "tiles": struct.pack("<BHHHH", *v)}

    yield "tiles: rows + 1", repack(c, extensions=table(kind, rows + 1, cols, th, tw))
    yield "tiles: rows - 1", repack(c, extensions=table(kind, rows - 1, cols, th, tw))
    yield "tiles: cols + 1", repack(c, extensions=table(kind, rows, cols + 1, th, tw))
    yield "tiles: rows 0", repack(c, extensions=table(kind, 0, cols, th, tw))
    yield "tiles: side + 1", repack(c, extensions=table(kind, rows, cols, th + 1, tw))
    yield "tiles: side 0", repack(c, extensions=table(kind, rows, cols, 0, tw))
    yield "tiles: side 65535, one row", repack(c, extensions=table(kind, 1, cols, 65535, tw))
    yield "tiles: kind 1", repack(c, extensions=table(1, rows, cols, th, tw))
    yield "tiles: short table", repack(c, extensions={**c.extensions, "tiles": c.extensions["tiles"][:-1]})
    yield "tiles: long table", repack(c, extensions={**c.extensions, "tiles": c.extensions["tiles"] + b"\x00"})
    yield "tiles: height + one tile", repack(c, height=c.height + th)
    yield "tiles: 65536x65536 image", repack(c, height=65536, width=65536)
    yield "tiles: padding", repack(c, padding=(1, 0, 0, 0))
    yield "tiles: two streams", repack(c, streams=c.streams * 2)
    yield "tiles: stream cut by a word", repack(c, streams=[c.streams[0][:-4]])
    yield "tiles: stream doubled", repack(c, streams=[c.streams[0] * 2])
    yield "tiles: one bit flipped", repack(c, streams=[_flip(c.streams[0], rng)])
    if new_shapes:
        yield "tiles?: table removed (decoded untiled)", repack(c, extensions={})
    if th > stride and new_shapes:  # same image, finer grid: the stream holds other tiles than the table says
        yield "tiles: finer grid", repack(c, extensions=table(kind, -(-c.height // (th - stride)), cols,
                                                              th - stride, tw))
    yield "tiles?: width - 1", repack(c, width=c.width - 1)
    for j in range(random_cases):
        k = int(rng.integers(3))
        if k == 0:  # a random, well-formed grid of the file's tile size (no new shape to compile) covering
            rth, rtw = th, tw  # a random image size: more, fewer or other tiles than the stream holds
            rr, rc = (int(v) for v in rng.integers(1, 5, 2))
            h = int(rng.integers((rr - 1) * rth + 1, rr * rth + 1))
            w = int(rng.integers((rc - 1) * rtw + 1, rc * rtw + 1))
            yield f"tiles? random {j}: {rr}x{rc} grid of {rth}x{rtw}, {h}x{w}", repack(
                c, height=h, width=w, extensions=table(0, rr, rc, rth, rtw))
        elif k == 1:  # random table bytes
            yield f"tiles? random {j}: table bytes", repack(
                c, extensions={**c.extensions, "tiles": rng.bytes(9)})
        else:  # random bit flips in the stream
            yield f"tiles? random {j}: bit flips", repack(c, streams=[_flip(c.streams[0], rng,
                                                                         int(rng.integers(1, 9)))])
