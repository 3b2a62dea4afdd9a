"""The ``.jlic`` container: header, length-prefixed entropy-coded streams, CRC32.

Layout (all integers little-endian)::

    offset  size  field
    0       4     magic b"JLIC"
    4       1     format version (FORMAT_VERSION)
    5       1     coder backend id (0 = ANS, 1 = range coder) in the low 4 bits; coding mode in the high
                  4 bits (0 = float networks, 1 = deterministic: jlic.fixedpoint, exact table indexes)
    6       1     n = length of the model name (1..MAX_NAME)
    7       n     model name, ASCII (registry name, e.g. "bmshj2018-hyperprior")
    7+n     8     config hash: first 8 bytes of SHA-256 of the model's canonical JSON config
    ..      4+4   image height, width (uint32, 1..MAX_SIDE, height * width <= MAX_PIXELS)
    ..      1+1   channels (1..4), bit depth of the source (1..16)
    ..      4x2   padding top, bottom, left, right (uint16, each < MAX_PAD)
    ..      1     number of streams k (0..MAX_STREAMS)
    ..      1     (format >= 3) number e of header extensions (0..MAX_EXTENSIONS), then e times:
                  tag (1 byte, a value of EXTENSION_TAGS), length m (1 byte), m value bytes
    ..      4k    byte length of each stream (uint32)
    ..      ...   the streams, concatenated
    end-4   4     CRC32 of every byte before it

A decoder checks, in this order: size, magic, version, header fields against hard caps, that the
declared stream lengths add up to the file size, the CRC, and (if asked) that model name and config hash
match the checkpoint. Every failure raises :class:`BitstreamError` with a message saying what is wrong;
no allocation is sized by anything but the header's capped fields. The model's decoder then checks the
container against what it writes and its memory bound (a formula of the header, capped by
``$JLIC_MAX_DECODE_BYTES``: :mod:`jlic.codec.limits`) before decoding anything.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

MAGIC = b"JLIC"
FORMAT_VERSION = 3  # 3: header extensions; 2: ONE coded stream ending on a check word; 1: one per latent
READABLE_VERSIONS = (2, 3)
MAX_NAME = 64
MAX_SIDE = 1 << 16
MAX_PIXELS = 1 << 28
MAX_PAD = 1024
MAX_STREAMS = 32
CODER_IDS = {"ans": 0, "range": 1}
MODE_IDS = {"float": 0, "deterministic": 1}  # high nibble of the coder byte (0 in every older file)
# Header extensions: optional named fields a decoder needs besides the image geometry. Each feature that adds
# one registers its tag here and owns the meaning of its bytes (e.g. the rate level of a variable-rate model,
# the tile table of a tiled image). A reader refuses tags it does not know, so an old jlic never mis-decodes
# a new file.
EXTENSION_TAGS = {"rate_level": 1, "tiles": 2}
MAX_EXTENSIONS = 8
_FIXED = struct.Struct("<4sBBB")
_IMAGE = struct.Struct("<IIBBHHHHB")
_CRC = struct.Struct("<I")


class BitstreamError(ValueError):
    """A ``.jlic`` file or entropy-coded stream is corrupt, truncated, foreign or over a size cap."""


def config_hash(name: str, config: dict[str, Any]) -> bytes:
    """8-byte fingerprint of a model's name and constructor config (canonical JSON, SHA-256)."""
    text = json.dumps({"name": name, "config": config}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).digest()[:8]


@dataclass(frozen=True)
class Container:
    """The decoded contents of a ``.jlic`` file."""

    model_name: str
    config_hash: bytes
    height: int
    width: int
    channels: int = 3
    bit_depth: int = 8
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)  # top, bottom, left, right
    streams: list[bytes] = field(default_factory=list)
    coder: str = "ans"
    mode: str = "float"
    extensions: dict[str, bytes] = field(default_factory=dict)  # name (a key of EXTENSION_TAGS) -> value bytes


