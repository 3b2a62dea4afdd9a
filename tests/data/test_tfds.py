import numpy as np
import pytest
from PIL import Image

pytest.importorskip("tensorflow_datasets")

from jlic.data.pipeline import get_source, train_dataset  # noqa: E402
from jlic.data.tfds import prepare_folder  # noqa: E402


def test_locally_built_dataset_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (12 + i, 20, 3), dtype=np.uint8) for i in range(3)]
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, a in enumerate(imgs):
        Image.fromarray(a).save(folder / f"{i}.png")
    name = prepare_folder(folder, tmp_path / "tfds", name="tiny_test_images")
    src = get_source(f"tfds:{name}:train", tfds_data_dir=str(tmp_path / "tfds"))
    assert len(src) == 3
    got = sorted((src[i] for i in range(3)), key=lambda a: a.shape[0])
    for g, a in zip(got, imgs, strict=True):
        np.testing.assert_array_equal(g, a)
    batch = train_dataset(src, crop=8, batch_size=2, seed=0)[0]
    assert batch.shape == (2, 8, 8, 3)
    assert len(get_source(f"tfds:{name}:train[:2]", tfds_data_dir=str(tmp_path / "tfds"))) == 2
