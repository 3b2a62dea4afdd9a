from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from jlic.data.pipeline import eval_images, fit_to_crop, get_source, train_dataset, train_iterator

DATA = Path(__file__).parents[2] / ".." / "shared" / "data"


class ArraySource:
    def __init__(self, images):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i]


def _source(n=5, seed=0):
    rng = np.random.default_rng(seed)
    return ArraySource([rng.integers(0, 256, (20 + i, 24 + 2 * i, 3), dtype=np.uint8) for i in range(n)])


def test_batches_shape_range_and_crops_come_from_images():
    src = _source()
    ds = train_dataset(src, crop=16, batch_size=3, seed=0)
    b = ds[0]
    assert b.shape == (3, 16, 16, 3) and b.dtype == np.float32
    assert 0.0 <= b.min() and b.max() <= 1.0
    # every patch is a crop (maybe flipped) of some source image
    for patch in b:
        u8 = np.round(patch * 255).astype(np.uint8)
        found = False
        for img in src.images:
            for cand in (img, img[:, ::-1]):
                h, w = cand.shape[:2]
                for t in range(h - 15):
                    for s in range(w - 15):
                        if np.array_equal(cand[t:t + 16, s:s + 16], u8):
                            found = True
        assert found


def test_deterministic_from_seed_and_differs_across_seeds():
    src = _source()
    a = [train_dataset(src, crop=16, batch_size=2, seed=3)[i] for i in range(4)]
    b = [train_dataset(src, crop=16, batch_size=2, seed=3)[i] for i in range(4)]
    c = [train_dataset(src, crop=16, batch_size=2, seed=4)[i] for i in range(4)]
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_epochs_visit_every_image():
    src = ArraySource([np.full((8, 8, 3), i * 20, np.uint8) for i in range(5)])
    ds = train_dataset(src, crop=8, batch_size=5, seed=0, flip=False)
    for epoch in range(3):
        vals = sorted(np.round(ds[epoch][:, 0, 0, 0] * 255 / 20).astype(int).tolist())
        assert vals == [0, 1, 2, 3, 4]


def test_iterator_state_resumes_same_batches():
    src = _source()
    it = train_iterator(src, crop=16, batch_size=2, seed=7, num_threads=1)
    for _ in range(3):
        next(it)
    state = it.get_state()
    expected = [next(it) for _ in range(3)]
    it2 = train_iterator(src, crop=16, batch_size=2, seed=7, num_threads=1, state=state)
    for e in expected:
        np.testing.assert_array_equal(next(it2), e)


@pytest.mark.parametrize("mode", ["upscale", "pad"])
def test_small_images(mode):
    img = np.random.default_rng(0).integers(0, 256, (5, 11, 3), dtype=np.uint8)
    out = fit_to_crop(img, 16, mode)
    assert out.shape[0] >= 16 and out.shape[1] >= 16
    if mode == "pad":
        np.testing.assert_array_equal(out[5:10, 2:13], img)
    batch = train_dataset(ArraySource([img]), crop=16, batch_size=1, seed=0, small=mode)[0]
    assert batch.shape == (1, 16, 16, 3)


def test_source_strings(tmp_path):
    emb = get_source("embedded", embedded_max_side=64)
    assert len(emb) >= 3 and max(emb[0].shape[:2]) <= 64 and emb[0].shape[2] == 3
    Image.fromarray(np.zeros((6, 6, 3), np.uint8)).save(tmp_path / "z.png")
    assert len(get_source(f"folder:{tmp_path}")) == 1
    assert len(get_source(str(tmp_path))) == 1
    with pytest.raises(ValueError, match="unknown data source"):
        get_source("nonsense-source")


def test_eval_images_kodak_if_present():
    kodak = DATA / "kodak"
    if not kodak.exists():
        pytest.skip("shared Kodak data absent")
    imgs = eval_images(f"folder:{kodak}", limit=2)
    assert len(imgs) == 2 and imgs[0].shape in ((512, 768, 3), (768, 512, 3))


class CountingSource(ArraySource):
    """Records which image indexes were read."""

    def __init__(self, images):
        super().__init__(images)
        self.read = []

    def __getitem__(self, i):
        self.read.append(int(i))
        return super().__getitem__(i)


@pytest.mark.parametrize("processes", [2, 4])
def test_processes_read_disjoint_rows_that_make_the_global_batch(processes):
    """Multi-host data: process p's `rows` of every global batch of 8; only those images are read, the parts
    are disjoint, and put together they are the single-process global batch, crop for crop."""
    images = _source(n=64, seed=3).images
    whole = train_dataset(ArraySource(images), crop=16, batch_size=8, seed=5)
    per = 8 // processes
    sources = [CountingSource(images) for _ in range(processes)]
    parts = [train_dataset(sources[p], crop=16, batch_size=8, seed=5, rows=(p * per, (p + 1) * per))
             for p in range(processes)]
    for k in range(10):  # past the first epoch (64 images = 8 batches)
        got = [part[k] for part in parts]
        assert all(g.shape == (per, 16, 16, 3) for g in got)
        np.testing.assert_array_equal(np.concatenate(got), whole[k])
    first_epoch = [set(r for r in s.read[: 8 * per]) for s in sources]  # batches 0..7: each image once
    assert sum(len(r) for r in first_epoch) == 64 == len(set().union(*first_epoch))
    assert all(len(s.read) == 10 * per for s in sources)  # no process read another's rows


def test_rows_resume_from_iterator_state():
    """A process's iterator state restores its own stream (what each host checkpoints)."""
    src = _source(n=16)
    it = train_iterator(src, crop=16, batch_size=4, seed=0, num_threads=0, rows=(2, 4))
    for _ in range(3):
        next(it)
    state = it.get_state()
    expect = [next(it) for _ in range(3)]
    again = train_iterator(src, crop=16, batch_size=4, seed=0, num_threads=0, rows=(2, 4), state=state)
    for e in expect:
        np.testing.assert_array_equal(next(again), e)
    with pytest.raises(ValueError, match="not inside a batch"):
        train_dataset(src, crop=16, batch_size=4, seed=0, rows=(2, 6))
