"""Decode image files to RGB uint8 arrays, the way an image viewer shows them, or refuse them in one line.

`read_image_with_warnings(path)` is the one reader (training folders, `python -m jlic compress` / `eval`):

* the size in the header is checked against a pixel limit before any pixel is decoded (decompression
  bombs, absurd header sizes): `max_pixels` argument, `$JLIC_MAX_PIXELS`, default `DEFAULT_MAX_PIXELS`;
* EXIF orientation is applied (a phone photo stored sideways comes back upright);
* an embedded ICC profile is applied (converted to sRGB, littlecms through Pillow), so CMYK and
  wide-gamut files keep their colours; without a profile CMYK is converted by Pillow's formula;
* grey / 1-bit / palette images become RGB; alpha (RGBA, LA, PA, palette transparency) is dropped, with a
  warning; 16-bit grey is scaled to 8 bits (rounded), 16-bit RGB is reduced by Pillow (high byte), both
  with a warning; 32-bit integer / float pixels must be within 0..65535 / [0, 1] or are refused;
* multi-frame files (animated GIF/PNG/WebP, multi-page TIFF, MPO) give their first frame, with a warning;
* everything else that cannot be decoded (truncated data, a directory, no read permission, not an image,
  a mode without an RGB conversion) raises `ImageReadError` with one line naming the file.

All other metadata (EXIF, XMP, text chunks, DPI, gamma) is not coded: a decoded `.jlic` file is plain
8-bit sRGB pixels.
"""

from __future__ import annotations

import io
import os
import struct
import threading
import warnings as _warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from jlic import paths

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".ppm", ".pgm", ".bmp", ".tif", ".tiff", ".webp")
DEFAULT_MAX_PIXELS = 1 << 26  # 67 Mpx, e.g. 8192 x 8192; raise with max_pixels= or $JLIC_MAX_PIXELS
MAX_PIXELS_ENV = "JLIC_MAX_PIXELS"


class ImageReadError(ValueError):
    """An image file that cannot be decoded (or is refused)."""


def max_pixels_limit(max_pixels: int | None = None) -> int:
    """The pixel limit in force: the argument, else `$JLIC_MAX_PIXELS`, else `DEFAULT_MAX_PIXELS`."""
    if max_pixels is not None:
        return int(max_pixels)
    env = os.environ.get(MAX_PIXELS_ENV)
    if env:
        try:
            return int(float(env))
        except ValueError:
            raise ImageReadError(f"${MAX_PIXELS_ENV}={env!r} is not a number of pixels") from None
    return DEFAULT_MAX_PIXELS


def to_rgb8(array: np.ndarray) -> np.ndarray:
    """Convert an (H, W), (H, W, 1|2|3|4) array of any integer or float dtype to (H, W, 3) uint8.

    Grey images are repeated over three channels, an alpha channel is dropped, 16-bit values are
    scaled down to 8 bits (rounded), floats are taken to be in [0, 1].
    """
    a = np.asarray(array)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[-1] not in (1, 2, 3, 4):
        raise ImageReadError(f"expected an (H, W[, C]) image with C in 1..4, got shape {a.shape}")
    if a.shape[-1] in (2, 4):  # grey+alpha or RGBA: drop alpha
        a = a[..., :-1]
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a)
    if a.dtype == np.uint16 or (np.issubdtype(a.dtype, np.integer) and a.max(initial=0) > 255):
        return np.round(a.astype(np.float64) * (255.0 / 65535.0)).clip(0, 255).astype(np.uint8)
    if np.issubdtype(a.dtype, np.integer) or a.dtype == np.bool_:
        return a.clip(0, 255).astype(np.uint8)
    return np.round(np.clip(a.astype(np.float64), 0.0, 1.0) * 255.0).astype(np.uint8)


