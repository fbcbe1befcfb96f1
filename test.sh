#!/usr/bin/env bash
# The whole test suite (CPU only; starts its own Chroma server, Streamlit server and Chromium).
# Test files run in CMR_TEST_WORKERS processes (pytest-xdist, default 2: the suite is mostly one
# process's CPU work, so a second one uses the second core); CMR_TEST_WORKERS=0 runs them in this
# process. Further arguments go to pytest (./test.sh tests/test_cli.py -x).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh
bash scripts/ensure_chromium.sh || echo "[setup] chromium install failed: the browser test will skip"
exec python -m pytest -n "${CMR_TEST_WORKERS:-2}" --dist loadfile "$@"
