"""Training batches through grain: random crops and flips, deterministic shuffling, checkpointable.

A source string names the images: `embedded`, `folder:/path` (or a bare existing path), `tfds:NAME[:SPLIT]`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import grain
import numpy as np
from PIL import Image

from jlic.data.image import to_float


class ImageSource(Protocol):
    """Random access to (H, W, 3) uint8 images."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> np.ndarray: ...


def get_source(spec: str, *, tfds_data_dir: str | None = None,
               embedded_max_side: int | None = None) -> ImageSource:
    """Resolve a data source string: `embedded`, `folder:/path` or a path, `tfds:NAME[:SPLIT]`."""
    if spec == "embedded" or spec.startswith("embedded:"):
        from jlic.data.embedded import EmbeddedSource

        names = tuple(n for n in spec.partition(":")[2].split(",") if n) or None
        return EmbeddedSource(names, max_side=embedded_max_side)
    if spec.startswith("tfds:"):
        from jlic.data.tfds import TfdsSource

        rest = spec[len("tfds:"):]
        name, _, split = rest.partition(":")
        return TfdsSource(name, split or "train", data_dir=tfds_data_dir)
    from jlic.data.folder import FolderSource

    path = spec[len("folder:"):] if spec.startswith("folder:") else spec
    if not spec.startswith("folder:") and not Path(path).expanduser().exists():
        raise ValueError(f"unknown data source {spec!r}: use embedded, folder:/path or tfds:NAME[:SPLIT]")
    return FolderSource(path)


def fit_to_crop(image: np.ndarray, crop: int, mode: str = "upscale") -> np.ndarray:
    """Make both sides of `image` >= `crop`: "upscale" (bicubic, keeps aspect) or "pad" (reflect)."""
    h, w = image.shape[:2]
    if h >= crop and w >= crop:
        return image
    if mode == "pad":  # reflect, split evenly; numpy repeats the reflection for pads longer than the side
        ph, pw = max(0, crop - h), max(0, crop - w)
        return np.pad(image, ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)), mode="reflect")
    if mode == "upscale":
        s = crop / min(h, w)
        size = (max(crop, int(np.ceil(w * s))), max(crop, int(np.ceil(h * s))))
        return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BICUBIC))
    raise ValueError(f"unknown small-image mode {mode!r} (use 'upscale' or 'pad')")


class RandomCropFlip(grain.transforms.RandomMap):
    """Random `crop` x `crop` patch, random horizontal flip, as float32 in [0, 1]."""

    def __init__(self, crop: int, flip: bool = True, small: str = "upscale"):
        self.crop, self.flip, self.small = crop, flip, small

    def random_map(self, element: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        img = fit_to_crop(element, self.crop, self.small)
        h, w = img.shape[:2]
        top = int(rng.integers(0, h - self.crop + 1))
        left = int(rng.integers(0, w - self.crop + 1))
        patch = img[top:top + self.crop, left:left + self.crop]
        if self.flip and rng.random() < 0.5:
            patch = patch[:, ::-1]
        return to_float(patch)


class RowsOfBatches(grain.MapDataset):
    """Rows [lo, hi) of every consecutive block of `batch_size` elements of `parent`: element m is parent
    element (m // n) * batch_size + lo + m % n, n = hi - lo. Lazy: only those parent elements are read."""

    def __init__(self, parent: grain.MapDataset, batch_size: int, lo: int, hi: int):
        super().__init__(parent)
        if not 0 <= lo < hi <= batch_size:
            raise ValueError(f"rows [{lo}, {hi}) are not inside a batch of {batch_size}")
        self.batch_size, self.lo, self.n = batch_size, lo, hi - lo

    def __len__(self) -> int:
        return len(self._parent) // self.batch_size * self.n

    def __str__(self) -> str:
        return f"RowsOfBatches(batch_size={self.batch_size}, lo={self.lo}, n={self.n})"

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self.slice(index)
        return self._parent[index // self.n * self.batch_size + self.lo + index % self.n]


def train_dataset(source: ImageSource, *, crop: int, batch_size: int, seed: int, flip: bool = True,
                  small: str = "upscale", rows: tuple[int, int] | None = None) -> grain.MapDataset:
    """Infinite random-access dataset of (batch, crop, crop, 3) float32 batches.

    Shuffling is reseeded every epoch from `seed`; crops and flips are drawn from `seed` and the
    element's index in the global stream, so global batch `i` is the same in every run with the same seed
    and source, however it is split. `rows=(lo, hi)`: only rows lo..hi-1 of every global batch of
    `batch_size` (what one process of a multi-host run holds, `jlic.train.sharding.process_rows`); only
    their images are read, and the processes' parts put together are the global batch.
    """
    ds = (grain.MapDataset.source(source)
          .shuffle(seed=seed)
          .repeat(None)
          .random_map(RandomCropFlip(crop, flip, small), seed=seed + 1))
    if rows is not None and tuple(rows) != (0, batch_size):
        ds = RowsOfBatches(ds, batch_size, *rows)
        batch_size = rows[1] - rows[0]
    return ds.batch(batch_size, drop_remainder=True)


def train_iterator(source: ImageSource, *, crop: int, batch_size: int, seed: int, flip: bool = True,
                   small: str = "upscale", num_threads: int = 2, state: dict[str, Any] | None = None,
                   rows: tuple[int, int] | None = None) -> grain.DatasetIterator:
    """A checkpointable iterator over `train_dataset` (this process's `rows` of every global batch);
    `iterator.get_state()` / `set_state(state)` resume it."""
    ds = train_dataset(source, crop=crop, batch_size=batch_size, seed=seed, flip=flip, small=small, rows=rows)
    it = ds.to_iter_dataset(grain.ReadOptions(num_threads=num_threads, prefetch_buffer_size=2)).__iter__()
    if state is not None:
        it.set_state(state)
    return it


def eval_images(spec: str, *, limit: int | None = None, max_side: int | None = None,
                tfds_data_dir: str | None = None) -> list[np.ndarray]:
    """Full eval images as (H, W, 3) uint8, in source order (first `limit`; longer side <= `max_side`)."""
    src = get_source(spec, tfds_data_dir=tfds_data_dir, embedded_max_side=max_side)
    n = len(src) if limit is None else min(limit, len(src))
    out = []
    for i in range(n):
        img = src[i]
        if max_side is not None and max(img.shape[:2]) > max_side:
            h, w = img.shape[:2]
            s = max_side / max(h, w)
            img = np.asarray(Image.fromarray(img).resize((max(1, round(w * s)), max(1, round(h * s))),
                                                         Image.Resampling.BOX))
        out.append(img)
    return out
