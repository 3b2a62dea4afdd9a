"""The colour images that ship with scikit-image (no download): a tiny default dataset."""

from __future__ import annotations

import numpy as np

from jlic.data.image import to_rgb8

# scikit-image's bundled colour photographs (present without pooch/network in scikit-image >= 0.22).
NAMES = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field", "colorwheel",
         "stereo_motorcycle", "logo", "retina")


def _load(name: str) -> np.ndarray | None:
    import skimage.data

    try:
        img = getattr(skimage.data, name)()
    except Exception:  # missing optional data file or removed function
        return None
    if isinstance(img, tuple):  # stereo_motorcycle returns (left, right, disparity)
        img = img[0]
    return to_rgb8(img)


class EmbeddedSource:
    """Random-access source of scikit-image's bundled colour images as (H, W, 3) uint8.

    Args:
      names: which images (default: all of `NAMES` that load offline).
      max_side: downscale (area filter) so the longer side is at most this (None: keep size).
    """

    def __init__(self, names: tuple[str, ...] | None = None, max_side: int | None = None):
        images, kept = [], []
        for name in names or NAMES:
            img = _load(name)
            if img is None:
                continue
            if max_side is not None and max(img.shape[:2]) > max_side:
                from PIL import Image

                h, w = img.shape[:2]
                s = max_side / max(h, w)
                img = np.asarray(Image.fromarray(img).resize((max(1, round(w * s)), max(1, round(h * s))),
                                                             Image.Resampling.BOX))
            images.append(img)
            kept.append(name)
        if not images:
            raise ValueError("no scikit-image sample images could be loaded")
        self.names = tuple(kept)
        self._images = images

    def __len__(self) -> int:
        return len(self._images)

    def __getitem__(self, index: int) -> np.ndarray:
        return self._images[int(index)]

    def __repr__(self) -> str:
        return f"EmbeddedSource({len(self)} images: {', '.join(self.names)})"
