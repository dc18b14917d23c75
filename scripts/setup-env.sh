#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv from the hashed locks in
# requirements/ (pip --require-hashes: every file must match the lock), with everything the
# pipeline, its local mode and its checks need.
#
# A no-op while .venv matches the locks: a successful install leaves a stamp (the digest of the
# locks, the entry points and the interpreter) in .venv/.setup-stamp, and a run that finds the
# same digest installs nothing and needs no network. A changed lock reinstalls; a failed install
# leaves the previous packages in place (pip downloads and checks everything before it installs).
# PYTHON=/path/to/python3.1x picks the interpreter that creates .venv (remove .venv to switch).
# --runtime installs requirements/deploy.txt (no dev tools) instead of requirements/dev.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

lock=requirements/dev.txt
case "${1:-}" in
    "") ;;
    --runtime) lock=requirements/deploy.txt ;;
    *)
        echo "error: unknown argument ${1}; the only option is --runtime (install requirements/deploy.txt)" >&2
        exit 2
        ;;
esac

fail() { # fail EXIT-CODE MESSAGE: one line on stderr, then exit
    echo "error: $2" >&2
    exit "$1"
}

python_bin="${PYTHON:-python3}"
stamp_file=.venv/.setup-stamp
# The fast path: the bytes of every input of the decision, unchanged since a run that found
# .venv up to date, need no Python at all (a changed comment falls through to the full check).
quick_file=.venv/.setup-inputs
inputs_digest() {
    cat setup.cfg pyproject.toml requirements/build.in requirements/*.txt pipeline/lockfile.py .venv/pyvenv.cfg \
        2>/dev/null | sha256sum | cut -d" " -f1
    echo "$lock"
}
remember_inputs() { inputs_digest >"$quick_file" 2>/dev/null || true; }
if [ -f "$quick_file" ] && [ -x .venv/bin/python ] && [ "$(inputs_digest)" = "$(cat "$quick_file")" ]; then
    echo "environment up to date: .venv ($(.venv/bin/python --version)), matches $lock"
    exit 0
fi
# `lockfile` runs the module's main; -S: no site-packages. One cheap interpreter start decides
# whether anything needs installing (pipeline.lockfile needs only the standard library).
lockfile() {
    "$1" -S -c 'import sys; from pipeline.lockfile import main; sys.exit(main(sys.argv[1:]))' "${@:2}"
}
if [ -e .venv ]; then
    [ -d .venv ] || fail 2 ".venv exists but is not a directory: move it away and run again"
    status=0
    problems="$(lockfile .venv/bin/python ready "$stamp_file" --lock "$lock" 2>&1)" || status=$?
    case "$status" in
        0)
            remember_inputs
            echo "environment up to date: .venv ($(.venv/bin/python --version)), matches $lock"
            exit 0
            ;;
        2) fail 2 "${problems#error: }; .venv is left as it was" ;;
        10) ;;
        *) fail 2 ".venv is broken (.venv/bin/python does not start, e.g. its base Python was removed): remove it (rm -rf .venv) and run again" ;;
    esac
    # Probe by writing: permission bits alone say nothing about read-only mounts (or root).
    site="$(.venv/bin/python -S -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
    for dir in .venv "$site"; do
        probe="$(mktemp "$dir/.write-probe.XXXXXX" 2>/dev/null)" \
            || fail 2 "$dir is not writable by $(id -un), so nothing can be installed: fix its ownership (chown -R $(id -un) .venv) or remove .venv, then run again"
        rm -f "$probe"
    done
else
    command -v "$python_bin" >/dev/null 2>&1 \
        || fail 2 "$python_bin not found: install Python 3.10 or newer, or set PYTHON=/path/to/python3.10+"
    if ! version="$("$python_bin" -S -c 'import sys; print(".".join(map(str, sys.version_info[:3]))); sys.exit(sys.version_info < (3, 10))' 2>/dev/null)"; then
        fail 2 "$python_bin is Python ${version:-(did not start)}; this project needs 3.10 or newer: install one and run PYTHON=/path/to/python3.10+ scripts/setup-env.sh"
    fi
    # A requirement changed in setup.cfg without regenerating the locks: nothing to install yet.
    if ! problems="$(lockfile "$python_bin" check 2>&1 >/dev/null)"; then
        fail 2 "${problems#error: }"
    fi
    probe="$(mktemp ./.write-probe.XXXXXX 2>/dev/null)" \
        || fail 2 "cannot create .venv: $PWD is not writable by $(id -un)"
    rm -f "$probe"
    echo "creating .venv with Python $version ($python_bin)"
    if ! "$python_bin" -m venv .venv; then
        rm -rf .venv # only what this run created
        fail 1 "$python_bin -m venv failed: install its venv module (Debian/Ubuntu: apt-get install python3-venv) and run again"
    fi
fi

# pip hash-checks only what it installs itself, not an isolated build's own downloads, so the
# build tools come first from their lock and the source-only requirements build without isolation.
# --retries/--timeout: without a network this fails in seconds instead of minutes.
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check --retries 1 --timeout 20)
for file in requirements/build.txt "$lock"; do
    if ! "${pip[@]}" --require-hashes --no-deps --no-build-isolation -r "$file"; then
        fail 1 "pip could not install $file (no network, or a file whose hash differs from the lock: pip's message above names it); .venv keeps its previous packages and the next run tries again"
    fi
done
"${pip[@]}" --no-deps --no-build-isolation --no-index -e . \
    || fail 1 "pip could not install the project itself in editable mode (see above)"
lockfile .venv/bin/python stamp --lock "$lock" >"$stamp_file.tmp"
mv "$stamp_file.tmp" "$stamp_file"
remember_inputs
echo "environment ready: .venv ($(.venv/bin/python --version)), matches $lock"
