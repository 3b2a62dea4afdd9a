"""MLIC, MLIC+ (arXiv 2211.07273) and MLIC++ (arXiv 2307.15421) imported from CompressAI's development line
(`compressai.models.mlic`, compressai-temp 1.2.9.dev0) equal it: reconstruction, likelihoods, real bytes of
`compress`, the decoded image (the tolerances and checks of `test_compressai_elic.py`).

Needs the development line as the peer (`scripts/install_peers.sh --dev`, or any environment where
`compressai.models.mlic` imports); skipped otherwise. Small models (N=16, M=8, 4 slices of 2 channels, the
fixed context widths of the official code), every tensor perturbed and trained 3 Adam steps (the helpers of
`compressai_models.py`), then g_a's last convolution scaled x4 (at this width the briefly trained y
rounds to 0 everywhere, which would code nothing; x4: 44 % non-zero symbols), on 128x128 (forward) and
192x192 (coding) crops of kodim01: slow, the 8-step checkerboard coding compiles one program per step.

Real bytes: the strings are tiny (9 CompressAI strings of 16-272 bytes on the 192x192 crop), so besides the
1 % / 2 % of `compare_coding` each CompressAI string may carry 8 bytes of flush and 32-bit word padding
(an all-zero string of 72 symbols takes 8 bytes); the measured sizes are printed.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.peers.compressai_models import make_compressai_model, test_image
from jlic.interop import compressai as ci
from tests.interop.test_compressai_elic import compare_coding, compare_forward

pytestmark = [pytest.mark.peers, pytest.mark.slow]
SMALL = {"N": 16, "M": 8, "slice_num": 4}
NAMES = ("mlic", "mlic-plus", "mlicpp")
Y_GAIN = 4.0
STRING_SLACK = 8


@pytest.fixture(scope="module", params=NAMES)
def small(request):
    pytest.importorskip("torch")
    pytest.importorskip("compressai.models.mlic", reason="needs CompressAI's development line (1.2.9.dev0)")
    import torch

    net = make_compressai_model(request.param, **SMALL)
    with torch.no_grad():
        last = net.g_a.analysis_transform[6]
        last.weight.mul_(Y_GAIN)
        last.bias.mul_(Y_GAIN)
    net.update(force=True)
    return net, ci.import_compressai(request.param, net)


def test_layout_is_read_off_the_weights(small):
    net, imp = small
    kw = imp.model.kwargs
    assert (kw["N"], kw["M"], imp.model.module.slices) == (16, 8, 4)
    assert imp.tables is not None and imp.tables.gaussian is not None
    np.testing.assert_array_equal(
        imp.scale_table, net.latent_codec.y.latent_codec["y3"].y.gaussian_conditional.scale_table.numpy())
    # every parameter of the peer is used once, and the export gives its state_dict back
    sd = {k: v.numpy() for k, v in net.state_dict().items()}
    back = ci.export_state_dict(imp.model, imp.params)
    assert set(back) == {k for k in sd if not k.endswith(ci._BUFFER_SUFFIXES)}
    for k, v in back.items():
        np.testing.assert_array_equal(v, sd[k], err_msg=k)


def test_forward_matches_compressai(small):
    print(compare_forward(*small, test_image(128)))


def test_real_bytes_and_decoding_match_compressai(small):
    print(compare_coding(*small, test_image(192), string_slack=STRING_SLACK))
