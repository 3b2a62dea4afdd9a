"""Tests of jlic.entropy.bitstream: round trip, every documented error, corruption and truncation."""

import struct
import time
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jlic.entropy import bitstream, cdf, coder
from jlic.entropy.bitstream import BitstreamError, Container


def real_container() -> bytes:
    tables = cdf.from_pmf(np.array([[0.1, 0.2, 0.4, 0.2, 0.1]]), [-2], [5])
    rng = np.random.default_rng(0)
    symbols = rng.integers(-4, 5, 300).astype(np.int32)
    streams = [coder.encode(symbols, np.zeros(300, np.int32), tables), b"", b"\x07" * 5]
    return bitstream.pack(Container("bmshj2018-hyperprior", bitstream.config_hash("m", {"N": 8}), 7, 5, 3, 8,
                                    (0, 1, 2, 3), streams))


REAL = real_container()


def test_round_trip():
    expected = bitstream.config_hash("m", {"N": 8})
    c = bitstream.unpack(REAL, expected_name="bmshj2018-hyperprior", expected_hash=expected)
    assert (c.height, c.width, c.channels, c.bit_depth, c.padding, c.coder) == (7, 5, 3, 8, (0, 1, 2, 3), "ans")
    assert c.streams[1:] == [b"", b"\x07" * 5]


def test_config_hash_is_canonical():
    assert bitstream.config_hash("a", {"N": 1, "M": 2}) == bitstream.config_hash("a", {"M": 2, "N": 1})
    assert bitstream.config_hash("a", {"N": 1}) != bitstream.config_hash("a", {"N": 2})


def _recrc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "truncated"),
        (b"PNG\x89" + REAL[4:], "not a .jlic"),
        (REAL[:4] + b"\x09" + REAL[5:], "unsupported .jlic format version 9"),
        (REAL[:4] + b"\x01" + REAL[5:], "format version 1 .one stream per latent"),
        (REAL[:-1], "truncated"),
        (REAL + b"\x00", "trailing"),
        (REAL[:-1] + bytes([REAL[-1] ^ 1]), "CRC32"),
        (REAL[:30], "truncated"),
    ],
)
def test_errors_say_what_is_wrong(data, message):
    with pytest.raises(BitstreamError, match=message):
        bitstream.unpack(data)


def test_foreign_model_or_config():
    with pytest.raises(BitstreamError, match="encoded with model 'bmshj2018-hyperprior'"):
        bitstream.unpack(REAL, expected_name="mbt2018-mean")
    with pytest.raises(BitstreamError, match="another 'bmshj2018-hyperprior' configuration"):
        bitstream.unpack(REAL, expected_name="bmshj2018-hyperprior", expected_hash=b"\x00" * 8)


def test_sizes_over_cap_are_rejected_before_allocation():
    name = b"m"
    head = struct.pack("<4sBBB", b"JLIC", bitstream.FORMAT_VERSION, 0, 1) + name + b"\x00" * 8
    huge = struct.pack("<IIBBHHHHB", 2**31, 2**31, 3, 8, 0, 0, 0, 0, 0)
    with pytest.raises(BitstreamError, match="cap"):
        bitstream.unpack(_recrc(head + huge))
    many = struct.pack("<IIBBHHHHB", 4, 4, 3, 8, 0, 0, 0, 0, 255)
    with pytest.raises(BitstreamError, match="cap"):
        bitstream.unpack(_recrc(head + many))
    # A declared stream length far beyond the file: rejected as truncated without reading it.
    one = struct.pack("<IIBBHHHHB", 4, 4, 3, 8, 0, 0, 0, 0, 1) + b"\x00" + struct.pack("<I", 2**32 - 1)
    with pytest.raises(BitstreamError, match="truncated"):
        bitstream.unpack(_recrc(head + one))
    with pytest.raises(ValueError):
        bitstream.pack(Container("m", b"\x00" * 8, 0, 5))


@settings(max_examples=300, deadline=None)
@given(pos=st.integers(0, len(REAL) - 1), value=st.integers(1, 255))
def test_every_single_byte_corruption_is_detected(pos, value):
    data = bytearray(REAL)
    data[pos] ^= value
    t = time.perf_counter()
    with pytest.raises(BitstreamError):
        bitstream.unpack(bytes(data))
    assert time.perf_counter() - t < 0.5


def test_every_truncation_is_detected():
    for n in range(len(REAL)):
        with pytest.raises(BitstreamError):
            bitstream.unpack(REAL[:n])


def test_header_extensions_round_trip_and_unknown_tags_are_refused():
    c = bitstream.unpack(REAL)
    assert c.extensions == {}
    ext = {"rate_level": struct.pack("<d", 2.5), "tiles": b"\x01\x02"}
    data = bitstream.pack(Container(c.model_name, c.config_hash, 7, 5, streams=c.streams, extensions=ext))
    assert bitstream.unpack(data).extensions == ext
    with pytest.raises(ValueError, match="unknown header extension"):
        bitstream.pack(Container("m", b"\x00" * 8, 4, 4, extensions={"colour": b"\x01"}))
    with pytest.raises(ValueError, match="1..255 bytes"):
        bitstream.pack(Container("m", b"\x00" * 8, 4, 4, extensions={"tiles": b""}))
    head = struct.pack("<4sBBB", b"JLIC", bitstream.FORMAT_VERSION, 0, 1) + b"m" + b"\x00" * 8
    image = struct.pack("<IIBBHHHHB", 4, 4, 3, 8, 0, 0, 0, 0, 0)
    with pytest.raises(BitstreamError, match="unknown header extension tag 99"):
        bitstream.unpack(_recrc(head + image + b"\x01\x63\x01\x00"))
    twice = b"\x02" + (b"\x01\x01\x05") * 2
    with pytest.raises(BitstreamError, match="given twice"):
        bitstream.unpack(_recrc(head + image + twice))


def test_format_2_files_still_read():
    """Files written before the header extensions (format 2) have no extension count byte."""
    c = bitstream.unpack(REAL)
    head = struct.pack("<4sBBB", b"JLIC", 2, 0, len(c.model_name)) + c.model_name.encode() + c.config_hash
    image = struct.pack("<IIBBHHHHB", 7, 5, 3, 8, 0, 1, 2, 3, len(c.streams))
    body = head + image + struct.pack(f"<{len(c.streams)}I", *map(len, c.streams)) + b"".join(c.streams)
    old = bitstream.unpack(_recrc(body))
    assert old.streams == c.streams and old.extensions == {}
