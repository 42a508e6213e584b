#!/usr/bin/env bash
# The one prepared check for a GPU machine (bench/gpu_check.py), stopped at 470 s whatever happens; every finished row is
# already in OUT by then. With everything installed (a .venv, Colab after the install cell):
#   bash bench/gpu_check.sh --out gpu_check_out        # on the GPU machine
#   bash bench/gpu_check.sh --dry-run --out /tmp/gc    # on a CPU, tiny sizes
# On the lent machine (python3 3.12 + torch 2.11, missing packages carried as wheels) use bench/device/run.sh instead.
# PYTHON overrides the interpreter (default: the repository's .venv, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -n "${PYTHON:-}" ] || [ -x "$PY" ] || PY=python3
if [ ! -x "$PY" ] && ! command -v "$PY" >/dev/null; then
  echo "gpu_check.sh: no Python at $PY: run 'make test' once (it creates .venv) or set PYTHON=/path/to/python" >&2
  exit 2
fi
OUT_DIR=gpu_check_out; prev=""
for a in "$@"; do [ "$prev" = --out ] && OUT_DIR="$a"; prev="$a"; done
mkdir -p "$OUT_DIR"
set -o pipefail
timeout 470 "$PY" -u bench/gpu_check.py "$@" 2>&1 | tee "$OUT_DIR/gpu_check.log"
