#!/usr/bin/env bash
# Install everything the test suite needs and run it: Python packages into .venv, and Chromium
# (plus fonts for faithful screenshots) from Debian's packages when it is missing.
# Usage: bash scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x .venv/bin/python ] || "${PYTHON:-python3}" -m venv .venv
.venv/bin/python -m pip install --disable-pip-version-check -q -r requirements-test.txt

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Chromium from Debian's packages for the browser tests..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-nanum fonts-noto-color-emoji >/dev/null
  else
    echo "Chromium is missing; the browser tests will be skipped. Install it: sudo apt-get install chromium" >&2
  fi
fi

exec .venv/bin/python -m pytest "$@"
