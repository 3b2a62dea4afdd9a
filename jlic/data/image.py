"""Decode images to RGB uint8 arrays: grayscale -> RGB, alpha dropped, 16-bit -> 8-bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".ppm", ".bmp", ".tif", ".tiff", ".webp")


class ImageReadError(ValueError):
    """An image file that cannot be decoded."""


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


def _pil_to_array(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        return np.asarray(img, dtype=np.uint32 if img.mode == "I" else np.uint16)
    if img.mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "1"):
        img = img.convert("RGBA" if "transparency" in img.info or img.mode == "PA" else "RGB")
    return np.asarray(img)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8; raises `ImageReadError` naming the file if it can't."""
    try:
        with Image.open(path) as img:
            img.load()
            arr = _pil_to_array(img)
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageReadError(f"cannot read image {path}: {e}") from e
    try:
        return to_rgb8(arr)
    except ImageReadError as e:
        raise ImageReadError(f"cannot read image {path}: {e}") from e


def to_float(image: np.ndarray) -> np.ndarray:
    """uint8 (..., 3) -> float32 in [0, 1]."""
    return np.asarray(image, dtype=np.float32) * np.float32(1.0 / 255.0)
