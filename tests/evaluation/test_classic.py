from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from jlic.evaluation import classic

KODAK = Path(__file__).parents[2] / ".." / "shared" / "data" / "kodak"

# What each container starts with, so the test knows the bytes are a real file of that format.
MAGIC = {
    "jpeg": [b"\xff\xd8\xff"],
    "jpeg-444": [b"\xff\xd8\xff"],
    "webp": [b"RIFF"],
    "jpeg2000": [b"\xff\x4f\xff\x51"],
    "avif": [b"\x00\x00\x00"],  # ISO-BMFF box size, then "ftyp" (checked below)
    "jpegxl": [b"\xff\x0a", b"\x00\x00\x00\x0cJXL "],
}


@pytest.fixture(scope="module")
def crop() -> np.ndarray:
    """A 64x96 RGB crop of a Kodak image (synthetic texture when Kodak is absent)."""
    path = KODAK / "kodim05.png"
    if path.exists():
        return np.asarray(Image.open(path).convert("RGB"))[200:264, 300:396].copy()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:96]
    base = 128 + 60 * np.sin(xx[..., None] / 7.0 + np.arange(3)) * np.cos(yy[..., None] / 5.0)
    return np.clip(base + rng.normal(0, 8, (64, 96, 3)), 0, 255).astype(np.uint8)


def _codec(name: str) -> classic.Codec:
    codec = classic.get(name)
    if not codec.available():
        pytest.skip(f"{name} is not available in this Pillow / imagecodecs build")
    return codec


@pytest.mark.parametrize("name", list(classic.CODECS))
def test_round_trip_and_rate_grows_with_quality(name, crop):
    codec = _codec(name)
    low, high = codec.sweep[len(codec.sweep) // 2], codec.sweep[-1]  # small crops: skip header-dominated rates
    sizes, psnrs = [], []
    for setting in (low, high):
        data = codec.encode(crop, setting)
        assert any(data.startswith(m) for m in MAGIC[name]), data[:16]
        if name == "avif":
            assert data[4:8] == b"ftyp"
        rec = codec.decode(data)
        assert rec.shape == crop.shape and rec.dtype == np.uint8
        sizes.append(len(data))
        psnrs.append(peak_signal_noise_ratio(crop, rec, data_range=255))
    assert sizes[1] > sizes[0]
    assert psnrs[1] > psnrs[0] > 15
    # Deterministic: the same input and setting give the same bytes.
    assert codec.encode(crop, low) == codec.encode(crop, low)


def test_jpeg_matches_pillow_defaults_and_444_costs_more(crop):
    jpeg, jpeg444 = _codec("jpeg"), _codec("jpeg-444")
    buf = io.BytesIO()
    Image.fromarray(crop).save(buf, format="JPEG", quality=50)  # CompressAI's bench call
    assert jpeg.encode(crop, 50) == buf.getvalue()
    assert len(jpeg444.encode(crop, 50)) > len(jpeg.encode(crop, 50))
    with Image.open(io.BytesIO(jpeg444.encode(crop, 50))) as im:
        assert im.layer[0][1:3] == im.layer[1][1:3] == (1, 1)  # no chroma subsampling
    with Image.open(io.BytesIO(jpeg.encode(crop, 50))) as im:
        assert im.layer[0][1:3] == (2, 2) and im.layer[1][1:3] == (1, 1)  # 4:2:0


def test_jpeg2000_rate_control_hits_the_target(crop):
    codec = _codec("jpeg2000")
    data = codec.encode(crop, 1.0)
    cod = data.index(b"\xff\x52")  # COD marker segment: Lcod(2) Scod(1) order(1) layers(2) MCT(1) SPcod...
    assert data[cod + 8] == 1  # the RGB -> YCbCr component transform is on
    assert data[cod + 13] == 0  # 9/7 irreversible wavelet
    for target in (0.5, 1.0, 2.0):
        bpp = len(codec.encode(crop, target)) * 8 / (crop.shape[0] * crop.shape[1])
        assert bpp == pytest.approx(target, rel=0.1)


def test_registry():
    assert set(classic.available()) <= set(classic.CODECS)
    for codec in classic.CODECS.values():
        assert codec.sweep and codec.label and codec.setting
        if codec.available():
            assert codec.library()
    with pytest.raises(ValueError, match="unknown codec 'bpg'"):
        classic.get("bpg")
