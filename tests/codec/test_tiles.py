"""Tiled coding (jlic.codec.tiles): tiles decode bit-exactly as images of their own, the grid is checked."""

import struct

import numpy as np
import pytest

from jlic.codec import codec, limits, tiles
from jlic.entropy import bitstream
from jlic.entropy.bitstream import BitstreamError
from tests.codec.fuzz_cases import repack


def image(h, w, seed=0):
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 1, h * w * 3).reshape(h, w, 3)
    return (np.clip(base + 0.2 * rng.standard_normal((h, w, 3)), 0, 1) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def hyper(small_model):
    model, params = small_model("bmshj2018-hyperprior")
    c = codec.Codec(model, params)
    c.tile, c.tile_above = 64, 0  # tile side = the stride: every tile (edge ones too) pads to one 64x64 shape
    return c


@pytest.mark.parametrize("h, w", [(2049, 2048), (4096, 4096), (5000, 3001), (70000 // 64, 999), (65, 1)])
def test_plan_covers_the_image_with_stride_multiples(h, w):
    g = tiles.plan(h, w, 64, side=1024, above=0)
    assert g.th % 64 == 0 and g.tw % 64 == 0 and g.th <= 1024 + 63 and g.tw <= 1024 + 63
    covered = np.zeros((h, w), np.int8)
    for t, left, th, tw in g.boxes():
        assert th >= 1 and tw >= 1
        covered[t:t + th, left:left + tw] += 1
    assert covered.min() == covered.max() == 1
    assert tiles.plan(2048, 2048, 64) is None and tiles.plan(2049, 2048, 64) is not None  # default threshold
    assert tiles.plan(h, w, 64, side=0, above=0) is None


def test_tiled_round_trip_is_bit_exact_and_each_tile_decodes_as_its_own_image(hyper):
    img = image(150, 200)  # 3 x 4 tiles; the last row is 22 px high and the last column 8 px wide
    grid = tiles.plan(150, 200, 64, side=64, above=0)
    assert (grid.rows, grid.cols) == (3, 4)
    data, latents = tiles.compress(hyper, img, grid)
    assert hyper.compress(img) == data
    c = bitstream.unpack(data)
    assert len(c.streams) == 1 and c.extensions == {"tiles": grid.to_bytes()} and c.padding == (0, 0, 0, 0)
    decoded = list(tiles.decode_tiles(hyper, c))
    assert len(decoded) == len(latents) == 12
    for (_, _, _, got), want in zip(decoded, latents, strict=True):
        assert got.keys() == want.keys()
        for k in want:
            np.testing.assert_array_equal(got[k], want[k], err_msg=k)
    out = hyper.decompress(data)
    assert out.shape == img.shape and out.dtype == np.uint8
    alone = codec.Codec(hyper.model, hyper.params, hyper.tables)
    alone.tile = 0
    for (t, left, th, tw), (t2, l2, tile, _) in zip(grid.boxes(), decoded, strict=True):
        assert (t, left) == (t2, l2)
        crop = img[t:t + th, left:left + tw]
        np.testing.assert_array_equal(out[t:t + th, left:left + tw], alone.decompress(alone.compress(crop)))
        np.testing.assert_array_equal(tile, out[t:t + th, left:left + tw])
    with pytest.raises(BitstreamError, match="tile by tile"):
        hyper.decompress_latents(data)


def test_small_images_are_not_tiled_and_their_bytes_do_not_change(small_model):
    model, params = small_model("bmshj2018-hyperprior")
    c = codec.Codec(model, params)  # default settings: tiles only above 2048² pixels
    img = image(50, 60, seed=3)
    data = c.compress(img)
    assert data == c.compress_with_latents(img)[0] and bitstream.unpack(data).extensions == {}


@pytest.fixture(scope="module")
def tiled_file(hyper):
    img = image(100, 70, seed=1)  # 2 x 2 tiles
    return bitstream.unpack(hyper.compress(img))


def _table(rows, cols, th, tw, kind=0):
    return struct.pack("<BHHHH", kind, rows, cols, th, tw)


@pytest.mark.parametrize("label, changes, match", [
    ("rows + 1", {"extensions": {"tiles": _table(3, 2, 64, 64)}}, "does not cover"),
    ("cols - 1", {"extensions": {"tiles": _table(2, 1, 64, 64)}}, "does not cover"),
    ("height + a tile", {"height": 164}, "does not cover"),
    ("side not a stride multiple", {"extensions": {"tiles": _table(2, 2, 65, 64)}}, "multiple of the model"),
    ("zero side", {"extensions": {"tiles": _table(0, 2, 0, 64)}}, "multiple of the model"),
    ("smaller tiles, more of them", {"extensions": {"tiles": _table(4, 4, 32, 32)}}, "multiple of the model"),
    ("unknown kind", {"extensions": {"tiles": _table(2, 2, 64, 64, kind=1)}}, "kind 1"),
    ("short table", {"extensions": {"tiles": b"\x00\x02"}}, "2 bytes"),
    ("container padding", {"padding": (0, 0, 1, 0)}, "padding"),
    ("two streams", "two streams", "expected 1 entropy-coded stream"),
    ("stream cut", "stream cut", "check word|cannot be decoded|trailing"),
])
def test_crafted_tile_tables_are_refused(hyper, tiled_file, label, changes, match):
    if changes == "two streams":
        changes = {"streams": tiled_file.streams * 2}
    elif changes == "stream cut":
        changes = {"streams": [tiled_file.streams[0][:-8]]}
    with pytest.raises(BitstreamError, match=match) as e:
        hyper.decompress(repack(tiled_file, **changes))
    assert "\n" not in str(e.value), label


def test_tiled_files_obey_the_pixel_and_memory_caps(hyper, tiled_file, monkeypatch):
    data = repack(tiled_file)
    bound = limits.tiled_decode_memory_bound(hyper.model, hyper.params, 64, 64, 100 * 70)
    assert bound == limits.decode_memory_bound(hyper.model, hyper.params, 64, 64) + 3 * 100 * 70
    assert bound < limits.decode_memory_bound(hyper.model, hyper.params, 128, 128)
    monkeypatch.setenv(limits.MAX_DECODE_BYTES_ENV, str(bound - 1))
    with pytest.raises(BitstreamError, match="over the cap"):
        hyper.decompress(data)
    monkeypatch.setenv(limits.MAX_DECODE_BYTES_ENV, str(bound))
    assert hyper.decompress(data).shape == (100, 70, 3)
    monkeypatch.setenv("JLIC_MAX_PIXELS", str(100 * 70 - 1))
    with pytest.raises(BitstreamError, match=r"more than 6999 pixels.*JLIC_MAX_PIXELS"):
        hyper.decompress(data)


@pytest.mark.parametrize("name", ["he2021-checkerboard", pytest.param("mbt2018", marks=pytest.mark.slow)])
def test_tiled_decode_is_identical_with_another_batch_and_without_jit(small_model, name):
    model, params = small_model(name)
    enc = codec.Codec(model, params)
    enc.tile, enc.tile_above = 64, 0
    img = image(100, 70, seed=2)
    data = enc.compress(img)
    assert len(list(tiles.read_grid(bitstream.unpack(data), 64).boxes())) == 4
    want = enc.decompress(data)
    other = codec.Codec(model, params, enc.tables, jit=False, batch=3)
    np.testing.assert_array_equal(other.decompress(data), want)