def pack(c: Container) -> bytes:
    """Serialize a container (validating every field against the caps the decoder enforces)."""
    name = c.model_name.encode("ascii")
    _check_fields(len(name), c.height, c.width, c.channels, c.bit_depth, c.padding, len(c.streams))
    if len(c.config_hash) != 8:
        raise ValueError("config_hash must be 8 bytes")
    if c.coder not in CODER_IDS:
        raise ValueError(f"unknown coder {c.coder!r}")
    if c.mode not in MODE_IDS:
        raise ValueError(f"unknown coding mode {c.mode!r}; expected one of {tuple(MODE_IDS)}")
    parts = [
        _FIXED.pack(MAGIC, FORMAT_VERSION, CODER_IDS[c.coder] | MODE_IDS[c.mode] << 4, len(name)),
        name,
        c.config_hash,
        _IMAGE.pack(c.height, c.width, c.channels, c.bit_depth, *c.padding, len(c.streams)),
        _pack_extensions(c.extensions),
        struct.pack(f"<{len(c.streams)}I", *(len(s) for s in c.streams)),
        *c.streams,
    ]
    body = b"".join(parts)
    return body + _CRC.pack(zlib.crc32(body))


def unpack(data: bytes, expected_name: str | None = None, expected_hash: bytes | None = None) -> Container:
    """Parse and verify a ``.jlic`` file; see the module docstring for the checks and their order."""
    data = bytes(data)
    if len(data) < _FIXED.size:
        raise BitstreamError(f"truncated .jlic file: {len(data)} bytes, shorter than the fixed header")
    magic, version, coder_id, name_len = _FIXED.unpack_from(data)
    if magic != MAGIC:
        raise BitstreamError(f"not a .jlic file (magic {magic!r}, expected {MAGIC!r})")
    if version == 1:
        raise BitstreamError("unsupported .jlic format version 1 (one stream per latent, before the latent "
                             f"codecs); this jlic reads {FORMAT_VERSION}: re-encode the image")
    if version not in READABLE_VERSIONS:
        raise BitstreamError(f"unsupported .jlic format version {version} (this jlic reads "
                             f"{READABLE_VERSIONS})")
    coders = {v: k for k, v in CODER_IDS.items()}
    modes = {v: k for k, v in MODE_IDS.items()}
    coder_id, mode_id = coder_id & 0x0F, coder_id >> 4
    if coder_id not in coders:
        raise BitstreamError(f"unknown entropy coder id {coder_id}")
    if mode_id not in modes:
        raise BitstreamError(f"unknown coding mode id {mode_id} (this jlic knows {dict(modes)})")
    if not 1 <= name_len <= MAX_NAME:
        raise BitstreamError(f"model name length {name_len} outside 1..{MAX_NAME}")
    pos = _FIXED.size
    need = pos + name_len + 8 + _IMAGE.size
    if len(data) < need + _CRC.size:
        raise BitstreamError(f"truncated .jlic file: {len(data)} bytes, header needs {need + _CRC.size}")
    name_bytes = data[pos:pos + name_len]
    pos += name_len
    chash = data[pos:pos + 8]
    pos += 8
    h, w, ch, depth, pt, pb, pl, pr, k = _IMAGE.unpack_from(data, pos)
    pos += _IMAGE.size
    try:
        _check_fields(name_len, h, w, ch, depth, (pt, pb, pl, pr), k)
    except ValueError as e:
        raise BitstreamError(f"header over a cap or invalid: {e}") from None
    extensions: dict[str, bytes] = {}
    if version >= 3:
        extensions, pos = _unpack_extensions(data, pos)
    if len(data) < pos + 4 * k + _CRC.size:
        raise BitstreamError(f"truncated .jlic file: {len(data)} bytes, stream table needs {pos + 4 * k + 4}")
    lengths = struct.unpack_from(f"<{k}I", data, pos)
    pos += 4 * k
    declared = pos + sum(lengths) + _CRC.size
    if declared != len(data):
        what = "truncated" if declared > len(data) else "trailing bytes in"
        raise BitstreamError(f"{what} .jlic file: header declares {declared} bytes, file has {len(data)}")
    (crc,) = _CRC.unpack_from(data, len(data) - _CRC.size)
    if zlib.crc32(data[:-_CRC.size]) != crc:
        raise BitstreamError("CRC32 mismatch: the .jlic file is corrupt")
    try:
        name = name_bytes.decode("ascii")
    except UnicodeDecodeError:
        raise BitstreamError("model name is not ASCII") from None
    if expected_name is not None and name != expected_name:
        raise BitstreamError(f"file was encoded with model {name!r}, but the checkpoint is {expected_name!r}")
    if expected_hash is not None and chash != expected_hash:
        raise BitstreamError(
            f"file was encoded with another {name!r} configuration or checkpoint (hash {chash.hex()}, this has "
            f"{expected_hash.hex()})"
        )
    streams = []
    for n in lengths:
        streams.append(data[pos:pos + n])
        pos += n
    return Container(name, chash, h, w, ch, depth, (pt, pb, pl, pr), streams, coders[coder_id], modes[mode_id],
                     extensions)


