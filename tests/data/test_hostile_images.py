"""Every kind of image Pillow opens either decodes to what a viewer shows or is refused in one line."""

import errno
import io
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms

from jlic.data.image import ImageReadError, read_image, read_image_with_warnings


def _rgb(h=6, w=9, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3)).astype(np.uint8)


def _chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def _png(w, h, depth, color, raw, declared=None):
    """A PNG written byte by byte (16-bit RGB, absurd sizes); `declared` overrides the IHDR size."""
    dw, dh = declared or (w, h)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", dw, dh, depth, color, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b""))


def _save(tmp_path, name, img, **kw):
    path = tmp_path / name
    img.save(path, **kw)
    return path


def _grey3(g):
    return np.repeat(g[..., None], 3, -1)


def test_modes_decode_as_pillow_shows_them(tmp_path):
    rgb = _rgb()
    grey = rgb[..., 0]
    cases = {  # file -> (expected pixels, warning substring or None)
        "rgb.png": (Image.fromarray(rgb), rgb, None),
        "grey.png": (Image.fromarray(grey), np.repeat(grey[..., None], 3, -1), None),
        "bits.png": (Image.fromarray(grey > 127), _grey3(((grey > 127) * 255).astype(np.uint8)), None),
        "la.png": (Image.fromarray(np.stack([grey, grey], -1), "LA"), _grey3(grey), "alpha"),
        "rgba.png": (Image.fromarray(np.concatenate([rgb, rgb[..., :1]], -1), "RGBA"), rgb, "alpha"),
    }
    pal = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    cases["palette.png"] = (pal, np.asarray(pal.convert("RGB")), None)
    pal_t = pal.copy()
    pal_t.info["transparency"] = 0
    cases["palette_t.png"] = (pal_t, np.asarray(pal.convert("RGB")), "alpha")
    cmyk = Image.fromarray(rgb).convert("CMYK")
    cases["cmyk.tif"] = (cmyk, np.asarray(cmyk.convert("RGB")), None)
    g16 = (grey.astype(np.uint16) * 257 + 3)
    cases["grey16.png"] = (Image.fromarray(g16), _grey3(np.round(g16 / 257).astype(np.uint8)), "16-bit")
    for name, (img, expected, warning) in cases.items():
        path = _save(tmp_path, name, img, **({"transparency": 0} if name == "palette_t.png" else {}))
        out, warnings = read_image_with_warnings(path)
        np.testing.assert_array_equal(out, expected, err_msg=name)
        assert out.dtype == np.uint8 and out.shape == (6, 9, 3)
        assert (any(warning in w for w in warnings) if warning else not warnings), (name, warnings)


def test_16bit_rgb_png(tmp_path):
    a16 = np.random.default_rng(2).integers(0, 65536, (5, 7, 3)).astype(np.uint16)
    raw = b"".join(b"\x00" + a16[i].astype(">u2").tobytes() for i in range(5))
    path = tmp_path / "rgb16.png"
    path.write_bytes(_png(7, 5, 16, 2, raw))
    out, warnings = read_image_with_warnings(path)
    assert np.abs(out.astype(int) - np.round(a16 / 257)).max() <= 1  # Pillow keeps the high byte
    assert any("16-bit" in w for w in warnings)


def test_exif_orientation_is_applied(tmp_path):
    rgb = _rgb(4, 6)
    for orientation, expect in [(3, rgb[::-1, ::-1]), (6, np.rot90(rgb, -1)), (8, np.rot90(rgb, 1))]:
        exif = Image.Exif()
        exif[0x0112] = orientation
        path = _save(tmp_path, f"o{orientation}.png", Image.fromarray(rgb), exif=exif)
        np.testing.assert_array_equal(read_image(path), expect, err_msg=str(orientation))


def test_icc_profile_is_applied(tmp_path):
    rgb = _rgb()
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = _save(tmp_path, "icc.png", Image.fromarray(rgb), icc_profile=srgb)
    assert np.abs(read_image(path).astype(int) - rgb).max() <= 2  # sRGB -> sRGB: the same colours
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    path = _save(tmp_path, "junk_icc.png", Image.fromarray(rgb), icc_profile=b"junk" + lab[:40])
    out, warnings = read_image_with_warnings(path)  # a broken profile: raw values, with a warning
    np.testing.assert_array_equal(out, rgb)
    assert any("ICC" in w for w in warnings)


