"""Real test images for the metric tests: Kodak crops when ../shared/data/kodak exists, else a synthetic
textured image (so the tests still run, on less realistic content)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

KODAK = Path(__file__).parents[2] / ".." / "shared" / "data" / "kodak"


def _synthetic(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / 32.0
    base = 0.5 + 0.25 * np.sin(xx[..., None] * rng.uniform(0.5, 2, 3) + yy[..., None] * rng.uniform(0.5, 2, 3))
    img = base + 0.1 * rng.standard_normal((h, w, 3))
    return np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)


def load_rgb8(index: int, h: int, w: int, top: int = 64, left: int = 96) -> np.ndarray:
    """An (h, w, 3) uint8 crop of kodim{index:02d}, or a synthetic image when Kodak is absent."""
    path = KODAK / f"kodim{index:02d}.png"
    if not path.exists():
        return _synthetic(h, w, index)
    img = np.asarray(Image.open(path).convert("RGB"))
    return img[top : top + h, left : left + w]


def jpeg_roundtrip(img: np.ndarray, quality: int) -> np.ndarray:
    """A real codec distortion: encode with JPEG at ``quality`` and decode."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


@pytest.fixture(scope="module")
def crop_pair() -> tuple[np.ndarray, np.ndarray]:
    """A 192x256 Kodak crop and its JPEG-q20 reconstruction, uint8."""
    x = load_rgb8(7, 192, 256)
    return x, jpeg_roundtrip(x, 20)


@pytest.fixture(name="load_rgb8")
def _load_rgb8_fixture():
    return load_rgb8


@pytest.fixture(name="jpeg_roundtrip")
def _jpeg_roundtrip_fixture():
    return jpeg_roundtrip
