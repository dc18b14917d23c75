#!/usr/bin/env bash
# Regenerate the hashed locks in requirements/ from setup.cfg, requirements/build.in and
# pyproject.toml with uv (needs the package index). Existing pins are kept where they still fit:
#   scripts/lock.sh                          # after changing a requirement
#   scripts/lock.sh --upgrade-package NAME   # move one package to its newest allowed version
#   scripts/lock.sh --upgrade                # move everything
#   scripts/lock.sh check [--resolve]        # fail (exit 2) when a lock is stale
set -euo pipefail
cd "$(dirname "$0")/.."
python_bin="${PYTHON:-python3}"
if [ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ]; then python_bin=.venv/bin/python; fi
case "${1:-}" in
    check|stamp|compile) exec "$python_bin" -m pipeline.lockfile "$@" ;;
    *) exec "$python_bin" -m pipeline.lockfile compile "$@" ;;
esac
