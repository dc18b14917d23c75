#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv with everything the
# pipeline, its local mode and its checks need. Safe to run again: pip skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin="${PYTHON:-python3}"
if ! "$python_bin" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "error: $python_bin is missing or older than Python 3.10; set PYTHON=/path/to/python3.10+" >&2
    exit 2
fi
if [ ! -x .venv/bin/python ]; then
    echo "creating .venv with $("$python_bin" --version)"
    "$python_bin" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=23"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
echo "environment ready: .venv ($(.venv/bin/python --version))"
