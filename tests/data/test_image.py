import numpy as np
import pytest
from PIL import Image

from jlic.data.image import ImageReadError, read_image, to_rgb8


def test_grey_to_rgb():
    g = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = to_rgb8(g)
    assert out.shape == (3, 4, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[..., 0], g)
    np.testing.assert_array_equal(out[..., 2], g)


def test_rgba_drops_alpha():
    a = np.random.default_rng(0).integers(0, 256, (5, 6, 4), dtype=np.uint8)
    np.testing.assert_array_equal(to_rgb8(a), a[..., :3])


def test_16bit_to_8bit():
    a = np.array([[0, 257 * 128, 65535]], dtype=np.uint16)
    np.testing.assert_array_equal(to_rgb8(a)[0, :, 0], [0, 128, 255])


def test_read_files(tmp_path):
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    Image.fromarray(np.concatenate([rgb, rgb[..., :1]], -1), "RGBA").save(tmp_path / "b.png")
    Image.fromarray(rgb[..., 0]).save(tmp_path / "c.png")
    Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(tmp_path / "d.png")
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), rgb)
    np.testing.assert_array_equal(read_image(tmp_path / "b.png"), rgb)
    np.testing.assert_array_equal(read_image(tmp_path / "c.png")[..., 1], rgb[..., 0])
    d = read_image(tmp_path / "d.png")
    assert d.dtype == np.uint8 and d.shape == (7, 9, 3)
    np.testing.assert_array_equal(d[..., 0], rgb[..., 0])


def test_unreadable_names_file(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(ImageReadError, match="bad.png"):
        read_image(tmp_path / "bad.png")
