"""Shared helpers for the coding tests: small models with quickly built parameters.

`model.init` compiles the whole training forward pass, which takes minutes on this shared CPU; the codec
only needs *some* valid parameters of the right structure, so they are built leaf by leaf here with the
same initial values the modules use (GDN identity-ish, factorized-prior init, fan-in uniform kernels).
Unknown leaves fall back to `model.init`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fast_params import fast_params  # noqa: E402


@pytest.fixture(scope="session")
def small_model():
    """Factory: `small_model(name)` -> (model, params), cached per name for the session."""
    registry = pytest.importorskip("jlic.models.registry")
    cache = {}

    def make(name: str):
        if name not in cache:
            model = registry.get(name, N=8, M=12)
            cache[name] = (model, fast_params(model))
        return cache[name]

    return make
