"""DCAE (arXiv 2504.00496) imported from CompressAI's development line (`compressai.models.dcae.DCAE`,
compressai-temp 1.2.9.dev0) equals it: reconstruction, likelihoods, real bytes of `compress`, jlic decoding
its own files exactly, the exported state_dict, and the `import-compressai` command.

Needs the development line, which lives in its own environment (scripts/install_peers_dev.sh): run with
``.venv-ctemp/bin/python -m pytest -m slow tests/interop/test_compressai_dcae.py`` (skipped elsewhere). All
tests are slow (a perturbed small DCAE trained 3 Adam steps in CompressAI at 64 x 64).

Small model: feature widths (16, 24, 32) with 1, 2, 2 Swin layers (plain and shifted windows), head width 8, N =
hyper channels = 32, M=40 (5 slices of 8), a dictionary of 16 entries x 32 with 4 heads. At 128 x 128 the
hyperprior's 2 x 2 map is padded to its window (4) before its Swin layer, as in the peer. Tolerances and the
compare helpers are ELIC's (tests/interop/test_compressai_elic.py). Coding is compared at 256 x 256 (as ELIC's):
at 128 x 128 the small DCAE's 6 strings held 420 bytes and jlic's one stream 384 (0.914x, 2026-12-07), below the
helper's bound (CompressAI's rANS64 flushes 8 bytes per string, the helper allows 4), so the per-string
overhead, not the model, decided the ratio. At 256 x 256 (measured 2026-12-07, same trained model): 2068 bytes
against jlic's 2032 (imported tables) / 2036 (its own), decoded images equal; forward at 128 x 128: x_hat 6e-7,
likelihoods 2.7e-6 relative to the float64 peer.
"""

from __future__ import annotations

import functools

import jax
import numpy as np
import pytest

from benchmarks.peers.compressai_models import make_compressai_model, test_image, to_torch

pytest.importorskip("compressai.models.dcae", reason="CompressAI's development line is not installed here: "
                    "scripts/install_peers_dev.sh, then run with .venv-ctemp/bin/python")

from jlic.interop import compressai as ci  # noqa: E402
from tests.interop.test_compressai_elic import (  # noqa: E402
    compare_cli_import,
    compare_coding,
    compare_forward,
)

pytestmark = [pytest.mark.peers, pytest.mark.slow]
NAME = "dcae"
SMALL = {"N": 32, "M": 40, "hyper_channels": 32, "feature_dims": (16, 24, 32), "head_dim": (8,) * 6,
         "block_num": (1, 2, 2), "dict_num": 16, "dict_head_num": 4, "dictionary_dim": 32, "hyper_head_dim": 8}
OFFICIAL = 119_400_351  # LabShuHangGU/DCAE's DCAE() (commit bd00306) and CompressAI's, counted in the peer env


def adapted(net):
    """`net` for ELIC's compare helpers, same values: its slice heads read the shared dictionary through a
    `functools.partial` of the model's own module instead of a closure, so `copy.deepcopy(net).double()` (the
    float64 reference of `compare_forward`) reads the copy's float64 dictionary, not the original's float32
    one; and `compress` returns only `strings` and `shape` (DCAE's also returns `y_hat`, which its
    `decompress` does not take)."""
    shared = net.shared_dictionary
    for head in net.latent_codec.y.channel_context.values():
        head._dictionary_provider = functools.partial(type(shared).expand_for, shared)
    compress = net.compress
    net.compress = lambda x: {k: v for k, v in compress(x).items() if k in ("strings", "shape")}
    return net


@pytest.fixture(scope="module")
def small():
    net = adapted(make_compressai_model(NAME, steps=3, relative_noise=0.1, lr=1e-4, **SMALL))
    return net, ci.import_compressai(NAME, net)


def test_layout_and_parameter_count(small):
    net, imp = small
    kw = imp.model.kwargs
    assert (kw["N"], kw["M"], kw["feature_dims"], kw["blocks"], kw["dict_num"], kw["dict_dim"],
            kw["dict_heads"]) == (32, 40, (16, 24, 32), (1, 2, 2), 16, 32, 4)
    assert imp.tables is not None and imp.tables.gaussian is not None
    assert sum(int(np.size(v)) for v in jax.tree.leaves(imp.params)) == sum(p.numel() for p in net.parameters())


def test_published_size_has_the_official_parameter_count():
    from compressai.models.dcae import DCAE

    from jlic.models.dcae import parameter_count

    assert parameter_count() == OFFICIAL == sum(p.numel() for p in DCAE().parameters())


def test_forward_matches_compressai(small):
    print(compare_forward(*small, test_image(128)))


def test_real_bytes_and_decoding_match_compressai(small):
    print(compare_coding(*small, test_image(256)))


def test_exported_state_dict_gives_compressai_the_same_model(small):
    import torch
    from compressai.models.dcae import DCAE

    net, imp = small
    sd = ci.export_state_dict(imp.model, imp.params)
    other = DCAE(**SMALL).eval()
    # torch's own load_state_dict: CompressAI's override first resizes the entropy models' CDF buffers from the
    # state dict (the development line raises KeyError without them); the export holds parameters only, the
    # buffers are derived by update()
    tensors = {k: torch.from_numpy(np.asarray(v)) for k, v in sd.items()}
    missing, unexpected = torch.nn.Module.load_state_dict(other, tensors, strict=False)
    buffers = {name for name, _ in other.named_buffers()}  # derived constants and CDF tables
    assert not unexpected and set(missing) <= buffers, sorted(set(missing) - buffers)  # every parameter
    x = to_torch(test_image(64))
    with torch.no_grad():
        np.testing.assert_allclose(other(x)["x_hat"].numpy(), net(x)["x_hat"].numpy(), atol=1e-4)


def test_cli_import_gives_the_live_import(tmp_path, small):
    compare_cli_import(tmp_path, NAME, *small)
