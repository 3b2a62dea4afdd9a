#!/usr/bin/env bash
# Install the `peers` (CompressAI 1.2.8 + torch 2.14.1 + torchvision 0.29.1) into an existing jlic environment.
#
# Usage:  . .venv/bin/activate && bash scripts/install_peers.sh      (or PYTHON=/path/to/python bash ...)
#
# Why a script and not `pip install compressai`: compressai 1.2.8 declares `numpy<2`, while jax 0.10.2 needs
# numpy>=2, so a plain install downgrades numpy and breaks jax. CompressAI itself runs fine on numpy 2, so it is
# installed with --no-deps and its runtime needs are listed here explicitly (torch-geometric is needed because
# `import compressai` imports `compressai.transforms.point`, which imports torch_geometric). torch and
# torchvision are pinned as a matching pair (a torchvision that does not match torch fails at `import
# compressai` with "operator torchvision::nms does not exist").
set -euo pipefail
PY=${PYTHON:-python}
TORCH=${TORCH_VERSION:-2.14.1}
TORCHVISION=${TORCHVISION_VERSION:-0.29.1}

"$PY" -m pip install "torch==${TORCH}" "torchvision==${TORCHVISION}"
"$PY" -m pip install --no-deps "compressai==1.2.8"
"$PY" -m pip install einops pandas pybind11 pytorch-msssim scipy tqdm typing-extensions matplotlib torch-geometric

"$PY" - <<'PYEOF'
import numpy
import jax
import compressai
import compressai.zoo  # noqa: F401
import torch

major = int(numpy.__version__.split(".")[0])
assert major >= 2, f"numpy {numpy.__version__} < 2: jax is broken, something downgraded numpy"
print(f"peers ok: numpy {numpy.__version__}, jax {jax.__version__}, torch {torch.__version__}, "
      f"compressai {compressai.__version__}")
PYEOF

# CompressAI's development line (TCM, DCAE, MLIC, STF, CCA, SAAF) as a second peer in its own environment layered
# over this one (it is not a superset of 1.2.8; the script says why). Skip with DEV_PEER=0.
if [ "${DEV_PEER:-1}" != "0" ]; then
  PYTHON="$PY" bash "$(dirname "$0")/install_peers_dev.sh"
fi
