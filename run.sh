#!/usr/bin/env bash
# Main job: the CMR-CLIP Studio dashboard on the demo data (built on first run, with progress).
set -euo pipefail
# A relative CMR_DATA_ROOT is read from where ./run.sh was typed, not from the project folder.
case "${CMR_DATA_ROOT:-}" in
  "" | /* | "~"*) ;;
  *) export CMR_DATA_ROOT="$PWD/$CMR_DATA_ROOT" ;;
esac
cd "$(dirname "$0")"
source scripts/setup.sh
exec python -m dashboard.launch "$@"
