"""Crafted `.jlic` files for the fuzz tests: mutations of a valid file with the CRC recomputed, so the
container check passes and the model's decoder itself reads the crafted streams and header.

Public API only (`jlic.coding.bitstream` pack/unpack, `jlic.coding.codec`, `jlic.models`), so the same
cases run on any implementation of the models' latent codecs.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib
from collections.abc import Iterator

import numpy as np

from jlic.coding import bitstream
from jlic.coding.bitstream import Container


def repack(c: Container, **changes) -> bytes:
    """`c` with `changes`, serialized without `pack`'s validation (crafted fields pass through) and with
    a correct CRC."""
    c = dataclasses.replace(c, **changes)
    name = c.model_name.encode("ascii")
    body = b"".join([
        struct.pack("<4sBBB", bitstream.MAGIC, bitstream.FORMAT_VERSION, bitstream.CODER_IDS[c.coder],
                    len(name)),
        name, c.config_hash,
        struct.pack("<IIBBHHHHB", c.height, c.width, c.channels, c.bit_depth, *c.padding, len(c.streams)),
        bitstream._pack_extensions(c.extensions),
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
