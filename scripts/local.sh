#!/usr/bin/env bash
# The README's main command: set up .venv, then run the whole pipeline on the embedded emulator
# with a real model. Extra arguments go to `python -m pipeline local` (e.g. --keep, --data Train.csv).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-env.sh
exec .venv/bin/python -m pipeline local "$@"
