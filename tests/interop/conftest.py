"""Fixtures of the interop tests (helpers live in compressai_models.py)."""

from __future__ import annotations

import pytest

from benchmarks.peers.compressai_models import make_compressai_model

_CACHE: dict[str, object] = {}


@pytest.fixture(scope="session")
def compressai_model():
    """`compressai_model(name)`: a cached `make_compressai_model(name)` (built once per test session)."""
    pytest.importorskip("torch", reason="the peers extra (torch + compressai) is not installed: "
                                        "bash scripts/install_peers.sh")
    pytest.importorskip("compressai", reason="the peers extra (compressai) is not installed: "
                                             "bash scripts/install_peers.sh")

    def get(name: str):
        if name not in _CACHE:
            _CACHE[name] = make_compressai_model(name)
        return _CACHE[name]

    return get
