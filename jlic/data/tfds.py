"""TensorFlow Datasets (optional extra `tfds`) as a random-access image source.

Without TensorFlow installed, tensorflow-datasets only offers `tfds.data_source` over datasets prepared
in the array_record (or parquet) format; `prepare_folder` writes such a dataset from a folder of images
(useful offline, and the way the tests exercise this path).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from jlic.data.image import to_rgb8


def _tfds() -> Any:
    try:
        import tensorflow_datasets as tfds
    except ImportError as e:
        raise ImportError(
            "the tfds:NAME data source needs tensorflow-datasets: pip install 'jlic[tfds]'"
        ) from e
    return tfds


class TfdsSource:
    """Random-access source of (H, W, 3) uint8 images from `tfds.data_source(name, split, data_dir)`.

    Args:
      name: dataset name, optionally with config/version (e.g. "clic", "div2k/bicubic_x2:2.0.0").
      split: split string (TFDS slicing like "train[:100]" works).
      data_dir: where prepared datasets live (default: TFDS's default, ~/tensorflow_datasets).
      image_key: the feature holding the image.
    """

    def __init__(self, name: str, split: str = "train", data_dir: str | Path | None = None,
                 image_key: str = "image"):
        tfds = _tfds()
        self.name, self.split, self.image_key = name, split, image_key
        self._source = tfds.data_source(name, split=split, data_dir=None if data_dir is None else str(data_dir))
        if len(self._source) == 0:
            raise ValueError(f"tfds:{name}:{split} is empty")

    def __len__(self) -> int:
        return len(self._source)

    def __getitem__(self, index: int) -> np.ndarray:
        record = self._source[int(index)]
        if self.image_key not in record:
            raise KeyError(f"tfds:{self.name} records have no {self.image_key!r} feature "
                           f"(have {sorted(record)})")
        return to_rgb8(np.asarray(record[self.image_key]))

    def __repr__(self) -> str:
        return f"TfdsSource({self.name!r}, split={self.split!r}, {len(self)} images)"


def prepare_folder(folder: str | Path, data_dir: str | Path, name: str = "image_folder",
                   split: str = "train") -> str:
    """Write the images under `folder` as a TFDS array_record dataset `name` in `data_dir`, offline.

    Image files are stored as their encoded bytes (no TensorFlow needed). Returns the dataset name, to
    be read back with `TfdsSource(name, split, data_dir)` or the source string `tfds:NAME:SPLIT`
    (with `data.tfds_data_dir` set).
    """
    tfds = _tfds()
    from jlic.data.folder import list_images

    paths = [str(p) for p in list_images(folder)]
    class_name = "".join(part.capitalize() for part in name.split("_"))

    def _info(self: Any) -> Any:
        features = tfds.features.FeaturesDict({"image": tfds.features.Image(shape=(None, None, 3))})
        return tfds.core.DatasetInfo(builder=self, features=features)

    def _split_generators(self: Any, dl_manager: Any) -> dict:
        return {split: self._generate_examples()}

    def _generate_examples(self: Any):
        for i, p in enumerate(paths):
            yield i, {"image": p}

    builder_cls = type(class_name, (tfds.core.GeneratorBasedBuilder,), {
        "VERSION": tfds.core.Version("1.0.0"), "_info": _info, "_split_generators": _split_generators,
        "_generate_examples": _generate_examples,
        # a one-part module name keeps TFDS from resolving the builder's code path through
        # importlib_resources (an undeclared dependency of tensorflow-datasets 4.9.10)
        "__module__": "jlic_tfds_prepare_folder",
    }, skip_registration=True)
    builder = builder_cls(data_dir=str(data_dir), file_format="array_record")
    builder.download_and_prepare()
    return builder.name
