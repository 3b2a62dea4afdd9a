"""STF and WACNN (arXiv 2203.08450): the published sizes have exactly the parameters of CompressAI's
development line. Equivalence with it (forward, likelihoods, real bytes, decoding):
tests/interop/test_compressai_devline.py (slow, needs the development line as the peer)."""

from __future__ import annotations

import math

import jax
import pytest

from jlic.models import registry

# sum(p.numel() for p in net.parameters()) of compressai.models.stf.SymmetricalTransFormer() / WACNN()
# (compressai-temp 1.2.9.dev0, counted 2026-12-07).
COMPRESSAI_PARAMETERS = {"stf": 99_855_639, "stf-wacnn": 75_235_779}


@pytest.mark.parametrize("name", sorted(COMPRESSAI_PARAMETERS))
def test_parameter_count_equals_compressai(name):
    model = registry.get(name)
    shapes = jax.eval_shape(lambda k: model.init(k, (1, 64, 64, 3)), jax.random.PRNGKey(0))
    assert sum(math.prod(x.shape) for x in jax.tree.leaves(shapes)) == COMPRESSAI_PARAMETERS[name]
    assert model.stride == 64


def test_stf_sizes_must_agree_with_the_embedding():
    with pytest.raises(ValueError, match="M=384"):
        m = registry.get("stf", M=360)  # a multiple of the 12 slices, not 48 * 8
        jax.eval_shape(lambda k: m.init(k, (1, 64, 64, 3)), jax.random.PRNGKey(0))
