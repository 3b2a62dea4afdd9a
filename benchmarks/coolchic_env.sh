#!/usr/bin/env bash
# Build a separate venv with Cool-chic 5.0.1 (Orange-OpenSource/Cool-Chic, arXiv 2605.02726) on CPU torch, for
# benchmarks/overfit_fit.py's peer. Nothing of Cool-chic is committed here: its source is a git checkout of the
# tag outside the repository.
# Usage: benchmarks/coolchic_env.sh [VENV_DIR] [SRC_DIR]   (defaults: ../venv-coolchic, ../coolchic-src)
# SRC: a clone of https://github.com/Orange-OpenSource/Cool-Chic (git clone; or COOLCHIC_GIT=<a local mirror>).
set -euo pipefail
VENV=${1:-../venv-coolchic}
SRC=${2:-../coolchic-src}
TAG=${COOLCHIC_TAG:-v5.0.1}
GIT=${COOLCHIC_GIT:-https://github.com/Orange-OpenSource/Cool-Chic.git}
if [ ! -d "$SRC/.git" ]; then
  git clone --quiet "$GIT" "$SRC"
fi
git -C "$SRC" checkout --quiet "$TAG"
python3 -m venv "$VENV"
# CPU torch: a "+cpu" wheel where one is at hand (pip's find-links), else PyPI's torch
"$VENV/bin/pip" install --quiet "torch>=2.11,<3" --prefer-binary \
  $(ls /opt/wheels/torch-*+cpu-*.whl 2>/dev/null | head -1) || "$VENV/bin/pip" install --quiet "torch>=2.11"
"$VENV/bin/pip" install --quiet einops fvcore ConfigArgParse scipy "constriction==0.4.2" pillow numpy
echo "Cool-chic $TAG in $SRC, venv $VENV: $("$VENV/bin/python" -c 'import torch; print("torch", torch.__version__)')"
