#!/usr/bin/env bash
# Create or refresh the project's virtual environment (.venv) with pinned versions.
#
# Idempotent: re-running it only reinstalls when requirements*.txt or setup.py changed.
# Installs the Debian package libusb-1.0-0 (open3d's import needs it) when running as
# root, otherwise stops and says exactly what to run.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV=.venv
STAMP="$VENV/.installed"

need_python="3.11"
have_python="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo none)"
if [ "$have_python" != "$need_python" ]; then
  echo "error: Python $need_python is required (the pinned torch/ROS wheels are built for it); '$PYTHON' is $have_python." >&2
  echo "       Install python3.11 and python3.11-venv, or run with PYTHON=/path/to/python3.11." >&2
  exit 1
fi

if ! ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0'; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing libusb-1.0-0 (needed by open3d)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libusb-1.0-0 >/dev/null
  else
    echo "error: open3d needs the system library libusb-1.0. Run:" >&2
    echo "       sudo apt-get install -y libusb-1.0-0" >&2
    echo "       and then this command again." >&2
    exit 1
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "bootstrap: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi

if [ ! -f "$STAMP" ] || [ requirements.txt -nt "$STAMP" ] || [ requirements-dev.txt -nt "$STAMP" ] \
   || [ setup.py -nt "$STAMP" ]; then
  echo "bootstrap: installing pinned dependencies into $VENV (first run takes ~2 minutes)"
  # torch==2.13.0 is pinned in requirements.txt: pip takes the CPU build from local disk.
  "$VENV/bin/pip" install --disable-pip-version-check -q -r requirements-dev.txt 2> >(grep -v '^WARNING: Location' >&2)
  "$VENV/bin/pip" install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
  touch "$STAMP"
fi
