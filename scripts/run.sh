#!/usr/bin/env bash
# Install what the app needs into .venv and start it on its bundled defaults.
# Host and port follow GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (default 127.0.0.1:7860).
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x .venv/bin/python ] || "${PYTHON:-python3}" -m venv .venv
.venv/bin/python -m pip install --disable-pip-version-check -q -r requirements.txt
exec .venv/bin/python app.py "$@"
