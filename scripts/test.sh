#!/usr/bin/env bash
# The README's test command: set up .venv, then lint (pre-commit on all files) and run every test.
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not local" -x
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-env.sh
export PATH="$PWD/.venv/bin:$PATH"
pre-commit run --all-files --show-diff-on-failure
pytest "$@"
