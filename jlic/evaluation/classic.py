"""Classic image codecs as encode/decode function pairs over 8-bit RGB arrays, with a quality sweep each.

Every codec maps an ``(H, W, 3)`` uint8 image and one setting (its quality knob) to the exact bytes a file
would hold, and those bytes back to an ``(H, W, 3)`` uint8 image. The default sweeps cover about 0.1-2 bpp
on Kodak where the codec can go that low (JPEG's lowest quality stays above ~0.2 bpp), and the JPEG/WebP
sweeps are CompressAI's (quality 5, 10, ..., 95) so their curves line up with the published anchors.

Encoders run single-threaded so timings are comparable between codecs and between machines.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image
from PIL import features as pil_features


@dataclass(frozen=True)
class Codec:
    """One codec configuration: ``encode(img, setting) -> bytes`` and ``decode(bytes) -> img``."""

    name: str  # short id, also the output file stem: "jpeg", "jpeg-444", ...
    label: str  # the curve name in RD JSONs and plots
    setting: str  # what the sweep varies: "quality", "distance", "target-bpp"
    sweep: tuple[float, ...]  # default settings, from lowest to highest rate
    encode: Callable[[np.ndarray, float], bytes]
    decode: Callable[[bytes], np.ndarray]
    available: Callable[[], bool]
    library: Callable[[], str]  # "Pillow 13.0.0 (libjpeg-turbo 3.2.0)", for descriptions


def _pil_encode(img: np.ndarray, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(img, dtype=np.uint8), "RGB").save(buf, format=fmt, **options)
    return buf.getvalue()


def _pil_decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def _pil_library(feature: str) -> Callable[[], str]:
    def describe() -> str:
        import PIL

        lib = {"jpg": "libjpeg", "webp": "libwebp", "jpg_2000": "OpenJPEG", "avif": "libavif"}[feature]
        if feature == "jpg" and pil_features.check_feature("libjpeg_turbo"):
            lib, version = "libjpeg-turbo", pil_features.version_feature("libjpeg_turbo")
        else:
            version = pil_features.version_module(feature) if feature in ("webp", "avif") else None
            version = version or pil_features.version(feature)
        return f"Pillow {PIL.__version__} ({lib} {version})"

    return describe


def _pil_available(feature: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return bool(pil_features.check(feature))
        except ValueError:  # a Pillow that does not know this feature at all
            return False

    return check


def _jpeg(subsampling: int) -> Callable[[np.ndarray, float], bytes]:
    # Pillow's subsampling: 0 = 4:4:4, 2 = 4:2:0 (its default, and what CompressAI's anchor used).
    return lambda img, q: _pil_encode(img, "JPEG", quality=int(q), subsampling=subsampling)


def _webp(img: np.ndarray, q: float) -> bytes:
    return _pil_encode(img, "WEBP", quality=int(q))


def _jpeg2000(img: np.ndarray, target_bpp: float) -> bytes:
    # OpenJPEG rate control: compression ratio against the raw 24-bit image; 9/7 wavelet; RGB->YCbCr
    # component transform (mct=1; Pillow's default mct=0 codes R, G, B separately and costs 2-4 dB);
    # raw codestream (.j2k, no JP2 boxes).
    ratio = 24.0 / float(target_bpp)
    return _pil_encode(
        img, "JPEG2000", quality_mode="rates", quality_layers=[ratio], irreversible=True, mct=1, no_jp2=True
    )


def _avif(img: np.ndarray, q: float) -> bytes:
    return _pil_encode(img, "AVIF", quality=int(q), subsampling="4:4:4", speed=6, max_threads=1)


def _imagecodecs() -> object | None:
    try:
        import imagecodecs
    except ImportError:
        return None
    return imagecodecs


def _jxl_available() -> bool:
    ic = _imagecodecs()
    return bool(ic is not None and getattr(getattr(ic, "JPEGXL", None), "available", False))


def _jxl_encode(img: np.ndarray, distance: float) -> bytes:
    ic = _imagecodecs()
    img = np.ascontiguousarray(img, np.uint8)
    return bytes(ic.jpegxl_encode(img, distance=float(distance), effort=7, numthreads=1))  # type: ignore[union-attr]


def _jxl_decode(data: bytes) -> np.ndarray:
    ic = _imagecodecs()
    out = np.asarray(ic.jpegxl_decode(data, numthreads=1))  # type: ignore[union-attr]
    return out[..., :3] if out.ndim == 3 else np.repeat(out[..., None], 3, axis=-1)


def _jxl_library() -> str:
    ic = _imagecodecs()
    return f"imagecodecs {ic.__version__} ({ic.jpegxl_version()})"  # type: ignore[union-attr]


QUALITY_5_TO_95 = tuple(float(q) for q in range(5, 96, 5))

CODECS: dict[str, Codec] = {
    c.name: c
    for c in [
        Codec("jpeg", "JPEG", "quality", QUALITY_5_TO_95, _jpeg(2), _pil_decode, _pil_available("jpg"),
              _pil_library("jpg")),
        Codec("jpeg-444", "JPEG (4:4:4)", "quality", (5, 10, 20, 30, 40, 50, 60, 70, 80, 90), _jpeg(0),
              _pil_decode, _pil_available("jpg"), _pil_library("jpg")),
        Codec("webp", "WebP", "quality", QUALITY_5_TO_95, _webp, _pil_decode, _pil_available("webp"),
              _pil_library("webp")),
        Codec("jpeg2000", "JPEG 2000", "target-bpp", (0.08, 0.12, 0.16, 0.25, 0.35, 0.5, 0.7, 1.0, 1.4, 2.0),
              _jpeg2000, _pil_decode, _pil_available("jpg_2000"), _pil_library("jpg_2000")),
        Codec("avif", "AVIF", "quality", (10, 20, 30, 40, 50, 60, 70, 80), _avif, _pil_decode,
              _pil_available("avif"), _pil_library("avif")),
        Codec("jpegxl", "JPEG XL", "distance", (20, 14, 10, 7, 5, 3.5, 2.5, 1.75, 1.25, 1.0),
              _jxl_encode, _jxl_decode, _jxl_available, _jxl_library),
    ]
}


def get(name: str) -> Codec:
    """The codec called ``name`` (one of ``CODECS``); ValueError naming the choices otherwise."""
    if name not in CODECS:
        raise ValueError(f"unknown codec {name!r}; choose from {', '.join(CODECS)}")
    return CODECS[name]


def available() -> list[str]:
    """Names of the codecs usable with the installed Pillow / imagecodecs."""
    return [name for name, codec in CODECS.items() if codec.available()]
