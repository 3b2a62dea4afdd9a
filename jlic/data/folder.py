"""Image folders (PNG, JPEG, ...; recursive) as a random-access source for grain; local, or on an object
store (`folder:gs://bucket/images`: listed once, each image downloaded when read)."""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from jlic import paths as storage
from jlic.data.image import IMAGE_SUFFIXES, ImageReadError, read_image


def list_images(root: str | Path, *, validate: bool | None = None) -> list[Any]:
    """Sorted image files under `root` (recursive). With `validate` (default: for a local folder; an
    object-store folder is not downloaded whole up front) unreadable files are skipped with a warning.

    Raises `FileNotFoundError` if `root` does not exist and `ValueError` if no readable image remains.
    """
    local = storage.is_local(root)
    validate = local if validate is None else validate
    root = Path(root).expanduser() if local else storage.as_path(root)
    if not root.exists():
        raise FileNotFoundError(f"image folder not found: {root}")
    if root.is_file():
        candidates = [root]
    else:
        candidates = [p for p in storage.list_files(root) if p.suffix.lower() in IMAGE_SUFFIXES]
    paths = []
    for p in candidates:
        if validate:
            try:
                with Image.open(p if local else io.BytesIO(storage.read_bytes(p))) as img:
                    img.verify()
            except Exception as e:  # PIL raises many types for broken files
                warnings.warn(f"skipping unreadable image {p}: {e}", stacklevel=2)
                continue
        paths.append(p)
    if not paths:
        raise ValueError(f"no readable images ({', '.join(IMAGE_SUFFIXES)}) under {root}")
    return paths


class FolderSource:
    """Random-access source of (H, W, 3) uint8 images from a folder (grain `RandomAccessDataSource`)."""

    def __init__(self, root: str | Path, *, cache: bool = False):
        self.root = root
        self.paths = list_images(root)
        self._cache: dict[int, np.ndarray] | None = {} if cache else None

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> np.ndarray:
        index = int(index)
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        try:
            img = read_image(self.paths[index])
        except ImageReadError:
            raise
        if self._cache is not None:
            self._cache[index] = img
        return img

    def __repr__(self) -> str:
        return f"FolderSource({str(self.root)!r}, {len(self)} images)"
