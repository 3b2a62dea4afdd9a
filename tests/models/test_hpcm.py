"""HPCM (arXiv 2507.19125): parameter counts, and the forward pass against the official code.

The official counts (68,505,299 for HPCM-Base, 89,718,803 for HPCM-Large) are what its modules give, counted
with ``sum(p.numel() for p in net.parameters())`` on the official ``src/models/HPCM_{Base,Large}.py`` built on
CPU (the slow test below builds them again). The equivalence test needs the official source: a directory
with ``src/models/HPCM_Base.py`` in ``$HPCM_OFFICIAL_SRC``, or the stored snapshot
``/work/.mirror/lyq133+LIC-HPCM/repo`` (a git directory, extracted with ``git archive``); it skips with the
reason otherwise. Its compiled coder modules (Python 3.8 only) are stubbed: the forward pass does not use them.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import types
from pathlib import Path

import jax
import numpy as np
import pytest

from jlic.models import registry

OFFICIAL = {"hpcm-base": 68_505_299, "hpcm-large": 89_718_803}
MIRROR = Path("/work/.mirror/lyq133+LIC-HPCM/repo")
KODAK = Path(__file__).resolve().parents[3] / "shared" / "data" / "kodak"


def count(name: str) -> int:
    model = registry.get(name)
    shapes = jax.eval_shape(lambda k: model.init(k, (1, 256, 256, 3)), jax.random.PRNGKey(0))
    return sum(int(np.prod(a.shape)) for a in jax.tree.leaves(shapes))


@pytest.mark.parametrize("name", ["hpcm-base", pytest.param("hpcm-large", marks=pytest.mark.slow)])
def test_parameter_count_equals_the_official_model(name):
    assert count(name) == OFFICIAL[name]


def official_source(tmp: Path) -> Path | None:
    env = os.environ.get("HPCM_OFFICIAL_SRC")
    if env and (Path(env) / "src" / "models" / "HPCM_Base.py").exists():
        return Path(env)
    if MIRROR.exists():
        archive = subprocess.run(["git", "-C", str(MIRROR), "archive", "HEAD", "src"], capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "x", "-C", str(tmp)], input=archive, check=True)
        return tmp
    return None


def build_official(root: Path, size: str):
    torch = pytest.importorskip("torch")
    pytest.importorskip("einops")
    sys.path.insert(0, str(root))
    for name in ("src.entropy_models._CXX", "src.entropy_models.unbounded_ans"):
        stub = types.ModuleType(name)
        stub.pmf_to_quantized_cdf = stub.ubransEncoder = stub.ubransDecoder = None
        sys.modules[name] = stub
    ones = torch.ones
    torch.ones = lambda *a, device=None, **k: ones(*a, **k)  # the official code allocates some on 'cuda'
    try:
        return importlib.import_module(f"src.models.HPCM_{size.capitalize()}").HPCM()
    finally:
        torch.ones = ones


def image(size: int = 256) -> np.ndarray:
    path = KODAK / "kodim23.png"
    if path.exists():
        from PIL import Image

        return np.asarray(Image.open(path).convert("RGB"), np.float32)[100:100 + size, 200:200 + size] / 255
    rng = np.random.default_rng(0)
    return rng.uniform(0, 1, (size, size, 3)).astype(np.float32)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["hpcm-base", "hpcm-large"])
def test_forward_equals_the_official_code(name, tmp_path):
    root = official_source(tmp_path)
    if root is None:
        pytest.skip("needs the official HPCM source (lyq133/LIC-HPCM): set $HPCM_OFFICIAL_SRC or fetch the "
                    f"snapshot to {MIRROR}")
    import torch

    from jlic.interop import hpcm as interop

    torch.manual_seed(0)
    net = build_official(root, name.split("-")[1]).eval()
    assert sum(p.numel() for p in net.parameters()) == OFFICIAL[name]
    with torch.no_grad():  # perturb the constant-initialised parameters so that every one matters
        g = torch.Generator().manual_seed(1)
        for p in net.adaptive_params_list:
            p.mul_(1 + 0.2 * torch.randn(p.shape, generator=g))
        net.scales_hyper.mul_(1 + 0.5 * torch.rand(net.scales_hyper.shape, generator=g))
        net.means_hyper.add_(0.3 * torch.randn(net.means_hyper.shape, generator=g))
    model = registry.get(name)
    params = interop.from_official(model, net.state_dict())
    x = image()
    with torch.no_grad():
        ref = net(torch.from_numpy(x.transpose(2, 0, 1)[None].copy()), training=False)
    out = model.apply(params, x[None])
    x_ref = ref["x_hat"][0].numpy().transpose(1, 2, 0)
    rel = {}
    for k in ("y", "z"):
        want = ref["likelihoods"][k][0].numpy().transpose(1, 2, 0)
        rel[k] = float((np.abs(np.asarray(out.likelihoods[k])[0] - want) / want).max())
    print(name, "max abs x_hat diff", float(np.abs(np.asarray(out.x_hat)[0] - x_ref).max()), "rel lik", rel)
    np.testing.assert_allclose(np.asarray(out.x_hat)[0], x_ref, rtol=0, atol=1e-4)
    for k in ("y", "z"):
        got = np.asarray(out.likelihoods[k])[0]
        want = ref["likelihoods"][k][0].numpy().transpose(1, 2, 0)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=0, err_msg=k)
