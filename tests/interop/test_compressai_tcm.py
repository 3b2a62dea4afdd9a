"""TCM (arXiv 2303.14978) imported from CompressAI's development line (`compressai.models.tcm.TCM`,
compressai-temp 1.2.9.dev0) equals it: reconstruction, likelihoods, real bytes of `compress`, jlic decoding
its own files exactly, the exported state_dict, and the `import-compressai` command.

Needs the development line, which lives in its own environment (scripts/install_peers_dev.sh): run with
``.venv-ctemp/bin/python -m pytest -m slow tests/interop/test_compressai_tcm.py`` (skipped elsewhere). All
tests are slow (a perturbed small TCM trained 3 Adam steps in CompressAI, at 64 x 64: minutes here).

Small model: N=32, M=40, stage depths (2, 1, 1, 2, 1, 2) (plain and shifted windows in g_a, g_s and the
hyperprior), head width 8, hyper channels 32; CompressAI's fixed SWAtten (width 128, head 16, window 8). At 128
x 128 the entropy model's windows (8) and the hyperprior's (4) are larger than y (8 x 8) and z (2 x 2) on the
hyper side, so the padding inside the window attention is exercised too. Tolerances and the compare helpers are
ELIC's (tests/interop/test_compressai_elic.py). Coding is compared at 256 x 256 (as ELIC's): at 128 x 128 the
small DCAE's 6 strings held 420 bytes and jlic's one stream 384 (0.914x, 2026-12-07), below the helper's bound
(CompressAI's rANS64 flushes 8 bytes per string, the helper allows 4), so the per-string overhead, not the
model, decided the ratio. TCM forward at 128 x 128 (measured 2026-12-07): x_hat 4.9e-7, likelihoods 3.4e-6
relative to the float64 peer; its coding comparison was not run to the end yet.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from benchmarks.peers.compressai_models import make_compressai_model, test_image, to_torch

pytest.importorskip("compressai.models.tcm", reason="CompressAI's development line is not installed here: "
                    "scripts/install_peers_dev.sh, then run with .venv-ctemp/bin/python")

from jlic.interop import compressai as ci  # noqa: E402
from tests.interop.test_compressai_elic import (  # noqa: E402
    compare_cli_import,
    compare_coding,
    compare_forward,
)

pytestmark = [pytest.mark.peers, pytest.mark.slow]
NAME = "tcm"
SMALL = {"N": 32, "M": 40, "config": (2, 1, 1, 2, 1, 2), "head_dim": (8,) * 6, "hyper_channels": 32,
         "hyper_head_dim": 8}
OFFICIAL = {64: 45_180_752, 96: 59_133_650, 128: 76_568_148}  # LIC_TCM's TCM(N=...), counted in the peer env


def _folded(net) -> int:
    """Parameters of CompressAI's extra linear layer after each window attention (jlic folds it away)."""
    return sum(p.numel() for n, p in net.named_parameters() if ".msa.output_proj." in n)


@pytest.fixture(scope="module")
def small():
    net = make_compressai_model(NAME, steps=3, relative_noise=0.1, lr=1e-4, **SMALL)
    return net, ci.import_compressai(NAME, net)


def test_layout_and_parameter_count(small):
    net, imp = small
    kw = imp.model.kwargs
    assert (kw["N"], kw["M"], kw["depths"], kw["head_dims"], kw["hyper_channels"]) == (
        32, 40, (2, 1, 1, 2, 1, 2), (8,) * 6, 32)
    assert imp.tables is not None and imp.tables.gaussian is not None
    n = sum(int(np.size(v)) for v in jax.tree.leaves(imp.params))
    assert n == sum(p.numel() for p in net.parameters()) - _folded(net)


def test_published_sizes_have_the_official_parameter_counts():
    """jlic's count equals the official module's (LIC_TCM, commit 6c6d7a3) and CompressAI's minus its extra
    projections (CompressAI's TCM(N=128): 77,195,604)."""
    from compressai.models.tcm import TCM

    from jlic.models.tcm import parameter_count

    for n, official in OFFICIAL.items():
        net = TCM(N=n)
        assert parameter_count(N=n) == official == sum(p.numel() for p in net.parameters()) - _folded(net)


def test_forward_matches_compressai(small):
    print(compare_forward(*small, test_image(128)))


def test_real_bytes_and_decoding_match_compressai(small):
    print(compare_coding(*small, test_image(256)))


def test_exported_state_dict_gives_compressai_the_same_model(small):
    """export_state_dict (identity `attn.proj`, folded `output_proj`) loaded into a fresh CompressAI TCM gives
    the original's reconstruction."""
    import torch
    from compressai.models.tcm import TCM

    net, imp = small
    sd = ci.export_state_dict(imp.model, imp.params)
    other = TCM(**{k: list(v) if isinstance(v, tuple) else v for k, v in SMALL.items()}).eval()
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
