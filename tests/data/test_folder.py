import numpy as np
import pytest
from PIL import Image

from jlic.data.folder import FolderSource, list_images


def _write(path, shape, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)).save(path)


def test_recursive_sorted_and_skips_broken(tmp_path):
    _write(tmp_path / "b.png", (8, 8, 3))
    _write(tmp_path / "sub" / "a.jpg", (8, 8, 3))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG garbage")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.warns(UserWarning, match="broken.png"):
        paths = list_images(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == ["b.png", "sub/a.jpg"]
    src = FolderSource(tmp_path)
    assert len(src) == 2 and src[1].shape == (8, 8, 3)


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        list_images(tmp_path / "missing")
    (tmp_path / "x.png").write_bytes(b"nope")
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="no readable images"):
        list_images(tmp_path)
