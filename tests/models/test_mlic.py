"""MLIC and MLIC+ (arXiv 2211.07273): the published sizes have exactly the parameters of CompressAI's
development line. Equivalence with it (forward, likelihoods, real bytes, decoding):
tests/interop/test_compressai_devline.py (slow, needs the development line as the peer)."""

from __future__ import annotations

import pytest

from jlic.models import mlic, mlicpp, registry

# sum(p.numel() for p in net.parameters()) of compressai.models.mlic.MLIC() / MLICPlus() (compressai-temp
# 1.2.9.dev0, counted 2026-12-07); MLIC+ has MLIC++'s weights (only the attention differs).
COMPRESSAI_PARAMETERS = {"mlic": 41_885_452, "mlic-plus": 83_501_408}


@pytest.mark.parametrize("name", sorted(COMPRESSAI_PARAMETERS))
def test_parameter_count_equals_compressai(name):
    model = registry.get(name)
    kwargs = {k: v for k, v in model.kwargs.items() if k != "quality"}
    assert mlicpp.parameter_count(type(model.module), **kwargs) == COMPRESSAI_PARAMETERS[name]
    assert model.stride == 64 and model.module.slice_channels() == 32


def test_mlic_has_no_inter_slice_context_and_mlic_plus_has_compressai_heads():
    assert registry.get("mlic").module.slices == 6 and isinstance(registry.get("mlic").module, mlic.Mlic)
    plus = registry.get("mlic-plus").module
    assert [plus.inter_heads(k) for k in range(1, 10)] == list(range(1, 10))  # one head per 32 channels
    small = registry.get("mlic-plus", M=40).module  # 4 channels per slice: CompressAI's rule, 1 head up to 63
    assert [small.inter_heads(k) for k in (1, 8, 9)] == [1, 1, 1]
