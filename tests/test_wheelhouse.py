"""The deploy job's wheelhouse, offline: built from a local package directory, then verified.

The package directory holds a real wheel and a real sdist; the lock names both by hash, as
requirements/deploy.txt does for PyPI's files and for stepfunctions' sdist.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pipeline import wheelhouse
from tests.wheels import make_sdist, make_wheel, sha256

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def _write_lock(path: Path, packages: Path) -> Path:
    wheel, sdist = packages / "demo_pkg-1.0-py3-none-any.whl", packages / "demo_src-1.0.tar.gz"
    path.write_text(
        f"demo-pkg==1.0 \\\n    --hash=sha256:{sha256(wheel)}\n"
        f"demo-src==1.0 \\\n    --hash=sha256:{sha256(sdist)}\n"
        "    # via big-mart-pipeline (setup.cfg)\n"
    )
    return path


def _write_project(root: Path) -> Path:
    root.mkdir()
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
    )
    (root / "setup.cfg").write_text(
        "[metadata]\nname = demo-project\nversion = 0.1\n\n[options]\npy_modules = demo_project\n"
    )
    (root / "demo_project.py").write_text("VALUE = 3\n")
    return root


@contextmanager
def _pip_offline(packages: Path) -> Iterator[None]:
    """pip sees only the local package directory: no index, no machine configuration."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIP_CONFIG_FILE", "/dev/null")
        patch.setenv("PIP_NO_INDEX", "1")
        patch.setenv("PIP_FIND_LINKS", str(packages))
        patch.delenv("PIP_CONSTRAINT", raising=False)
        yield


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One package directory, lock, project and wheelhouse built from them, for the whole module.

    Building runs pip several times (seconds); each test gets its own copy of all of it (the
    fixtures below), so a test that tampers with a wheel or the lock changes only its copy. The
    copies keep the bytes, so hashes in the lock and the manifest still match.
    """
    root = tmp_path_factory.mktemp("wheelhouse")
    index = root / "index"
    index.mkdir()
    make_wheel(index)
    make_sdist(index)
    lock = _write_lock(root / "deploy.txt", index)
    project = _write_project(root / "project")
    with _pip_offline(index):
        digest = wheelhouse.build(root / "wheelhouse", lock=lock, project=project)
    return root, digest


@pytest.fixture
def packages(tmp_path: Path, pristine: tuple[Path, str]) -> Path:
    return Path(shutil.copytree(pristine[0] / "index", tmp_path / "index"))


@pytest.fixture
def lock(tmp_path: Path, pristine: tuple[Path, str]) -> Path:
    return Path(shutil.copy2(pristine[0] / "deploy.txt", tmp_path / "deploy.txt"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return _write_project(tmp_path / "project")


@pytest.fixture
def offline_pip(packages: Path) -> Iterator[None]:
    with _pip_offline(packages):
        yield


@pytest.fixture
def built(tmp_path: Path, lock: Path, pristine: tuple[Path, str]) -> tuple[Path, str]:
    """A copy of the module's wheelhouse, built from the same package directory and lock."""
    root, digest = pristine
    return Path(shutil.copytree(root / "wheelhouse", tmp_path / "wheelhouse")), digest


def site_packages(venv: Path) -> Path:
    return Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))


