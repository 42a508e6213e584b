#!/usr/bin/env bash
# The one prepared check for a GPU machine, under 8 minutes in all (see bench/gpu_check.py):
#   bash bench/gpu_check.sh --out gpu_check_out        # on the GPU machine
#   bash bench/gpu_check.sh --dry-run --out /tmp/gc    # on a CPU, tiny sizes (what tests/test_sd.py runs)
# PYTHON overrides the interpreter (default: the repository's .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
if [ ! -x "$PY" ] && ! command -v "$PY" >/dev/null; then
  echo "gpu_check.sh: no Python at $PY: run 'make test' once (it creates .venv) or set PYTHON=/path/to/python" >&2
  exit 2
fi
exec timeout 470 "$PY" bench/gpu_check.py "$@"
