"""The local emulator's resources kept in the work folder between ``python -m pipeline local`` runs.

``<work-dir>/state/state.json`` holds one snapshot (:mod:`pipeline.emulator.snapshot`) in a
versioned envelope; ``<work-dir>/state/objects/<sha256>`` holds the S3 object bodies it names,
by content. A run restores it into the emulator it starts and saves it again when it ends, so a
second run finds the first one's endpoint, registry and state machine: the update path.

Saving is atomic: new bodies are written first (each through a temporary file and a rename), then
``state.json`` the same way, and only then are bodies no longer named removed; a crash at any
point leaves the previous state readable. Reading refuses, naming the file and ``--fresh``,
anything it cannot trust: not JSON, another format or format version, another account, region
or project, a missing or altered body. It never resets by itself, and a refused file is left as
it is (the run stops before anything is written).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import PipelineConfig
from pipeline.emulator.snapshot import FORMAT_VERSION, Services, blobs_of, capture, problems, sha256_hex
from pipeline.errors import UsageError

STATE_DIR = "state"
STATE_FILE = "state.json"
OBJECTS_DIR = "objects"
FORMAT = "big-mart-pipeline/local-emulator-state"


@dataclass(frozen=True)
class Identity:
    """Whose resources a state file holds: the account, region and project of the configuration."""

    account: str
    region: str
    project: str

    @classmethod
    def of(cls, config: PipelineConfig) -> Identity:
        """The identity ``config`` runs as (account from the workflow role's ARN, as deploy builds ARNs)."""
        account = (
            config.account.workflow_role_arn.split(":")[4] if config.account.workflow_role_arn.count(":") >= 5 else ""
        )
        project = config.account.tags.get("project") or config.account.prefix
        return cls(account=account, region=config.account.region, project=project)

    def to_dict(self) -> dict[str, str]:
        """JSON form."""
        return {"account": self.account, "region": self.region, "project": self.project}


def state_path(work_dir: Path) -> Path:
    """Where a work folder's state file is."""
    return work_dir / STATE_DIR / STATE_FILE


class FileBlobs:
    """Object bodies under ``<state>/objects/``, named by their SHA-256."""

    def __init__(self, folder: Path):
        self.folder = folder

    def path(self, digest: str) -> Path:
        """The file of one body."""
        return self.folder / digest

    def put(self, body: bytes) -> str:
        """Store ``body`` (once: same content, same file); its SHA-256."""
        digest = sha256_hex(body)
        target = self.path(digest)
        if not target.is_file():
            self.folder.mkdir(parents=True, exist_ok=True)
            write_atomically(target, body)
        return digest

    def get(self, digest: str) -> bytes:
        """The body stored under ``digest``."""
        return self.path(digest).read_bytes()


def write_atomically(target: Path, body: bytes) -> None:
    """Write ``target`` through a temporary file in its folder and a rename (never half a file)."""
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(body)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class LoadedState:
    """A state file that passed every check, ready to replay."""

    path: Path
    saved: str
    resources: dict[str, Any]
    blobs: FileBlobs


def refuse(path: Path, problem: str) -> UsageError:
    """The one error for a state file that cannot be used."""
    return UsageError(
        f"local state {path} {problem}: start from nothing with --fresh (the file is left as it is), "
        "or pass another --work-dir"
    )


def load(work_dir: Path, config: PipelineConfig) -> LoadedState | None:
    """The work folder's state, checked; None when there is none. UsageError when it cannot be used."""
    path = state_path(work_dir)
    if not path.exists():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise refuse(path, f"cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise refuse(path, f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        found = document.get("format") if isinstance(document, dict) else type(document).__name__
        raise refuse(path, f"is not a local emulator state (format {found!r}, expected {FORMAT!r})")
    if document.get("format_version") != FORMAT_VERSION:
        raise refuse(
            path,
            f"has format version {document.get('format_version')!r}; this version of the pipeline reads "
            f"format version {FORMAT_VERSION}",
        )
    check_identity(path, document.get("identity"), Identity.of(config))
    found_problems = problems(document.get("resources"))
    if found_problems:
        raise refuse(path, f"is damaged: {'; '.join(found_problems[:3])}")
    blobs = FileBlobs(path.parent / OBJECTS_DIR)
    for digest in sorted(blobs_of(document["resources"])):
        body_path = blobs.path(digest)
        if not body_path.is_file():
            raise refuse(path, f"names an object body {body_path} that is missing")
        if sha256_hex(body_path.read_bytes()) != digest:
            raise refuse(path, f"names an object body {body_path} whose content changed")
    return LoadedState(path, str(document.get("saved", "?")), document["resources"], blobs)


def check_identity(path: Path, recorded: Any, wanted: Identity) -> None:
    """Refuse another account's, region's or project's state."""
    if not isinstance(recorded, Mapping):
        raise refuse(path, "has no identity (account, region, project)")
    for name, value in wanted.to_dict().items():
        if recorded.get(name) != value:
            raise refuse(
                path,
                f"belongs to {name} {recorded.get(name)!r}, not {value!r} of this configuration",
            )


@dataclass(frozen=True)
class Saved:
    """What a save wrote."""

    path: Path
    counts: dict[str, int]
    seconds: float

    def line(self) -> str:
        """``state: saved to ...`` for the run's output."""
        parts = ", ".join(f"{n} {kind}(s)" for kind, n in self.counts.items() if n)
        return f"state: saved to {self.path} ({parts or 'nothing'}) in {self.seconds:.2f} s"


def save(work_dir: Path, config: PipelineConfig, services: Services) -> Saved:
    """Snapshot the emulator into the work folder, atomically, and drop bodies no longer named."""
    started = time.perf_counter()
    path = state_path(work_dir)
    blobs = FileBlobs(path.parent / OBJECTS_DIR)
    path.parent.mkdir(parents=True, exist_ok=True)
    resources = capture(services, blobs)
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "saved": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "identity": Identity.of(config).to_dict(),
        "resources": resources,
    }
    write_atomically(path, (json.dumps(document, indent=1, sort_keys=True, default=str) + "\n").encode())
    named = blobs_of(resources)
    for body in blobs.folder.glob("*") if blobs.folder.is_dir() else []:
        if body.name not in named and not body.name.startswith("."):
            body.unlink(missing_ok=True)
    return Saved(path, counts(resources), time.perf_counter() - started)


def counts(resources: Mapping[str, Any]) -> dict[str, int]:
    """How many resources of each kind a snapshot holds."""
    sagemaker = resources["sagemaker"]
    machines = resources["stepfunctions"]["state_machines"]
    return {
        "bucket": len(resources["s3"]),
        "object": sum(len(bucket["objects"]) for bucket in resources["s3"]),
        "alarm": len(resources["cloudwatch"]["alarms"]),
        "model package group": len(sagemaker["model_package_groups"]),
        "model package version": len(sagemaker["model_packages"]),
        "model": len(sagemaker["models"]),
        "endpoint config": len(sagemaker["endpoint_configs"]),
        "endpoint": len(sagemaker["endpoints"]),
        "state machine": len(machines),
        "state machine version": sum(len(machine["versions"]) for machine in machines),
        "alias": sum(len(machine["aliases"]) for machine in machines),
        "scalable target": len((resources.get("autoscaling") or {}).get("scalable_targets", [])),
        "scaling policy": len((resources.get("autoscaling") or {}).get("scaling_policies", [])),
    }
