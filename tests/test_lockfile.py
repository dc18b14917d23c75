"""The hashed locks in requirements/: fresh against setup.cfg, complete, consistent, enforced by pip."""

from __future__ import annotations

import configparser
import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.version import Version

from pipeline import lockfile
from tests.wheels import make_wheel

ROOT = Path(__file__).resolve().parents[1]
# The CI matrix (ci.yml) and the deploy job's interpreter, on GitHub's Linux runners.
PYTHONS = ("3.10", "3.11", "3.12")


def pins(name: str) -> list[lockfile.Pin]:
    return lockfile.parse_lock((ROOT / "requirements" / name).read_text(encoding="utf-8"))


def marker_env(python: str) -> dict[str, str]:
    return {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "platform_python_implementation": "CPython",
        "implementation_name": "cpython",
        "os_name": "posix",
        "extra": "",
    }


def pinned_for(lock: list[lockfile.Pin], python: str) -> dict[str, lockfile.Pin]:
    """The pins pip would install from ``lock`` on ``python`` (Linux): one per package."""
    chosen: dict[str, lockfile.Pin] = {}
    for pin in lock:
        if pin.marker and not Marker(pin.marker).evaluate(marker_env(python)):
            continue
        assert pin.name not in chosen, f"{pin.name} pinned twice for Python {python}"
        chosen[pin.name] = pin
    return chosen


def declared(*extras: str) -> list[Requirement]:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg", encoding="utf-8")
    texts = parser.get("options", "install_requires").splitlines()
    for extra in extras:
        texts += parser.get("options.extras_require", extra).splitlines()
    texts += (ROOT / "requirements" / "build.in").read_text(encoding="utf-8").splitlines()
    stripped = (text.split("#", 1)[0].strip() for text in texts)
    return [Requirement(text) for text in stripped if text]


def test_every_lock_records_the_current_declaration() -> None:
    assert lockfile.stale_locks(ROOT) == []


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize(("lock", "extras"), [("dev.txt", ("dev",)), ("deploy.txt", ())])
def test_every_declared_requirement_is_locked_within_its_range(lock: str, extras: tuple[str, ...], python: str) -> None:
    chosen = pinned_for(pins(lock), python)
    for requirement in declared(*extras):
        if requirement.marker and not requirement.marker.evaluate(marker_env(python)):
            continue
        name = requirement.name.lower().replace("_", "-")
        assert name in chosen, f"{requirement} is not in requirements/{lock} for Python {python}"
        version = chosen[name].version
        assert requirement.specifier.contains(Version(version), prereleases=True), (
            f"requirements/{lock} pins {name}=={version}, outside {requirement} (Python {python})"
        )


@pytest.mark.parametrize("lock", ["dev.txt", "build.txt", "deploy.txt"])
def test_every_pin_is_exact_and_hashed(lock: str) -> None:
    for pin in pins(lock):
        assert pin.hashes, f"{pin.name}=={pin.version} in requirements/{lock} has no --hash"
        assert all(len(digest) == 64 for digest in pin.hashes)


@pytest.mark.parametrize("subset", ["build.txt", "deploy.txt"])
@pytest.mark.parametrize("python", PYTHONS)
def test_build_and_deploy_install_the_same_files_as_dev(subset: str, python: str) -> None:
    dev = pinned_for(pins("dev.txt"), python)
    for name, pin in pinned_for(pins(subset), python).items():
        assert name in dev, f"{name} is in requirements/{subset} but not in dev.txt"
        assert (pin.version, pin.hashes) == (dev[name].version, dev[name].hashes), name


def test_the_source_only_requirement_is_locked_to_its_sdist() -> None:
    # stepfunctions 2.3.0 has no wheel: the deploy job must get it pre-built, never build it.
    (stepfunctions,) = [pin for pin in pins("deploy.txt") if pin.name == "stepfunctions"]
    assert stepfunctions.version == "2.3.0" and len(stepfunctions.hashes) == 1


def test_the_sagemaker_floor_is_past_the_advisories() -> None:
    (sagemaker,) = [r for r in declared() if r.name == "sagemaker"]
    assert not sagemaker.specifier.contains("2.217.9")
    assert sagemaker.specifier.contains("2.218.0")


def test_build_in_matches_pyproject_build_system() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for requirement in ("setuptools>=64", "wheel"):
        assert f'"{requirement}"' in pyproject
        assert requirement in (ROOT / "requirements" / "build.in").read_text(encoding="utf-8")


def copy_declaration(tmp_path: Path) -> Path:
    for name in ("setup.cfg", "pyproject.toml"):
        shutil.copy2(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "requirements", tmp_path / "requirements")
    return tmp_path


def test_a_changed_requirement_makes_every_lock_stale(tmp_path: Path) -> None:
    root = copy_declaration(tmp_path)
    setup_cfg = root / "setup.cfg"
    setup_cfg.write_text(setup_cfg.read_text().replace("boto3>=1.34,<2", "boto3>=1.35,<2"))
    (problem,) = lockfile.stale_locks(root)
    assert "requirements/dev.txt, requirements/build.txt, requirements/deploy.txt stale" in problem
    assert "scripts/lock.sh" in problem