def _pack_extensions(ext: dict[str, bytes]) -> bytes:
    if len(ext) > MAX_EXTENSIONS:
        raise ValueError(f"{len(ext)} header extensions, more than {MAX_EXTENSIONS}")
    out = [bytes([len(ext)])]
    for key, value in sorted(ext.items(), key=lambda kv: EXTENSION_TAGS.get(kv[0], 0)):
        if key not in EXTENSION_TAGS:
            raise ValueError(f"unknown header extension {key!r}; known: {tuple(EXTENSION_TAGS)}")
        value = bytes(value)
        if not 1 <= len(value) <= 255:
            raise ValueError(f"header extension {key!r} must have 1..255 bytes, has {len(value)}")
        out.append(bytes([EXTENSION_TAGS[key], len(value)]) + value)
    return b"".join(out)


def _unpack_extensions(data: bytes, pos: int) -> tuple[dict[str, bytes], int]:
    names = {v: k for k, v in EXTENSION_TAGS.items()}
    if len(data) < pos + 1 + _CRC.size:
        raise BitstreamError("truncated .jlic file: no header extension count")
    e = data[pos]
    pos += 1
    if e > MAX_EXTENSIONS:
        raise BitstreamError(f"{e} header extensions, more than {MAX_EXTENSIONS}")
    ext: dict[str, bytes] = {}
    for _ in range(e):
        if len(data) < pos + 2 + _CRC.size:
            raise BitstreamError("truncated .jlic file inside the header extensions")
        tag, m = data[pos], data[pos + 1]
        pos += 2
        if tag not in names:
            raise BitstreamError(f"unknown header extension tag {tag} (this jlic knows {names}): the file "
                                 "needs a newer jlic")
        if m == 0 or len(data) < pos + m + _CRC.size:
            raise BitstreamError(f"header extension {names[tag]!r} of {m} bytes is empty or truncated")
        if names[tag] in ext:
            raise BitstreamError(f"header extension {names[tag]!r} given twice")
        ext[names[tag]] = data[pos:pos + m]
        pos += m
    return ext, pos


def _check_fields(
    name_len: int, h: int, w: int, ch: int, depth: int, padding: tuple[int, ...], k: int
) -> None:
    if not 1 <= name_len <= MAX_NAME:
        raise ValueError(f"model name must have 1..{MAX_NAME} bytes")
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE) or h * w > MAX_PIXELS:
        raise ValueError(f"image size {h}x{w} outside 1..{MAX_SIDE} per side / {MAX_PIXELS} pixels")
    if not 1 <= ch <= 4 or not 1 <= depth <= 16:
        raise ValueError(f"channels {ch} / bit depth {depth} outside 1..4 / 1..16")
    if len(padding) != 4 or any(not 0 <= p < MAX_PAD for p in padding):
        raise ValueError(f"padding {padding} outside 0..{MAX_PAD - 1}")
    if not 0 <= k <= MAX_STREAMS:
        raise ValueError(f"{k} streams, more than {MAX_STREAMS}")