def venv_with_pip(venv: Path) -> Path:
    """A fresh virtual environment with nothing installed, whose ``python -m pip`` is this
    environment's pip on its path (what ``pip.pyz`` does): ensurepip would spend seconds of CPU
    installing pip and setuptools. Its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    spec = importlib.util.find_spec("pip")
    assert spec is not None and spec.origin is not None
    shelf = venv / "pip-only"
    shelf.mkdir()
    (shelf / "pip").symlink_to(Path(spec.origin).parent, target_is_directory=True)
    (site_packages(venv) / "pip-only.pth").write_text(f"{shelf}\n")
    return venv / "bin" / "python"


def test_build_writes_every_wheel_and_a_manifest_tracing_each_to_the_lock(built: tuple[Path, str], lock: Path) -> None:
    out, digest = built
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "demo_pkg-1.0-py3-none-any.whl",
        "demo_project-0.1-py3-none-any.whl",
        "demo_src-1.0-py3-none-any.whl",
        wheelhouse.MANIFEST,
    ]
    manifest = (out / wheelhouse.MANIFEST).read_text()
    assert digest == sha256(out / wheelhouse.MANIFEST)
    assert manifest.startswith(f"# python {PYTHON}\n")
    sdist_hash = next(line for line in lock.read_text().splitlines() if "demo-src" in line)
    assert "# built from demo_src-1.0.tar.gz sha256:" in manifest
    assert f"demo-pkg==1.0 --hash=sha256:{sha256(out / 'demo_pkg-1.0-py3-none-any.whl')}" in manifest
    entries = wheelhouse.verify(out, digest, lock=lock, project="demo-project")
    assert {e.name for e in entries} == {"demo-pkg", "demo-src", "demo-project"}
    assert sdist_hash  # the lock names the sdist the built wheel came from


def test_a_manifest_with_another_digest_is_refused(built: tuple[Path, str], lock: Path) -> None:
    out, _ = built
    with pytest.raises(wheelhouse.WheelhouseError, match="the artifact changed between the jobs"):
        wheelhouse.verify(out, "0" * 64, lock=lock, project="demo-project")


def test_a_replaced_wheel_is_refused(built: tuple[Path, str], lock: Path, tmp_path: Path) -> None:
    out, digest = built
    other = tmp_path / "other"
    other.mkdir()
    tampered = make_wheel(other)
    with zipfile.ZipFile(tampered, "a") as archive:
        archive.writestr("demo_pkg/extra.py", b"import os\n")
    shutil.copyfile(tampered, out / "demo_pkg-1.0-py3-none-any.whl")
    with pytest.raises(
        wheelhouse.WheelhouseError, match=re.escape("demo_pkg-1.0-py3-none-any.whl does not match its sha256")
    ):
        wheelhouse.verify(out, digest, lock=lock, project="demo-project")


def test_a_file_the_manifest_does_not_list_is_refused(built: tuple[Path, str], lock: Path) -> None:
    out, digest = built
    (out / "evil-1.0-py3-none-any.whl").write_bytes(b"not listed")
    with pytest.raises(wheelhouse.WheelhouseError, match=re.escape("files the manifest does not list: evil-1.0")):
        wheelhouse.verify(out, digest, lock=lock, project="demo-project")


def test_a_wheel_the_lock_does_not_name_is_refused(built: tuple[Path, str], lock: Path) -> None:
    out, digest = built
    # The lock moved on (another file for demo-pkg): the wheelhouse no longer traces to it.
    lock.write_text(lock.read_text().replace(sha256(out / "demo_pkg-1.0-py3-none-any.whl"), "a" * 64))
    with pytest.raises(wheelhouse.WheelhouseError, match=r"the wheel has a sha256 that .* does not list"):
        wheelhouse.verify(out, digest, lock=lock, project="demo-project")


def test_a_built_wheel_whose_sdist_is_not_locked_is_refused(
    built: tuple[Path, str], lock: Path, packages: Path
) -> None:
    out, digest = built
    lock.write_text(lock.read_text().replace(sha256(packages / "demo_src-1.0.tar.gz"), "b" * 64))
    with pytest.raises(wheelhouse.WheelhouseError, match=re.escape("its sdist demo_src-1.0.tar.gz has a sha256")):
        wheelhouse.verify(out, digest, lock=lock, project="demo-project")


def test_wheels_built_for_another_python_are_refused(built: tuple[Path, str], lock: Path) -> None:
    out, _ = built
    manifest = out / wheelhouse.MANIFEST
    manifest.write_text(manifest.read_text().replace(f"# python {PYTHON}", "# python 3.9"))
    with pytest.raises(wheelhouse.WheelhouseError, match=f"built for Python 3.9, this job runs {PYTHON}"):
        wheelhouse.verify(out, sha256(manifest), lock=lock, project="demo-project")


def test_build_refuses_a_download_the_lock_does_not_allow(
    tmp_path: Path, lock: Path, project: Path, offline_pip: None, packages: Path
) -> None:
    # pip itself refuses a file whose hash differs from the lock (--require-hashes).
    make_wheel(packages, version="1.0")  # same name, version: rewritten identically
    (packages / "demo_pkg-1.0-py3-none-any.whl").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    with pytest.raises(wheelhouse.PipError, match="pip download"):
        wheelhouse.build(tmp_path / "out", lock=lock, project=project)


def test_install_puts_exactly_the_verified_wheels_in_a_fresh_environment(
    built: tuple[Path, str], lock: Path, tmp_path: Path
) -> None:
    out, digest = built
    venv = tmp_path / "venv"
    python = venv_with_pip(venv)
    command = [str(python), "-c", "import sys; from pipeline.wheelhouse import main; sys.exit(main(sys.argv[1:]))"]
    args = ["--lock", str(lock), "install", str(out), "--manifest-sha256", digest, "--project", "demo-project"]
    # Only the stdlib modules on the path: the checkout's egg-info must not reach `pip check`.
    code = tmp_path / "code" / "pipeline"
    code.mkdir(parents=True)
    for name in ("__init__.py", "lockfile.py", "wheelhouse.py"):
        shutil.copy2(Path(wheelhouse.__file__).parent / name, code / name)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(code.parent), "PIP_CONFIG_FILE": "/dev/null"}
    done = subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "installed 3 verified wheels" in done.stdout
    imported = subprocess.run(
        [str(python), "-c", "import demo_pkg, demo_src, demo_project; print(demo_pkg.VALUE + demo_src.VALUE + demo_project.VALUE)"],
        capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"}, check=True,
    )  # fmt: skip
    assert imported.stdout.strip() == "6"
    assert sorted(p.name for p in site_packages(venv).glob("*.dist-info")) == [
        "demo_pkg-1.0.dist-info",
        "demo_project-0.1.dist-info",
        "demo_src-1.0.dist-info",
    ]
    # The same command with another digest installs nothing and exits 2.
    args[args.index(digest)] = "f" * 64
    refused = subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path, check=False
    )
    assert refused.returncode == 2 and "refusing to install it" in refused.stderr
