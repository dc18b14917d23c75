"""Local runs on a persisted work folder: the first, a second with unchanged inputs, a third with a change.

Runs ``python -m pipeline local`` three times in one temporary work folder, as a user would:
  1. from nothing (trains, creates the endpoint, saves the state);
  2. the same inputs (restores the state; training skipped, nothing deployed);
  3. one more boosting round (restores; trains, updates the state machine and the endpoint).
Prints each run's wall and user CPU time, the restore and save times and what the run did;
asserts nothing (a loaded machine reports slow figures).

    .venv/bin/python benchmarks/bench_local_state.py [--rows 8523]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = [
    ("first (nothing saved)", []),
    ("second, same inputs", []),
    ("third, num_round 101", ["--set", "hyperparameters.num_round=101"]),
]
SHOWN = re.compile(
    r"^(state: (restored|saved).*?in [0-9.]+ s$|run: training.*|deploy: state machine \S+: \w+|endpoint: .*)"
)


def one_run(work: Path, rows: int, extra: list[str]) -> tuple[float, float, list[str]]:
    """Wall seconds, user CPU seconds of the child and the lines that say what it did."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "local", "--rows", str(rows), "--work-dir", str(work), *extra],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    user = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - before
    if done.returncode != 0:
        raise SystemExit(f"local failed ({done.returncode}): {done.stderr[-2000:]}")
    # Long state lines keep their start (what) and their end (how long).
    lines = [
        line if len(line) <= 130 else f"{line[:100]} ... {line[-24:]}"
        for line in done.stdout.splitlines()
        if SHOWN.match(line)
    ]
    return wall, user, lines


def main(argv: list[str] | None = None) -> None:
    """Print the three runs' figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8523)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder) / "work"
        for name, extra in RUNS:
            wall, user, lines = one_run(work, args.rows, extra)
            print(f"{name:<24} wall {wall:6.2f} s  user {user:6.2f} s")
            for line in lines:
                print(f"    {line}")


if __name__ == "__main__":
    main()