def _apply_icc(img: Image.Image, notes: list[str]) -> Image.Image:
    icc = img.info.get("icc_profile")
    if not icc or img.mode not in ("RGB", "RGBA", "CMYK", "L", "LA"):
        return img
    try:
        from PIL import ImageCms

        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        alpha = img.getchannel("A") if img.mode in ("RGBA", "LA") else None
        base = img.convert({"RGBA": "RGB", "LA": "L"}.get(img.mode, img.mode))
        out = ImageCms.profileToProfile(base, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
        if alpha is not None:
            out.putalpha(alpha)
        return out
    except Exception as e:  # noqa: BLE001 - a broken profile: fall back to the raw values
        notes.append(f"embedded ICC profile not applied ({type(e).__name__}); colours are the stored values")
        return img


def _decode(img: Image.Image, notes: list[str]) -> np.ndarray:
    mode = img.mode
    rawmode = img.tile[0][3] if img.tile and len(img.tile[0]) > 3 else None
    frames = int(getattr(img, "n_frames", 1) or 1)
    if frames > 1:
        notes.append(f"{frames} frames: only the first is coded")
        img.seek(0)
    sixteen = isinstance(rawmode, str) and ";16" in rawmode and mode in ("RGB", "RGBA")
    img.load()
    img = ImageOps.exif_transpose(img) or img
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in img.info):
        notes.append("alpha channel dropped (jlic codes RGB only)")
    if sixteen:
        notes.append("16-bit image reduced to 8 bits")
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        notes.append("16-bit image scaled to 8 bits")
        return np.asarray(img).astype(np.uint16)
    if mode == "I":
        a = np.asarray(img)
        if a.min(initial=0) < 0 or a.max(initial=0) > 65535:
            raise ImageReadError(f"32-bit integer pixels outside 0..65535 (range {a.min()}..{a.max()})")
        notes.append("16-bit image scaled to 8 bits")
        return a.astype(np.uint16)
    if mode == "F":
        a = np.asarray(img, dtype=np.float32)
        if not np.isfinite(a).all() or a.min(initial=0) < 0 or a.max(initial=0) > 1:
            raise ImageReadError("floating-point pixels outside [0, 1]")
        return a
    img = _apply_icc(img, notes)
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif img.mode not in ("L", "RGB", "RGBA", "LA"):
        img = img.convert("RGBA" if img.mode in ("PA", "La", "RGBa") else "RGB")
    return np.asarray(img)


_OPEN_LOCK = threading.Lock()


def _open(path: Path | io.BytesIO) -> Image.Image:
    """`Image.open` (header only) with Pillow's own bomb check off: the caller checks its own limit
    before decoding (Pillow's global is switched under a lock, data-loader threads call this too)."""
    with _OPEN_LOCK:
        old = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            return Image.open(path)
        finally:
            Image.MAX_IMAGE_PIXELS = old


def read_image_with_warnings(path: str | Path, max_pixels: int | None = None) -> tuple[np.ndarray, list[str]]:
    """(H, W, 3) uint8 pixels of `path` as a viewer shows them, and warnings about what was lost.

    Raises `ImageReadError` (one line, naming the file) if the file is missing, a directory, unreadable,
    not an image, over the pixel limit (checked from the header before decoding) or undecodable.
    """
    limit = max_pixels_limit(max_pixels)
    if paths.is_local(path):
        path = src = Path(path)
        if path.is_dir():
            raise ImageReadError(f"{path} is a directory, not an image")
        if not path.exists():
            raise ImageReadError(f"{path}: no such file")
        if not path.is_file():  # a FIFO or device would block or never end
            raise ImageReadError(f"{path} is not a regular file")
    else:  # an object store (gs://...): one download, decoded from memory
        try:
            src = io.BytesIO(paths.read_bytes(path))
        except (FileNotFoundError, IsADirectoryError):
            raise ImageReadError(f"{path}: no such file") from None
        except OSError as e:
            raise ImageReadError(str(paths.storage_error(e, f"read {path}"))) from None
    notes: list[str] = []
    try:
        with _open(src) as img:
            w, h = img.size
            if w * h > limit:
                raise ImageReadError(
                    f"{path} is {w}x{h} = {w * h} pixels, over the limit of {limit}; if it is genuine, "
                    f"raise the limit (${MAX_PIXELS_ENV} or --max-pixels)")
            if w < 1 or h < 1:
                raise ImageReadError(f"{path} has an empty size {w}x{h}")
            with _warnings.catch_warnings():
                _warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                arr = _decode(img, notes)
    except ImageReadError as e:
        msg = str(e)
        raise ImageReadError(msg if str(path) in msg else f"cannot read image {path}: {msg}") from None
    except PermissionError:
        raise ImageReadError(f"{path}: permission denied") from None
    except UnidentifiedImageError:
        raise ImageReadError(f"{path} is not an image file Pillow can read") from None
    except (OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError, EOFError, MemoryError,
            struct.error) as e:
        text = " ".join(str(e).split())[:200] or type(e).__name__
        raise ImageReadError(f"cannot read image {path}: {text}") from None
    try:
        return to_rgb8(arr), [f"{path}: {n}" for n in notes]
    except ImageReadError as e:
        raise ImageReadError(f"cannot read image {path}: {e}") from None


def read_image(path: str | Path, max_pixels: int | None = None) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8; raises `ImageReadError` naming the file if it can't
    (see `read_image_with_warnings`)."""
    return read_image_with_warnings(path, max_pixels)[0]


def encode_image(image: np.ndarray, suffix: str = ".png") -> bytes:
    """(H, W, 3) uint8 as the bytes of an image file in the format of ``suffix`` (PNG unless another lossless
    Pillow format is named: .ppm, .bmp, .tif)."""
    formats = {".png": "PNG", ".ppm": "PPM", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=formats.get(suffix.lower(), "PNG"))
    return buf.getvalue()


def to_float(image: np.ndarray) -> np.ndarray:
    """uint8 (..., 3) -> float32 in [0, 1]."""
    return np.asarray(image, dtype=np.float32) * np.float32(1.0 / 255.0)