def test_multi_frame_gives_first_frame_with_warning(tmp_path):
    frames = [Image.fromarray(_rgb(seed=i)) for i in range(3)]
    path = tmp_path / "pages.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    out, warnings = read_image_with_warnings(path)
    np.testing.assert_array_equal(out, np.asarray(frames[0]))
    assert any("3 frames" in w for w in warnings)
    gif = tmp_path / "anim.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=50)
    out, warnings = read_image_with_warnings(gif)
    np.testing.assert_array_equal(out, np.asarray(Image.open(gif).convert("RGB")))
    assert any("frames" in w for w in warnings)


def test_float_and_int32(tmp_path):
    f = np.random.default_rng(3).random((4, 5)).astype(np.float32)
    path = _save(tmp_path, "f.tif", Image.fromarray(f, "F"))
    np.testing.assert_array_equal(read_image(path)[..., 0], np.round(f * 255).astype(np.uint8))
    path = _save(tmp_path, "big_f.tif", Image.fromarray(f * 10, "F"))
    with pytest.raises(ImageReadError, match="big_f.tif.*outside"):
        read_image(path)
    i = (f * 60000).astype(np.int32)
    path = _save(tmp_path, "i.tif", Image.fromarray(i, "I"))
    np.testing.assert_array_equal(read_image(path)[..., 0], np.round(i / 257).astype(np.uint8))


def test_bombs_refused_from_the_header_with_a_raisable_limit(tmp_path, monkeypatch):
    import tracemalloc

    bomb = tmp_path / "bomb.png"  # declares 60000 x 60000 (3.6 Gpx, 10.8 GB of RGB) in a 70-byte file
    bomb.write_bytes(_png(1, 1, 8, 2, b"\x00\x00\x00\x00", declared=(60000, 60000)))
    tracemalloc.start()
    with pytest.raises(ImageReadError, match=r"bomb.png is 60000x60000 = 3600000000 pixels, over the limit"):
        read_image(bomb)
    assert tracemalloc.get_traced_memory()[1] < 10 << 20
    tracemalloc.stop()
    big = _save(tmp_path, "big.png", Image.fromarray(np.zeros((300, 400, 3), np.uint8)))
    with pytest.raises(ImageReadError, match="over the limit of 100000"):
        read_image(big, max_pixels=100_000)
    monkeypatch.setenv("JLIC_MAX_PIXELS", "100000")
    with pytest.raises(ImageReadError, match="JLIC_MAX_PIXELS"):
        read_image(big)
    monkeypatch.setenv("JLIC_MAX_PIXELS", "200000")
    assert read_image(big).shape == (300, 400, 3)


def test_broken_files_are_one_line_errors(tmp_path):
    good = io.BytesIO()
    Image.fromarray(_rgb(64, 64)).save(good, format="PNG")
    (tmp_path / "cut.png").write_bytes(good.getvalue()[:200])
    jpg = io.BytesIO()
    Image.fromarray(_rgb(64, 64)).save(jpg, format="JPEG")
    (tmp_path / "cut.jpg").write_bytes(jpg.getvalue()[: len(jpg.getvalue()) // 3])
    (tmp_path / "text.png").write_text("hello")
    (tmp_path / "empty.png").write_bytes(b"")
    os.mkfifo(tmp_path / "fifo.png")  # opening it would block forever
    (tmp_path / "folder.png").mkdir()
    for name in ["cut.png", "cut.jpg", "text.png", "empty.png", "fifo.png", "folder.png", "missing.png"]:
        with pytest.raises(ImageReadError) as info:
            read_image(tmp_path / name)
        msg = str(info.value)
        assert name in msg and "\n" not in msg and len(msg) < 400, msg


def test_unreadable_file_is_refused_in_one_line(tmp_path, monkeypatch):
    """The error open(2) gives a file without read permission (EACCES), raised where Pillow opens it: the
    refusal is checked whoever runs the suite (root, as CI runs it, reads a chmod 0 file)."""
    secret = tmp_path / "secret.png"
    Image.fromarray(_rgb()).save(secret)

    def denied(fp, *args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(fp))

    monkeypatch.setattr(Image, "open", denied)
    with pytest.raises(ImageReadError, match="secret.png: permission denied") as info:
        read_image(secret)
    assert "\n" not in str(info.value)


def test_chmod_0_file_is_refused(tmp_path):
    """The same refusal from the real file system (needs a user that permissions apply to)."""
    if os.geteuid() == 0:
        pytest.skip("root reads a chmod 0 file; test_unreadable_file_is_refused_in_one_line checks the refusal")
    secret = tmp_path / "secret.png"
    Image.fromarray(_rgb()).save(secret)
    secret.chmod(0)
    with pytest.raises(ImageReadError, match="secret.png: permission denied"):
        read_image(secret)
