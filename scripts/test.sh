#!/usr/bin/env bash
# Install jlic with its test extras and the peers (CompressAI + torch), then run the default test suite.
# Usage: bash scripts/test.sh [pytest args...]      (inside the virtual environment you want to use)
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[test,codecs,tfds,cloud]"
bash scripts/install_peers.sh
set +e
# Two workers (pytest-xdist, one file per worker at a time): most of the suite is XLA compiling small programs on
# one thread, so two processes keep both cores busy. --durations lists the slowest tests for the next clean-up.
python -m pytest -q -n "${JLIC_TEST_WORKERS:-2}" --dist loadfile --durations=25 "$@"
rc=$?
set -e
# pytest exits 5 when it collected no test (e.g. a -k filter that matches nothing): not a failure of the code.
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests"
  exit 0
fi
exit "$rc"
