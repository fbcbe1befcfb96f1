#!/usr/bin/env bash
# Debian's chromium for the one real-browser test (never a browser download by a test tool).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "[setup] installing Debian chromium for the browser test"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "[setup] /usr/bin/chromium missing and cannot apt-get install it: the browser test will skip"
fi