def test_a_new_dev_dependency_makes_the_locks_stale(tmp_path: Path) -> None:
    root = copy_declaration(tmp_path)
    setup_cfg = root / "setup.cfg"
    setup_cfg.write_text(setup_cfg.read_text().replace("    mypy==2.4.1\n", "    mypy==2.4.1\n    boto3-stubs\n"))
    assert lockfile.stale_locks(root)


def test_comments_order_and_tool_settings_do_not_make_the_locks_stale(tmp_path: Path) -> None:
    root = copy_declaration(tmp_path)
    setup_cfg = root / "setup.cfg"
    text = setup_cfg.read_text()
    text = text.replace("    boto3>=1.34,<2\n    sagemaker", "    sagemaker").replace(
        "    numpy>=1.26,<3\n", "    numpy>=1.26,<3\n    # a comment\n    boto3>=1.34,<2\n"
    )
    text = text.replace("warn_unused_ignores = True", "warn_unused_ignores = False")
    setup_cfg.write_text(text)
    assert lockfile.stale_locks(root) == []


def test_a_missing_lock_is_named(tmp_path: Path) -> None:
    root = copy_declaration(tmp_path)
    (root / "requirements" / "deploy.txt").unlink()
    (problem,) = lockfile.stale_locks(root)
    assert problem.startswith("requirements/deploy.txt missing")


def test_the_stamp_follows_the_locks_and_the_entry_points(tmp_path: Path) -> None:
    root = copy_declaration(tmp_path)
    before = lockfile.stamp(root)
    assert lockfile.stamp(root) == before
    with open(root / "requirements" / "dev.txt", "a", encoding="utf-8") as handle:
        handle.write("# edited\n")
    assert lockfile.stamp(root) != before
    edited = lockfile.stamp(root)
    setup_cfg = root / "setup.cfg"
    setup_cfg.write_text(setup_cfg.read_text().replace("pipeline.cli:main", "pipeline.cli:other"))
    assert lockfile.stamp(root) != edited


def test_parse_lock_reads_markers_and_every_hash() -> None:
    text = (
        "# header\n"
        "Tomli==2.5.0 ; python_full_version < '3.11' \\\n"
        "    --hash=sha256:" + "a" * 64 + " \\\n"
        "    --hash=sha256:" + "b" * 64 + "\n"
        "    # via big-mart-pipeline (setup.cfg)\n"
    )
    (pin,) = lockfile.parse_lock(text)
    assert pin == lockfile.Pin("tomli", "2.5.0", "python_full_version < '3.11'", frozenset({"a" * 64, "b" * 64}))


def test_parse_lock_refuses_an_unpinned_line() -> None:
    with pytest.raises(lockfile.LockError, match=r"not a pinned requirement: 'boto3>=1\.34'"):
        lockfile.parse_lock("boto3>=1.34 \\\n    --hash=sha256:" + "a" * 64 + "\n")


def test_check_exits_2_naming_the_stale_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_declaration(tmp_path)
    (root / "requirements" / "build.in").write_text("pip>=24\nsetuptools>=64\nwheel\n")
    monkeypatch.setattr(lockfile, "ROOT", root)
    assert lockfile.main(["check"]) == 2
    assert "stale against the dependency declaration" in capsys.readouterr().err


# --- pip enforces the hashes: an offline package directory built here -----------------------


def pip_install(requirements: Path, index: Path, target: Path) -> subprocess.CompletedProcess[str]:
    # --isolated: no user or machine pip configuration (extra indexes, find-links) takes part.
    command = [
        sys.executable, "-m", "pip", "install", "--isolated", "--no-index", "--find-links", str(index),
        "--require-hashes", "--no-deps", "--target", str(target), "-r", str(requirements),
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_pip_refuses_a_file_whose_hash_differs_from_the_lock(tmp_path: Path) -> None:
    index = tmp_path / "index"
    index.mkdir()
    wheel = make_wheel(index)
    good = hashlib.sha256(wheel.read_bytes()).hexdigest()
    requirements = tmp_path / "requirements.txt"

    requirements.write_text(f"demo-pkg==1.0 --hash=sha256:{good}\n")
    done = pip_install(requirements, index, tmp_path / "ok")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "ok" / "demo_pkg" / "__init__.py").is_file()

    # The same name and version, other bytes (a file replaced in an existing release).
    wheel.unlink()
    tampered = make_wheel(index)
    with zipfile.ZipFile(tampered, "a") as archive:
        archive.writestr("demo_pkg/extra.py", b"import os\n")
    done = pip_install(requirements, index, tmp_path / "bad")
    assert hashlib.sha256(tampered.read_bytes()).hexdigest() != good
    assert done.returncode != 0
    assert "DO NOT MATCH THE HASHES" in done.stderr
    assert f"Expected sha256 {good}" in done.stderr
    assert not (tmp_path / "bad" / "demo_pkg").exists()


def test_pip_refuses_a_lock_line_without_a_hash(tmp_path: Path) -> None:
    index = tmp_path / "index"
    index.mkdir()
    make_wheel(index)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("demo-pkg==1.0\n")
    done = pip_install(requirements, index, tmp_path / "target")
    assert done.returncode != 0
    assert "Hashes are required in --require-hashes mode" in done.stderr
