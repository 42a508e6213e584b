#!/usr/bin/env bash
# The GPU check on the lent machine (the device tool: Python 3.12 + torch 2.11, no .venv, no network, 64 MiB a call),
# and its rehearsal here. bench/device/README.md says why each wheel travels and what was measured.
#   bash bench/device/run.sh fetch                  # here, once: wheels.txt's wheels for CPython 3.12 manylinux into .whl/
#   bash bench/device/run.sh budget                 # here: what one call carries (tree + .whl/) against the 64 MiB limit
#   bash bench/device/run.sh --out "$OUT"           # there (carry .whl): wheels into /tmp/site, then bench/gpu_check.sh
#   bash bench/device/run.sh --dry-run [--out DIR]  # here: the same at tiny sizes on the CPU, wheels into a temporary folder
# PYTHON overrides the interpreter (default python3; a dry run falls back to .venv/bin/python where python3 lacks torch).
set -euo pipefail
cd "$(dirname "$0")/../.."
WHL=.whl
LIMIT=$((64 * 1024 * 1024))  # the device tool's limit on what one call carries, in bytes
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64
           --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64)

wheels() { grep -v '^[[:space:]]*#' bench/device/wheels.txt | grep -v '^[[:space:]]*$'; }

fetch() {  # download exactly wheels.txt's versions, then drop any other wheel left in .whl/ (two versions stop an install)
  mapfile -t want < <(wheels)
  python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${PLATFORMS[@]}" \
    -d "$WHL" "${want[@]}"
  for f in "$WHL"/*.whl; do
    stem=$(basename "$f" | cut -d- -f1-2 | tr '[:upper:]_' '[:lower:]-'); keep=no
    for w in "${want[@]}"; do [ "$stem" = "$(echo "$w" | tr '[:upper:]_' '[:lower:]-' | sed 's/==/-/')" ] && keep=yes; done
    [ "$keep" = yes ] || { echo "fetch: removing $f (not in wheels.txt)"; rm -f "$f"; }
  done
  git check-ignore -q "$WHL/x.whl" || echo "fetch: warning: $WHL/ is not git-ignored: it would travel twice" >&2
}

tree_bytes() {  # what the device tool sends: tracked and untracked-not-ignored files (links as links), and an ignored shared/
  local n
  n=$(git ls-files -z -co --exclude-standard | xargs -0 -r stat -c %s -- 2>/dev/null | awk '{s += $1} END {print s + 0}')
  if [ -d shared ] && git check-ignore -q shared; then n=$((n + $(du -sb shared | cut -f1))); fi
  echo "$n"
}

budget() {
  local tree whl total
  tree=$(tree_bytes); whl=0
  if compgen -G "$WHL/*.whl" >/dev/null; then whl=$(cat "$WHL"/*.whl | wc -c); fi
  total=$((tree + whl))
  mib() { awk -v b="$1" 'BEGIN {printf "%.2f MiB (%d bytes)", b / 1048576, b}'; }
  echo "tree (tracked + untracked-not-ignored): $(mib "$tree")"
  echo "wheels in $WHL/: $(mib "$whl")"; { ls -l "$WHL"/*.whl 2>/dev/null || true; } | awk '{printf "  %10d  %s\n", $5, $9}'
  echo "one call carries: $(mib "$total") of $(mib "$LIMIT"), $(mib $((LIMIT - total))) to spare"
  [ "$total" -le "$LIMIT" ] || { echo "budget: over the device's 64 MiB limit: carry fewer wheels or ignore large files" >&2; exit 1; }
}

check() {  # install the wheels (if any) into a --target folder, then the check with that Python
  local dry=no out=no site py
  for a in "$@"; do [ "$a" = --dry-run ] && dry=yes; [ "$a" = --out ] && out=yes; done
  if [ "$dry" = yes ] && [ "$out" = no ]; then set -- "$@" --out "$(mktemp -d /tmp/gpu_check_dry.XXXXXX)"; fi
  py="${PYTHON:-python3}"
  if [ "$dry" = yes ] && ! "$py" -c 'import torch' 2>/dev/null; then
    echo "run.sh: $py has no torch here: the dry run uses .venv/bin/python (on the device, python3 has torch 2.11)"
    py=.venv/bin/python
  fi
  "$py" -c 'import torch' || { echo "run.sh: $py cannot import torch: set PYTHON=/path/to/python" >&2; exit 2; }
  if [ "$dry" = yes ]; then site=$(mktemp -d); SITE_TMP=$site; trap 'rm -rf "$SITE_TMP"' EXIT; else site=/tmp/site; fi
  if compgen -G "$WHL/*.whl" >/dev/null; then
    local dupes; dupes=$(ls "$WHL"/*.whl | xargs -n1 basename | cut -d- -f1 | sort | uniq -d)
    [ -z "$dupes" ] || { echo "run.sh: two versions of $dupes in $WHL/: run 'bash bench/device/run.sh fetch' again" >&2; exit 2; }
    "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" "$WHL"/*.whl
    echo "run.sh: installed $(ls "$WHL"/*.whl | wc -l) wheels into $site"
  else
    echo "run.sh: no wheels in $WHL/ ('bash bench/device/run.sh fetch' downloads them): using what $py has"
  fi
  export PYTHONPATH="$PWD:$site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
  PYTHON="$py" bash bench/gpu_check.sh "$@"
}

case "${1:-}" in
  fetch) fetch ;;
  budget) budget ;;
  -h|--help) sed -n 2,8p "$0" ;;
  *) check "$@" ;;
esac
