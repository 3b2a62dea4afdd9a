#!/usr/bin/env bash
# Install CompressAI's development line (`compressai-temp` 1.2.9.dev0: TCM, DCAE, MLIC/MLIC+/MLICv2, STF/WACNN,
# CCA, SAAF) as a second peer, in its own virtual environment layered over the jlic environment.
#
# Usage:  . .venv/bin/activate && bash scripts/install_peers_dev.sh     (called by scripts/install_peers.sh)
#         DEV_PEER_VENV=/path/to/venv bash scripts/install_peers_dev.sh  (default: <repo>/.venv-ctemp)
# Then run the development-line tests with that environment's python, from the repository root:
#         .venv-ctemp/bin/python -m pytest -m slow tests/interop/test_compressai_tcm.py
#
# Why a separate environment and not a replacement of compressai 1.2.8: both install the package `compressai`, and
# the development line is not a superset of 1.2.8 for jlic's peer tests (2026-12-07: tests/interop run with it
# gave 2 failures and 5 errors): its image models' `decompress` no longer clamps x_hat to [0, 1], the vbr import
# finds no tables, and its latent-codec models (ELIC, He2021 checkerboard) keep `h_a`/`h_s` at
# `latent_codec.h_a`/`latent_codec.h_s` and the entropy bottleneck at `latent_codec.z.*` instead of
# `latent_codec.hyper.*`, so the 1.2.8 state-dict layouts that jlic's key maps and zoo tests read change.
#
# How: the new environment reads the jlic environment's site-packages through a .pth file placed after its own,
# so it shares jax, numpy>=2, torch and jlic's dependencies (no second 6 GB torch) while its own `compressai`
# (the development line) shadows 1.2.8. Nothing is installed into the jlic environment, so its numpy stays >= 2
# (see install_peers.sh for that trap). compressai-temp is installed with --no-deps for the same reason
# compressai 1.2.8 is (its declared pins are not needed at run time).
set -euo pipefail
PY=${PYTHON:-python}
REPO=$(cd "$(dirname "$0")/.." && pwd)
DEV=${DEV_PEER_VENV:-$REPO/.venv-ctemp}
CTEMP=${CTEMP_VERSION:-1.2.9.dev0}
TIMM=${TIMM_VERSION:-1.0.31}

BASE_SITE=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
if [ -x "$DEV/bin/python" ] && "$DEV/bin/python" -c "import compressai, timm, sys; \
    sys.exit(compressai.__version__ != '$CTEMP')" 2>/dev/null; then
  echo "dev peer already installed in $DEV (compressai $CTEMP)"
  exit 0
fi
"$PY" -m venv "$DEV"
DEV_SITE=$("$DEV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
# addsitedir (not a plain path line) so the base environment's own .pth files (editable installs) are read too.
echo "import site; site.addsitedir('$BASE_SITE')" > "$DEV_SITE/zz_jlic_base_env.pth"

# compressai-temp builds its C++ rANS extension from the sdist (setuptools, wheel, pybind11 in the build env).
"$DEV/bin/python" -m pip install --no-deps "compressai-temp==${CTEMP}"
# timm (the Swin layers of TCM/DCAE/STF) with its dependencies: torch and torchvision are found in the base
# environment, so pip adds only what the base lacks (huggingface-hub, safetensors).
"$DEV/bin/python" -m pip install "timm==${TIMM}"

"$DEV/bin/python" - <<'PYEOF'
import numpy
import jax
import compressai
import compressai.zoo
import torch
from compressai.models.dcae import DCAE  # noqa: F401
from compressai.models.tcm import TCM  # noqa: F401

assert int(numpy.__version__.split(".")[0]) >= 2, f"numpy {numpy.__version__} < 2"
assert compressai.__version__.startswith("1.2.9"), compressai.__version__
print(f"dev peer ok: numpy {numpy.__version__}, jax {jax.__version__}, torch {torch.__version__}, "
      f"compressai {compressai.__version__} at {compressai.__file__}")
PYEOF
