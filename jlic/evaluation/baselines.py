"""`python -m jlic baselines`: RD curves of classic codecs on an image folder, one anchor-shaped JSON each.

For every codec and setting, each image is encoded and decoded; bpp comes from the real encoded byte
length (``bytes * 8 / (H * W)``), PSNR-RGB and MS-SSIM from the decoded 8-bit image. Per-setting figures are
arithmetic means over images (as CompressAI's ``eval_model`` / ``bench`` report them), so the files compare
directly with ``shared/reference/kodak-rd/*.json``.

Example::

    python -m jlic baselines --data ../shared/data/kodak --out benchmarks/results/kodak-baselines
    python -m jlic baselines --data imgs --out out --codecs jpeg,webp --settings jpeg=10,50,90 --limit 2
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from jlic.data.image import IMAGE_SUFFIXES, read_image
from jlic.evaluation import classic, rdcurve
from jlic.evaluation.evaluate import METRICS, code_and_measure


class BaselineError(ValueError):
    """Bad input for a baseline run (missing or empty folder, unknown codec, bad setting list)."""


def find_images(folder: str | Path, limit: int | None = None) -> list[Path]:
    """Image files in ``folder`` (not recursive), sorted by name, at most ``limit``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BaselineError(f"{folder}: no such folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise BaselineError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    return files[:limit] if limit else files


def load_rgb8(path: Path) -> np.ndarray:
    """An image file as an (H, W, 3) uint8 array, read by the one image reader
    (:func:`jlic.data.image.read_image`: EXIF orientation, ICC profile, 16-bit and alpha handled as for
    every other command)."""
    return read_image(path)


def evaluate_codec(
    codec: classic.Codec,
    images: Sequence[np.ndarray],
    settings: Sequence[float] | None = None,
    log: Callable[[str], None] | None = None,
    with_ms_ssim: bool = True,
) -> rdcurve.RDCurve:
    """The RD curve of ``codec`` on ``images`` (uint8 RGB arrays), one point per setting (mean over images).

    MS-SSIM (the costliest part) is left out when ``with_ms_ssim`` is false or an image is smaller than the
    161 px a side that 5-scale MS-SSIM needs.
    """
    settings = tuple(codec.sweep if settings is None else settings)
    metrics = {k: f for k, f in METRICS.items()
               if with_ms_ssim or k != "ms-ssim-rgb"}  # the costliest metric can be left out
    keys = ("bpp", *metrics, "encoding_time", "decoding_time")
    columns: dict[str, list[float]] = {k: [] for k in keys}
    for setting in settings:
        rows = [code_and_measure(lambda im, s=setting: codec.encode(im, s), codec.decode, img, metrics)[1]
                for img in images]
        for key in keys:
            values = [r[key] for r in rows]
            if all(v is not None for v in values):  # a metric undefined for some image is left out
                columns[key].append(float(np.mean(values)))
        if log:
            ms = f" ms-ssim {columns['ms-ssim-rgb'][-1]:.4f}" if columns.get("ms-ssim-rgb") else ""
            log(f"{codec.name} {codec.setting}={setting:g}: bpp {columns['bpp'][-1]:.4f} "
                f"psnr {columns['psnr-rgb'][-1]:.3f}{ms}")
    results = {k: v for k, v in columns.items() if v}
    description = f"{codec.label}, {codec.library()}; {len(images)} images; {codec.setting} sweep"
    return rdcurve.RDCurve(codec.label, results, description,
                           {"settings": {codec.setting: [float(s) for s in settings]}})


def _parse_settings(items: Sequence[str]) -> dict[str, tuple[float, ...]]:
    out = {}
    for item in items:
        name, _, values = item.partition("=")
        try:
            out[name] = tuple(float(v) for v in values.split(",") if v)
        except ValueError:
            raise BaselineError(f"--settings {item!r}: expected CODEC=v1,v2,...") from None
        if not values or not out[name]:
            raise BaselineError(f"--settings {item!r}: expected CODEC=v1,v2,...")
        classic.get(name)
    return out


def run(data: str | Path, out: str | Path, codecs: Sequence[str] | None = None, limit: int | None = None,
        settings: dict[str, tuple[float, ...]] | None = None, log: Callable[[str], None] | None = None
        ) -> list[Path]:
    """Evaluate ``codecs`` (default: all available) on the images of ``data``; write ``out/<codec>.json``."""
    names = list(codecs) if codecs else classic.available()
    for name in names:
        if not classic.get(name).available():
            raise BaselineError(f"codec {name!r} is not available here (check the Pillow / imagecodecs build)")
    files = find_images(data, limit)
    images = [load_rgb8(p) for p in files]
    written = []
    for name in names:
        codec = classic.get(name)
        curve = evaluate_codec(codec, images, (settings or {}).get(name), log)
        curve.description += f" on {Path(data).name}"
        written.append(rdcurve.save(curve, Path(out) / f"{name}.json"))
    return written
