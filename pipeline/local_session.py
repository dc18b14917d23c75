"""One ``python -m pipeline local`` command: its emulator, the state it restores and saves, the runs.

Which emulator, and what happens to the work folder's state (``pipeline.local_state``):

* a new emulator (the default): the state is restored into it before the run and saved after
  the run (also after a run that failed: the emulator holds what that run left, as AWS would);
  ``--fresh`` restores nothing and the save replaces the old state;
* ``--keep``: as above, and saved again when the kept emulator stops (Ctrl-C), so what was done
  to it meanwhile (a second ``local`` run, the AWS CLI) is kept too;
* a run that finds this folder's kept emulator (or ``--attach``-es to its URL): nothing is
  restored, since that emulator already holds the state; it is saved after the run;
* ``--attach`` to any other emulator: the state is neither restored nor saved (it is not this
  folder's), which the run says. ``--fresh`` with a running emulator is refused: stop it first.

The state file is read and checked before anything starts, in every case but ``--fresh``: a
corrupt or foreign one stops the command (exit 2) and is left as it is.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.config import PipelineConfig
from pipeline.errors import PipelineError, UsageError
from pipeline.local_state import LoadedState, Saved, load, refuse, save, state_path
from pipeline.printer import Printer

if TYPE_CHECKING:
    import pandas as pd

    from pipeline.clients import Clients
    from pipeline.emulator.snapshot import Services
    from pipeline.local import LocalRun


@dataclass
class LocalEmulator:
    """The emulator one command runs against, and whether the work folder's state follows it."""

    url: str
    config: PipelineConfig
    work_dir: Path
    owned: bool  # this work folder's emulator: saved after a run
    out: Printer
    started: bool = True  # started by this command (not attached to a running one)
    saved: Saved | None = None
    _clients: Clients | None = field(default=None, init=False, repr=False)

    def clients(self) -> Clients:
        """Clients of this emulator (the one client factory), made once: the restore, the run and
        the save share them (a botocore client costs ~20 ms to make)."""
        from pipeline.clients import Clients
        from pipeline.local import emulator_session

        if self._clients is None:
            self._clients = Clients(session=emulator_session(self.config.account.region), endpoint_url=self.url)
        return self._clients

    def services(self) -> Services:
        """The snapshot's clients for this emulator."""
        from pipeline.emulator.snapshot import Services

        clients = self.clients()
        return Services(
            s3=clients("s3"),
            sagemaker=clients("sagemaker"),
            sfn=clients("stepfunctions"),
            cloudwatch=clients("cloudwatch"),
            autoscaling=clients("application-autoscaling"),
        )

    def save(self) -> Saved | None:
        """Save the emulator's resources into the work folder, when it is this folder's emulator."""
        if not self.owned:
            self.out(f"state: not saved: {self.url} is not this work folder's emulator")
            return None
        self.saved = save(self.work_dir, self.config, self.services())
        self.out(self.saved.line())
        return self.saved


def open_state(work_dir: Path, config: PipelineConfig, *, fresh: bool, out: Printer) -> LoadedState | None:
    """The state to restore, checked before anything starts (None: there is none, or ``--fresh``)."""
    path = state_path(work_dir)
    if fresh:
        replaced = f"; {path} is replaced when this run ends" if path.exists() else ""
        out(f"state: --fresh: starting from nothing{replaced}")
        return None
    loaded = load(work_dir, config)
    if loaded is None:
        out(f"state: none in {path.parent} yet; starting from nothing")
    return loaded


def restore(loaded: LoadedState, session: LocalEmulator) -> None:
    """Replay ``loaded`` into the emulator just started; UsageError (naming the file) when it cannot be."""
    from pipeline.emulator.control import EmulatorControl
    from pipeline.emulator.restore import RestoreError, replay

    started = time.perf_counter()
    try:
        done = replay(
            loaded.resources,
            session.services(),
            loaded.blobs,
            set_endpoint_status=EmulatorControl(session.url).set_endpoint_status,
        )
    except RestoreError as exc:
        raise refuse(loaded.path, f"could not be replayed ({exc})") from None
    session.out(
        f"state: restored from {loaded.path} (saved {loaded.saved}): {done.line()} "
        f"in {time.perf_counter() - started:.2f} s"
    )
    for note in done.notes:
        session.out(f"state: note: {note}")


@contextmanager
def local_emulator(
    config: PipelineConfig,
    work_dir: Path,
    *,
    port: int = 0,
    attach: str | None = None,
    fresh: bool = False,
    out: Printer = print,
) -> Iterator[LocalEmulator]:
    """The command's emulator with the work folder's state in it (see the module's rules)."""
    from pipeline.local import KEPT_EMULATOR_FILE, emulator, kept_emulator

    loaded = open_state(work_dir, config, fresh=fresh, out=out)
    if attach:
        # Only to tell whether --attach names this folder's kept emulator; attaching checks it answers.
        marker = work_dir / KEPT_EMULATOR_FILE
        kept = marker.read_text().strip() if marker.is_file() else None
    else:
        kept = kept_emulator(work_dir, out)
    target = attach or kept
    if fresh and target:
        raise UsageError(
            f"--fresh starts a new emulator from nothing, but {target} is running for this work folder: "
            "stop it (Ctrl-C in its terminal) or drop --fresh"
        )
    owned = target is None or target.rstrip("/") == (kept or "").rstrip("/")
    with emulator(port, target, out) as url:
        session = LocalEmulator(url=url, config=config, work_dir=work_dir, owned=owned, out=out, started=target is None)
        if target is None and loaded is not None:
            restore(loaded, session)
        elif target is not None and owned:
            out(f"state: {url} already holds this work folder's resources; nothing restored")
        elif target is not None:
            out(f"state: {url} is not this work folder's emulator; its state is neither restored nor saved")
        yield session


def run_and_save(
    session: LocalEmulator,
    config: PipelineConfig,
    *,
    raw: pd.DataFrame,
    synthetic: bool = True,
    timeout_seconds: int = 600,
    retrain: bool = False,
    promote_to: PipelineConfig | None = None,
) -> LocalRun:
    """One pipeline run on the session's emulator (then, with ``promote_to``, the promotion to it),
    then its state saved (after a failed run too). ``retrain``: train even when a registered
    version was trained on the same inputs."""
    from pipeline.local import run_local
    from pipeline.local_promote import promote_local

    try:
        result = run_local(
            config,
            endpoint_url=session.url,
            work_dir=session.work_dir,
            raw=raw,
            out=session.out,
            timeout_seconds=timeout_seconds,
            synthetic=synthetic,
            retrain=retrain,
            clients=session.clients(),
        )
        if promote_to is not None:
            result.promotion = promote_local(
                config, promote_to, session.clients(), synthetic=synthetic, out=session.out
            )
    except PipelineError:
        try:
            session.save()
        except Exception as exc:  # the run's failure is the one to report
            session.out(f"state: not saved ({exc}); the previous state is kept")
        raise
    result.saved = session.save()
    if result.saved is not None:
        result.artifacts["emulator state"] = str(result.saved.path)
    return result
