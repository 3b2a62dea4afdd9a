#!/usr/bin/env bash
# Build jlic's wheel and sdist (python -m build), install the wheel with its extras into a fresh virtual
# environment outside the checkout, and run the console script and an import from there: `pip install jlic`
# one step away from a release.
# Usage: bash scripts/check_wheel.sh [EXTRAS]     (default extras: codecs; e.g. "codecs,tfds")
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=${1:-codecs}
PY=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PY" -m venv "$work/build-env"
"$work/build-env/bin/python" -m pip install -q build
"$work/build-env/bin/python" -m build --outdir "$work/dist" .
wheel=$(ls "$work"/dist/jlic-*.whl)
echo "built: $(basename "$wheel") $(ls "$work"/dist/*.tar.gz | xargs -n1 basename)"
"$PY" -m venv "$work/env"
"$work/env/bin/python" -m pip install -q "${wheel}[${EXTRAS}]"
cd "$work"   # away from the checkout: the installed package, not the source tree, is imported
"$work/env/bin/jlic" --help | head -3
"$work/env/bin/python" -c "import jlic.commands, jlic.models, experiments.configs.default as d; \
print('jlic', jlic.commands.__file__); print(len(jlic.models.names()), 'models;', d.get_config().model)"
echo "wheel ok"
