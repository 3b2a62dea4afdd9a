"""Crafted `.jlic` files for every registered model, CRC recomputed so the model's own decoder reads them.

Every crafted file must end in one of two ways, in bounded time, never in another exception or a hang:
`BitstreamError` (one line), or a decoded uint8 image of the declared size. Files whose header the model
never writes (empty streams, wrong stream count, foreign model or config, sizes over the memory cap, other
coder, channels, padding) must be refused. Public API only: `jlic.models.names/get`, `jlic.coding.codec`,
`jlic.coding.bitstream`; so it runs unchanged on any latent-codec implementation.

Default suite: the structured cases (26 per model with one stream, 37 with two) on tiny untrained models;
`-m slow` adds 200 random mutations per model and prints the outcome counts per model.
"""

from __future__ import annotations

import collections
import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import jlic.models as models
from jlic.coding import codec
from jlic.coding.bitstream import BitstreamError

sys.path.insert(0, str(Path(__file__).parent))
from fast_params import fast_params  # noqa: E402
from fuzz_cases import crafted  # noqa: E402

MUST_REFUSE = ("all streams empty", "no streams", "one extra stream", "foreign model", "unknown model name",
               "other config hash", "huge size", "padding", "range coder id", "channels", ":empty",
               "not a multiple of 4",
               # the stream's check word (jlic.coding.stream) catches cut, altered and padded streams:
               ":4 bytes", ":half", ":first word dropped", ":doubled", ":one bit flipped", ":garbage",
               ":long garbage", ":zeros", ":ones")
SECONDS_PER_CASE = 60.0  # generous for a loaded 2-core machine: a crafted size may compile the transforms
_codecs: dict[str, codec.Codec] = {}


def _codec(name: str) -> codec.Codec:
    if name not in _codecs:
        for kwargs in ({"N": 8, "M": 12}, {"N": 8, "M": 8}, {"N": 8, "M": 20}):  # cheng2020: N == M;
            try:  # channel-wise: M a multiple of its 10 slices
                model = models.get(name, **kwargs)
                params = fast_params(model)
                break
            except (ValueError, TypeError):
                continue
        _codecs[name] = codec.Codec(model, params)
    return _codecs[name]


def _image() -> np.ndarray:
    rng = np.random.default_rng(0)
    base = np.linspace(0, 1, 40 * 56 * 3).reshape(40, 56, 3)
    return (np.clip(base + 0.3 * rng.standard_normal(base.shape), 0, 1) * 255).astype(np.uint8)


def fuzz_model(name: str, random_cases: int, seed: int = 1, new_shapes: bool = True) -> dict[str, object]:
    c = _codec(name)
    data = c.compress(_image())
    np.testing.assert_array_equal(c.decompress(data), c.decompress(data))
    others = [n for n in models.names() if n != name]
    outcomes: collections.Counter = collections.Counter()
    decoded: list[str] = []
    worst = 0.0
    for label, blob in crafted(data, np.random.default_rng(seed), others, random_cases, new_shapes):
        t = time.perf_counter()
        try:
            out = c.decompress(blob)
        except BitstreamError as e:
            msg = str(e)
            assert msg and "\n" not in msg, (name, label, msg)
            outcomes["BitstreamError"] += 1
        except Exception as e:  # noqa: BLE001 - any other exception is the bug this test looks for
            raise AssertionError(f"{name} / {label}: {type(e).__name__}: {e}") from e
        else:
            assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[-1] == 3, (name, label, out.shape)
            assert not any(k in label for k in MUST_REFUSE), f"{name} / {label}: decoded, not refused"
            outcomes["decoded"] += 1
            decoded.append(label)
        dt = time.perf_counter() - t
        worst = max(worst, dt)
        assert dt < SECONDS_PER_CASE, f"{name} / {label} took {dt:.1f} s"
    return {"model": name, "cases": sum(outcomes.values()), **outcomes, "worst_s": round(worst, 2),
            "decoded_labels": decoded}


@pytest.mark.parametrize("name", models.names())
def test_crafted_files(name):
    rec = fuzz_model(name, random_cases=0, new_shapes=False)
    assert rec["cases"] >= 26 and rec.get("BitstreamError", 0) >= 20, rec


@pytest.mark.slow
@pytest.mark.parametrize("name", models.names())
def test_crafted_files_random(name):
    rec = fuzz_model(name, random_cases=200, seed=7)
    print(json.dumps(rec))
