#!/usr/bin/env bash
# Regenerate the tensorflow-compression golden fixtures (tests/golden/tfc_*.npz) from TFC itself.
#
# tensorflow-compression 2.14.1 pins tensorflow 2.14 and numpy < 2, which cannot share an environment with
# jax 0.10 (numpy >= 2), so it lives in its own virtual environment (default /tmp/jlic-tfc-venv, ~2 GB,
# several minutes to install). Usage, from anywhere:
#
#     bash tests/golden/make_tfc_venv.sh            # create/refresh the venv, then write the fixtures
#     TFC_VENV=/path/to/venv bash tests/golden/make_tfc_venv.sh
#
# jlic's side is tests/interop/test_tfc_fixtures.py, which only reads the committed .npz files.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
VENV="${TFC_VENV:-/tmp/jlic-tfc-venv}"
PY="${PYTHON3:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "tensorflow-compression==2.14.1" "tensorflow==2.14.1"
"$VENV/bin/python" -c "import tensorflow as tf, tensorflow_compression as tfc, numpy; \
print('tensorflow', tf.__version__, 'tfc', tfc.__version__ if hasattr(tfc, '__version__') else '2.14.1', \
'numpy', numpy.__version__)"
TF_CPP_MIN_LOG_LEVEL=2 CUDA_VISIBLE_DEVICES="" "$VENV/bin/python" "$HERE/make_tfc_fixtures.py" --out "$HERE"
