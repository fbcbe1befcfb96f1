#!/usr/bin/env bash
# Idempotent environment set-up shared by run.sh and test.sh: a project venv with the pinned
# requirements, re-installed only when a requirements file changes. A venv that cannot run pip
# (a first run interrupted while the venv was made, a system Python removed since) is made again.
# One set-up at a time (flock on .venv.lock): ./run.sh and ./test.sh started together on a fresh
# machine make one venv, the second waiting for the first and then reusing it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

setup_lock=""
if command -v flock >/dev/null 2>&1 && exec {setup_lock}>>"$ROOT/.venv.lock"; then
  if ! flock -n "$setup_lock"; then
    echo "[setup] another ./run.sh or ./test.sh is setting up .venv: waiting for it"
    flock "$setup_lock"
  fi
fi

if ! "$VENV/bin/python" -c 'import pip' >/dev/null 2>&1; then
  PY="${PYTHON:-python3.11}"
  if [ -z "${PYTHON:-}" ] && ! command -v "$PY" >/dev/null 2>&1; then PY=python3; fi
  if ! command -v "$PY" >/dev/null 2>&1; then
    echo "[setup] no $PY found: install Python 3.11 or set PYTHON to one" >&2
    exit 1
  fi
  if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    found="$("$PY" -c 'import platform; print(platform.python_version())' 2>/dev/null || echo '?')"
    echo "[setup] $PY is Python $found; this project needs 3.11 or newer: install python3.11" \
      "or set PYTHON to one" >&2
    exit 1
  fi
  if [ -e "$VENV" ]; then
    echo "[setup] .venv cannot run pip (an interrupted first run?): making it again"
  else
    echo "[setup] creating virtual environment in .venv"
  fi
  "$PY" -m venv --clear "$VENV"
fi

want="$(cat "$ROOT/requirements.txt" "$ROOT/requirements-dev.txt" | sha256sum | cut -d' ' -f1)"
stamp="$VENV/.requirements.sha256"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "[setup] installing requirements (first run takes a few minutes)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/requirements-dev.txt"
  echo "$want" > "$stamp"
fi
if [ -n "$setup_lock" ]; then exec {setup_lock}>&-; fi # not held by the dashboard or the tests

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False
export PATH="$VENV/bin:$PATH"
