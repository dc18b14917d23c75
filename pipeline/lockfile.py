"""The hashed dependency locks in ``requirements/``: generate them, check them, stamp an install.

Three locks, all produced by ``uv pip compile --universal --generate-hashes`` from the one
dependency declaration (``setup.cfg``, ``requirements/build.in``, ``pyproject.toml``):

* ``dev.txt``: the project with its ``dev`` extra and the build tools (what
  ``scripts/setup-env.sh`` and CI install), resolved first;
* ``build.txt``: pip, setuptools and wheel, installed first so that everything after it builds
  with ``--no-build-isolation`` (pip never hash-checks an isolated build's own downloads);
* ``deploy.txt``: the runtime requirements and build tools only (what the deploy job's wheels
  are built from).

The last two are constrained by ``dev.txt``, so a package has the same version, and so the same
files, in all three.

``--universal`` resolves once for every supported Python (3.10+) and platform, with markers, so
one committed file serves the whole CI matrix. Each lock records the SHA-256 of the declaration
it was made from, so a stale lock is found offline and with the standard library only: this
module runs on the bare interpreter before ``.venv`` exists (``scripts/setup-env.sh``).

``python -m pipeline.lockfile`` regenerates the locks (``scripts/lock.sh`` runs it);
``check`` fails when a lock is stale (``--resolve`` also re-resolves and compares, needing the
index); ``stamp`` prints the digest ``setup-env.sh`` keeps in ``.venv`` and ``ready`` compares it.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REGENERATE = "scripts/lock.sh"
# uv is pinned in the dev extra; this is the version the committed locks were made with.
UV_REQUIREMENT = "uv==0.13.8"
DIGEST_LINE = "# dependency declaration sha256: "
NEEDS_INSTALL = 10  # `ready`: .venv does not match the locks (distinct from a crash's 1)
_DIGEST = re.compile(r"^# dependency declaration sha256: ([0-9a-f]{64})$", re.MULTILINE)
_MIN_PYTHON = re.compile(r">=\s*(\d+\.\d+)")


class LockError(Exception):
    """A lock is missing or stale, or could not be generated; the message names the fix."""


@dataclass(frozen=True)
class Lock:
    """One lock file and the ``uv pip compile`` arguments that produce it."""

    name: str
    sources: tuple[str, ...]
    extras: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()


# dev.txt is resolved first and holds everything; the other two are subsets pinned to it.
LOCKS = (
    Lock("requirements/dev.txt", sources=("setup.cfg", "requirements/build.in"), extras=("dev",)),
    Lock("requirements/build.txt", sources=("requirements/build.in",), constraints=("requirements/dev.txt",)),
    Lock(
        "requirements/deploy.txt",
        sources=("setup.cfg", "requirements/build.in"),
        constraints=("requirements/dev.txt",),
    ),
)


@dataclass(frozen=True)
class Pin:
    """One locked requirement: ``name==version ; marker`` and the SHA-256 of each allowed file."""

    name: str
    version: str
    marker: str
    hashes: frozenset[str]


_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)(?:\s*;\s*([^\\]*?))?\s*$")


def parse_lock(text: str) -> list[Pin]:
    """The pins of a hashed lock file (``uv pip compile --generate-hashes`` / pip-tools format)."""
    pins = []
    for entry in re.sub(r"\\\n", " ", text).splitlines():
        entry = entry.split(" #", 1)[0].strip()
        if not entry or entry.startswith("#"):
            continue
        requirement, *options = re.split(r"\s+(?=--)", entry)
        match = _PIN.match(requirement)
        if match is None:
            raise LockError(f"not a pinned requirement: {requirement!r}")
        hashes = frozenset(o.split(":", 1)[1] for o in options if o.startswith("--hash=sha256:"))
        name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
        pins.append(Pin(name, match.group(2), (match.group(3) or "").strip(), hashes))
    return pins


def _requirement_lines(text: str) -> list[str]:
    """The requirement lines of a setup.cfg value or a ``.in`` file, comments dropped, sorted."""
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return sorted(line for line in lines if line)


def declaration(root: Path = ROOT) -> str:
    """The dependency declaration in a canonical text: what a lock depends on, and nothing else.

    Comments, ordering and setup.cfg's other sections (tool settings) do not count, so editing
    them neither invalidates the locks nor makes ``setup-env.sh`` reinstall.
    """
    parser = configparser.ConfigParser()
    parser.read(root / "setup.cfg", encoding="utf-8")
    parts = [
        "python_requires=" + parser.get("options", "python_requires", fallback="").strip(),
        "install_requires=" + ";".join(_requirement_lines(parser.get("options", "install_requires", fallback=""))),
    ]
    if parser.has_section("options.extras_require"):
        for extra in sorted(parser.options("options.extras_require")):
            lines = _requirement_lines(parser.get("options.extras_require", extra))
            parts.append(f"extra[{extra}]=" + ";".join(lines))
    build_in = (root / "requirements" / "build.in").read_text(encoding="utf-8")
    parts.append("build.in=" + ";".join(_requirement_lines(build_in)))
    # pyproject.toml holds only the build system; all of it counts.
    parts.append("pyproject.toml=" + (root / "pyproject.toml").read_text(encoding="utf-8"))
    return "\n".join(parts) + "\n"


def declaration_digest(root: Path = ROOT) -> str:
    """SHA-256 of :func:`declaration`, as recorded at the top of every lock."""
    return hashlib.sha256(declaration(root).encode("utf-8")).hexdigest()


def recorded_digest(text: str) -> str | None:
    """The declaration digest a lock file records, or None when it records none."""
    match = _DIGEST.search(text)
    return match.group(1) if match else None


def stale_locks(root: Path = ROOT) -> list[str]:
    """One message for the locks that are missing and one for those made from another declaration."""
    expected = declaration_digest(root)
    missing, stale = [], []
    recorded: set[str] = set()
    for lock in LOCKS:
        path = root / lock.name
        if not path.is_file():
            missing.append(lock.name)
            continue
        found = recorded_digest(path.read_text(encoding="utf-8"))
        if found != expected:
            stale.append(lock.name)
            recorded.add(str(found)[:12])
    problems = []
    if missing:
        problems.append(f"{', '.join(missing)} missing; generate the locks with {REGENERATE} (needs the package index)")
    if stale:
        problems.append(
            f"{', '.join(stale)} stale against the dependency declaration in setup.cfg, "
            f"requirements/build.in and pyproject.toml (locked from {', '.join(sorted(recorded))}, "
            f"now {expected[:12]}); regenerate with {REGENERATE} (needs the package index)"
        )
    return problems


def stamp(root: Path = ROOT, lock: str = "requirements/dev.txt") -> str:
    """The digest of an installed environment: every lock's bytes, the entry points, this Python.

    ``setup-env.sh`` writes it into ``.venv`` after a successful install and skips the install
    while it matches. Entry points count because the editable install writes them.
    """
    digest = hashlib.sha256(f"installed {lock}\0".encode())
    for each in LOCKS:
        digest.update(each.name.encode() + b"\0" + (root / each.name).read_bytes() + b"\0")
    parser = configparser.ConfigParser()
    parser.read(root / "setup.cfg", encoding="utf-8")
    if parser.has_section("options.entry_points"):
        for key, value in sorted(parser.items("options.entry_points", raw=True)):
            digest.update(f"{key}={value}\0".encode())
    digest.update(f"{sys.implementation.name} {sys.version} {sys.prefix}".encode())
    return digest.hexdigest()


def _uv() -> list[str]:
    """How to run uv: the one on PATH, the project's .venv's, or this interpreter's module."""
    import shutil

    for candidate in (shutil.which("uv"), str(ROOT / ".venv" / "bin" / "uv")):
        if candidate and os.access(candidate, os.X_OK):
            return [candidate]
    try:
        import uv  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        raise LockError(
            f"uv is not installed: run scripts/setup-env.sh (uv is in the dev extra) "
            f"or `python -m pip install {UV_REQUIREMENT}`"
        ) from None
    return [sys.executable, "-m", "uv"]


