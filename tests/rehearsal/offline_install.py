"""Stand-in for the workflows' install steps in the offline rehearsal.

The deploy job installs the wheels job's wheelhouse (``python -m pipeline.wheelhouse install``,
after its verify step ran for real) and the CI plan job runs ``scripts/setup-env.sh --runtime``;
the rehearsal cannot reach a package index, and must not install the temporary clone into the
shared virtual environment. What an install step guarantees to later steps is that the
project's requirements are installed and that ``import pipeline`` loads the checked-out code;
this script checks the first (every ``install_requires`` entry of the workspace's setup.cfg is
satisfied by an installed distribution) and provides the second the way an editable install
does, by putting the workspace on the import path (``PYTHONPATH`` through ``GITHUB_ENV``).
With ``--venv`` it also provides ``.venv/bin/python`` (this interpreter), as setup-env.sh would.
Exits 1 listing every unmet requirement.
"""

from __future__ import annotations

import configparser
import os
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement


def unmet_requirements(setup_cfg: Path) -> list[str]:
    """The ``install_requires`` entries of ``setup_cfg`` that no installed distribution meets."""
    parser = configparser.ConfigParser()
    parser.read(setup_cfg, encoding="utf-8")
    lines = parser.get("options", "install_requires", fallback="").splitlines()
    unmet = []
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            unmet.append(f"{text} (not installed)")
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            unmet.append(f"{text} (installed: {installed})")
    return unmet


def main() -> int:
    """Check the requirements, then make the workspace importable for the later steps."""
    workspace = Path(os.environ.get("GITHUB_WORKSPACE", ".")).resolve()
    unmet = unmet_requirements(workspace / "setup.cfg")
    for item in unmet:
        print(f"::error::requirement not met: {item}")
    if unmet:
        return 1
    with open(os.environ["GITHUB_ENV"], "a", encoding="utf-8") as handle:
        handle.write(f"PYTHONPATH={workspace}\n")
    if "--venv" in sys.argv[1:]:
        python = workspace / ".venv" / "bin" / "python"
        python.parent.mkdir(parents=True)
        python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n', encoding="utf-8")
        python.chmod(0o755)
    print(f"requirements of {workspace / 'setup.cfg'} met by {sys.prefix}; {workspace} on PYTHONPATH")
    return 0


if __name__ == "__main__":
    sys.exit(main())
