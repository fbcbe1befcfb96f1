#!/usr/bin/env bash
# Main job: the CMR-CLIP Studio dashboard on the demo data (built on first run, with progress).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh
exec python -m dashboard.launch "$@"