def _min_python(root: Path) -> str:
    parser = configparser.ConfigParser()
    parser.read(root / "setup.cfg", encoding="utf-8")
    match = _MIN_PYTHON.search(parser.get("options", "python_requires", fallback=""))
    if match is None:
        raise LockError("setup.cfg: python_requires must give a lower bound such as >=3.10")
    return match.group(1)


def compile_command(lock: Lock, output: str, root: Path = ROOT) -> list[str]:
    """The ``uv pip compile`` command line (relative paths, run in ``root``) for one lock."""
    command = [*_uv(), "pip", "compile", *lock.sources]
    for extra in lock.extras:
        command += ["--extra", extra]
    for constraint in lock.constraints:
        command += ["--constraint", constraint]
    return [
        *command,
        "--universal",
        "--python-version",
        _min_python(root),
        "--generate-hashes",
        "--quiet",
        "--custom-compile-command",
        REGENERATE,
        "--output-file",
        output,
    ]


def _record_digest(path: Path, digest: str) -> None:
    text = path.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines(keepends=True) if not line.startswith(DIGEST_LINE)]
    # After uv's own header, so `uv pip compile -o` keeps reading the file as its preferences.
    insert_at = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    lines[insert_at:insert_at] = [
        f"{DIGEST_LINE}{digest}\n",
        "# Regenerate after changing setup.cfg's requirements, requirements/build.in or\n",
        f"# pyproject.toml: {REGENERATE} (keeps existing pins where they still fit;\n",
        f"# {REGENERATE} --upgrade-package NAME moves one, --upgrade all).\n",
    ]
    path.write_text("".join(lines), encoding="utf-8")


