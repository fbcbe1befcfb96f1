#!/usr/bin/env bash
# The whole test suite (CPU only; starts its own Chroma server, Streamlit server and Chromium).
# Test files run in CMR_TEST_WORKERS processes (pytest-xdist, default 2: the suite is mostly one
# process's CPU work, so a second one uses the second core); CMR_TEST_WORKERS=0 runs them in this
# process. Further arguments go to pytest (./test.sh tests/test_cli.py -x).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh
bash scripts/ensure_chromium.sh || echo "[setup] chromium install failed: the browser test will skip"
# With more than one worker (a number or xdist's "auto"), each one's torch (and BLAS) runs one
# thread, and torch.compile compiles in the test's own process: two workers of two threads each
# on two cores spent much of their time waiting on each other (bench/RESULTS.md, "Session 54:
# the suite's time").
case "${CMR_TEST_WORKERS:-2}" in
    0 | 1) ;;
    *)
        export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
        export TORCHINDUCTOR_COMPILE_THREADS="${TORCHINDUCTOR_COMPILE_THREADS:-1}"
        ;;
esac
exec python -m pytest -n "${CMR_TEST_WORKERS:-2}" --dist loadfile "$@"
