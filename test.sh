#!/usr/bin/env bash
# The whole test suite (CPU only; starts its own Chroma server, Streamlit server and Chromium).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh
bash scripts/ensure_chromium.sh || echo "[setup] chromium install failed: the browser test will skip"
exec python -m pytest "$@"