def generate(root: Path = ROOT, *, out_dir: Path | None = None, extra_args: Sequence[str] = ()) -> list[Path]:
    """Write every lock (into ``out_dir`` instead of ``root`` when given); returns the paths.

    Existing pins are kept where they still satisfy the declaration (uv reads the output file
    as its preferences), so a regeneration changes only what the declaration forces.
    """
    import shutil
    import subprocess
    import tempfile

    digest = declaration_digest(root)
    written = []
    with tempfile.TemporaryDirectory(prefix="lock-") as scratch:
        work = Path(scratch)
        # Resolve in a copy so a later lock's constraints are the freshly written earlier locks.
        for name in ("setup.cfg", "pyproject.toml", "README.md"):
            shutil.copy2(root / name, work / name)
        shutil.copytree(root / "requirements", work / "requirements")
        shutil.copytree(root / "pipeline", work / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
        for lock in LOCKS:
            command = [*compile_command(lock, lock.name, root), *extra_args]
            done = subprocess.run(command, cwd=work, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                detail = (done.stderr or done.stdout).strip().splitlines()
                raise LockError(f"uv could not lock {lock.name}: {' / '.join(detail[-3:]) or 'no output'}")
            _record_digest(work / lock.name, digest)
        target = out_dir or root
        for lock in LOCKS:
            destination = target / lock.name
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(work / lock.name, destination)
            written.append(destination)
    return written


def resolve_differences(root: Path = ROOT) -> list[str]:
    """Re-resolve against the index into a scratch copy; a unified diff per lock that changed."""
    import difflib
    import tempfile

    diffs = []
    with tempfile.TemporaryDirectory(prefix="lock-check-") as scratch:
        generate(root, out_dir=Path(scratch))
        for lock in LOCKS:
            old = (root / lock.name).read_text(encoding="utf-8").splitlines(keepends=True)
            new = (Path(scratch) / lock.name).read_text(encoding="utf-8").splitlines(keepends=True)
            if old != new:
                diffs.append("".join(difflib.unified_diff(old, new, lock.name, f"{lock.name} (resolved now)")))
    return diffs


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pipeline.lockfile [compile|check|stamp|ready]``; exit 2 for a stale lock."""
    import argparse  # here, not at the top: setup-env.sh's no-op path pays for every import

    parser = argparse.ArgumentParser(prog="scripts/lock.sh", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    regenerate = commands.add_parser("compile", help="regenerate requirements/*.txt (the default; needs the index)")
    regenerate.add_argument("--upgrade", action="store_true", help="move every pin to the newest allowed version")
    regenerate.add_argument("--upgrade-package", action="append", default=[], metavar="NAME", help="move one pin")
    check = commands.add_parser("check", help="fail when a lock is stale against the declaration")
    check.add_argument("--resolve", action="store_true", help="also re-resolve (needs the index) and compare")
    stamp_cmd = commands.add_parser("stamp", help="print the digest setup-env.sh keeps in .venv")
    ready = commands.add_parser("ready", help="exit 0 if STAMP_FILE matches, 10 if not, 2 if a lock is stale")
    ready.add_argument("stamp_file", type=Path)
    for sub in (stamp_cmd, ready):
        sub.add_argument("--lock", default="requirements/dev.txt", help="the lock installed (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        if args.command == "stamp":
            print(stamp(ROOT, args.lock))
            return 0
        if args.command == "ready":
            # setup-env.sh's no-op test, in one interpreter start (it runs with -S: stdlib only).
            problems = stale_locks(ROOT)
            if problems:
                print(f"error: {'; '.join(problems)}", file=sys.stderr)
                return 2
            try:
                recorded = args.stamp_file.read_text(encoding="utf-8").strip()
            except OSError:
                return NEEDS_INSTALL
            return 0 if recorded == stamp(ROOT, args.lock) else NEEDS_INSTALL
        if args.command == "check":
            problems = stale_locks(ROOT)
            if not problems and args.resolve:
                problems = [
                    f"{diff}\nthe lock differs from a fresh resolution: {REGENERATE}"
                    for diff in resolve_differences(ROOT)
                ]
            for problem in problems:
                print(f"error: {problem}", file=sys.stderr)
            if problems:
                return 2
            print("requirements/*.txt match the dependency declaration")
            return 0
        extra: list[str] = []
        if getattr(args, "upgrade", False):
            extra.append("--upgrade")
        for name in getattr(args, "upgrade_package", []):
            extra += ["--upgrade-package", name]
        for path in generate(ROOT, extra_args=extra):
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    except LockError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
