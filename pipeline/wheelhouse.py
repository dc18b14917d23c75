"""The deploy job's wheelhouse: built in a job without credentials, installed by digest in the job with them.

``build`` (the ``wheels`` job of deploy.yml, which cannot request an OIDC token) downloads every
file of ``requirements/deploy.txt`` for this interpreter with ``pip --require-hashes``, builds a
wheel from each source-only requirement (stepfunctions: its ``setup.py`` runs here, never in the
credentialed job) and from the project, and writes ``MANIFEST``: one ``name==version
--hash=sha256:...`` line per wheel, a comment naming the locked sdist a built wheel came from.
It prints the manifest's SHA-256, which the workflow passes to the deploy job as a job output
(stored by GitHub apart from the artifact).

``install`` (the deploy job) refuses the wheelhouse unless the manifest has that digest, every
file matches its line, nothing else is there, and every wheel traces to the committed lock (its
own hash, or its sdist's, is the lock's); then it installs with ``pip --no-index --only-binary
:all: --require-hashes --no-deps``, so no package code runs during the install, and ``pip check``.
Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.lockfile import LockError, Pin, parse_lock

MANIFEST = "requirements.txt"
DEFAULT_LOCK = Path("requirements/deploy.txt")
_BUILT_FROM = re.compile(r"^# built from (\S+) sha256:([0-9a-f]{64})$")
_PYTHON = re.compile(r"^# python (\d+\.\d+)$", re.MULTILINE)
_SDIST = re.compile(r"^(.+)-([^-]+)\.(?:tar\.gz|zip)$")


class WheelhouseError(Exception):
    """The wheelhouse does not match what the wheels job published or the lock allows."""


class PipError(Exception):
    """pip itself failed (network, build); its own output says why."""


@dataclass(frozen=True)
class Entry:
    """One wheel of the manifest, and the locked sdist it was built from (if it was built)."""

    filename: str
    sha256: str
    built_from: tuple[str, str] | None = None  # (sdist filename, its sha256)

    @property
    def name(self) -> str:
        return _normalize(self.filename.split("-")[0])

    @property
    def version(self) -> str:
        return self.filename.split("-")[1]


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    done = subprocess.run(command, check=False)
    if done.returncode != 0:
        raise PipError(f"`pip {' '.join(args)}` failed (exit {done.returncode}); see its output above")


def render_manifest(entries: Sequence[Entry], python: str) -> str:
    """The manifest text: a pip requirements file with one hashed line per wheel."""
    lines = [f"# python {python}", "# Written by python -m pipeline.wheelhouse build; do not edit."]
    for entry in sorted(entries, key=lambda e: e.name):
        if entry.built_from:
            lines.append(f"# built from {entry.built_from[0]} sha256:{entry.built_from[1]}")
        lines.append(f"{entry.name}=={entry.version} --hash=sha256:{entry.sha256}")
    return "\n".join(lines) + "\n"


def parse_manifest(text: str, wheelhouse: Path) -> list[Entry]:
    """The entries of a manifest, matched to the wheel files in ``wheelhouse`` by name and version."""
    files = {(_normalize(p.name.split("-")[0]), p.name.split("-")[1]): p.name for p in wheelhouse.glob("*.whl")}
    entries, built_from = [], None
    for line in text.splitlines():
        found = _BUILT_FROM.match(line)
        if found:
            built_from = (found.group(1), found.group(2))
            continue
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"(\S+)==(\S+) --hash=sha256:([0-9a-f]{64})", line)
        if match is None:
            raise WheelhouseError(f"{MANIFEST}: not a manifest line: {line!r}")
        key = (_normalize(match.group(1)), match.group(2))
        if key not in files:
            raise WheelhouseError(f"{MANIFEST} lists {key[0]}=={key[1]}, but no such wheel is in {wheelhouse}")
        entries.append(Entry(files[key], match.group(3), built_from))
        built_from = None
    return entries


def build(out: Path, *, lock: Path = DEFAULT_LOCK, project: Path = Path(".")) -> str:
    """Fill ``out`` with this interpreter's wheels of ``lock`` and the project; returns the manifest's digest.

    The build tools (setuptools, wheel) must already be installed from requirements/build.txt:
    builds run without isolation, so nothing is fetched without a hash.
    """
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise WheelhouseError(f"{out} is not empty; build into a new directory")
    locked = _locked(lock)
    with tempfile.TemporaryDirectory(prefix="wheelhouse-") as scratch:
        downloads = Path(scratch)
        _pip("download", "--require-hashes", "--no-deps", "--no-build-isolation", "-r", str(lock), "-d", str(downloads))
        entries = []
        for path in sorted(downloads.iterdir()):
            digest = sha256_file(path)
            if path.suffix == ".whl":
                path.rename(out / path.name)
                entries.append(Entry(path.name, digest))
                continue
            match = _SDIST.match(path.name)
            if match is None or digest not in _hashes_of(locked, _normalize(match.group(1)), match.group(2)):
                raise WheelhouseError(f"pip downloaded {path.name}, which is not a locked sdist of {lock}")
            entries.append(_build_wheel(path, out, built_from=(path.name, digest)))
        entries.append(_build_wheel(project, out, built_from=None))
    manifest = out / MANIFEST
    manifest.write_text(render_manifest(entries, _python()), encoding="utf-8")
    return sha256_file(manifest)


def _build_wheel(source: Path, out: Path, *, built_from: tuple[str, str] | None) -> Entry:
    before = set(out.glob("*.whl"))
    _pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(out), str(source))
    (wheel,) = set(out.glob("*.whl")) - before
    return Entry(wheel.name, sha256_file(wheel), built_from)


def _locked(lock: Path) -> list[Pin]:
    try:
        return parse_lock(lock.read_text(encoding="utf-8"))
    except (OSError, LockError) as err:
        raise WheelhouseError(f"cannot read the lock {lock}: {err}") from None


def _hashes_of(locked: Sequence[Pin], name: str, version: str) -> frozenset[str]:
    return frozenset().union(*(p.hashes for p in locked if p.name == name and p.version == version))


def verify(wheelhouse: Path, expected_sha256: str, *, lock: Path = DEFAULT_LOCK, project: str) -> list[Entry]:
    """Check the wheelhouse against the published digest and the lock; returns its entries."""
    manifest = wheelhouse / MANIFEST
    if not manifest.is_file():
        raise WheelhouseError(f"{manifest} is missing: the artifact is not a wheelhouse built by the wheels job")
    actual = sha256_file(manifest)
    if actual != expected_sha256:
        raise WheelhouseError(
            f"{manifest} has sha256 {actual}, but the wheels job published {expected_sha256 or '(nothing)'}: "
            "the artifact changed between the jobs; refusing to install it"
        )
    text = manifest.read_text(encoding="utf-8")
    recorded = _PYTHON.search(text)
    if recorded is None or recorded.group(1) != _python():
        built_for = recorded.group(1) if recorded else "an unknown Python"
        raise WheelhouseError(f"the wheels were built for Python {built_for}, this job runs {_python()}")
    entries = parse_manifest(text, wheelhouse)
    listed = {entry.filename for entry in entries} | {MANIFEST}
    extra = sorted(p.name for p in wheelhouse.iterdir() if p.name not in listed)
    if extra:
        raise WheelhouseError(f"{wheelhouse} holds files the manifest does not list: {', '.join(extra)}")
    locked = _locked(lock)
    for entry in entries:
        path = wheelhouse / entry.filename
        if sha256_file(path) != entry.sha256:
            raise WheelhouseError(f"{entry.filename} does not match its sha256 in {MANIFEST}")
        if entry.name == _normalize(project) and entry.built_from is None:
            continue  # this commit's own code, built by the wheels job from the same checkout
        allowed = _hashes_of(locked, entry.name, entry.version)
        if not allowed:
            raise WheelhouseError(f"{entry.filename}: {entry.name}=={entry.version} is not pinned in {lock}")
        traced = entry.built_from[1] if entry.built_from else entry.sha256
        if traced not in allowed:
            what = f"its sdist {entry.built_from[0]}" if entry.built_from else "the wheel"
            raise WheelhouseError(f"{entry.filename}: {what} has a sha256 that {lock} does not list")
    return entries


def install(wheelhouse: Path, expected_sha256: str, *, lock: Path = DEFAULT_LOCK, project: str) -> int:
    """Verify, then install every wheel without running package code; returns the wheel count."""
    entries = verify(wheelhouse, expected_sha256, lock=lock, project=project)
    _pip(
        "install", "--no-index", "--only-binary", ":all:", "--require-hashes", "--no-deps",
        "--find-links", str(wheelhouse), "-r", str(wheelhouse / MANIFEST),
    )  # fmt: skip
    _pip("check")
    return len(entries)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pipeline.wheelhouse build OUT`` / ``verify|install DIR --manifest-sha256 HEX``."""
    parser = argparse.ArgumentParser(prog="python -m pipeline.wheelhouse", description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, default=DEFAULT_LOCK, help="the hashed lock (default %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build", help="download and build the wheels; print the manifest's sha256")
    build_cmd.add_argument("out", type=Path)
    for name, text in (("verify", "check a wheelhouse; install nothing"), ("install", "verify, then install")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("wheelhouse", type=Path)
        sub.add_argument("--manifest-sha256", required=True, help="the digest the wheels job published")
        sub.add_argument("--project", default="big-mart-pipeline", help="this project's distribution name")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            print(build(args.out, lock=args.lock))
        elif args.command == "verify":
            entries = verify(args.wheelhouse, args.manifest_sha256.strip(), lock=args.lock, project=args.project)
            print(f"{len(entries)} wheels in {args.wheelhouse} match the published manifest and {args.lock}")
        else:
            count = install(args.wheelhouse, args.manifest_sha256.strip(), lock=args.lock, project=args.project)
            print(f"installed {count} verified wheels from {args.wheelhouse}")
    except WheelhouseError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except PipError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
