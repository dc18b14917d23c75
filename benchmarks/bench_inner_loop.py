"""The inner loop's figures: the test suite's wall time, and the local run against the bare model.

Every figure is a whole process started from here, so all of them share this process tree and
the machine's load at that moment:
  * ``pytest`` (the suite as configured in setup.cfg: parallel by default), wall time;
  * ``python -m pipeline local`` and ``python benchmarks/bench_bare_model.py``, alternated, so
    the local/bare ratio compares runs made under the same load. ``local`` is the first run in a
    new work folder (nothing to restore, the model trained); ``local again`` is the next run in
    the same folder, the common inner loop (the state restored, training reused: same inputs).
With ``--baseline DIR`` (another checkout, e.g. ``git worktree add ../base <commit>``) each
measurement alternates between the two trees and the before/after ratios are printed too.
Medians of ``--repeat`` runs; figures only, nothing is asserted.

    .venv/bin/python benchmarks/bench_inner_loop.py [--repeat 5] [--baseline ../base] [--skip-suite]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(command: list[str], tree: Path, env: dict[str, str]) -> tuple[float, float, int, str]:
    """Run ``command`` in ``tree`` (its package first on the path).

    Returns wall seconds, CPU seconds of the whole process tree (user + system: what the work
    costs, much less sensitive than wall time to other people's load), exit code, last line.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=tree, env={**env, "PYTHONPATH": str(tree)}, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = (done.stdout + done.stderr).strip().splitlines()
    return seconds, cpu, done.returncode, lines[-1] if lines else ""


def load() -> str:
    """The 1-minute load average and the CPU count, to print beside the figures."""
    one, _, _ = os.getloadavg()
    return f"load {one:.2f} on {os.cpu_count()} CPUs"


def measure(trees: dict[str, Path], repeat: int, suite: list[str] | None) -> dict[str, dict[str, list[float]]]:
    """Alternate every measurement over the trees; seconds by tree and by what was measured."""
    env = dict(os.environ)
    kinds = ("suite", "suite cpu", "local", "local again", "bare")
    figures: dict[str, dict[str, list[float]]] = {name: {kind: [] for kind in kinds} for name in trees}
    with tempfile.TemporaryDirectory(prefix="bench-inner-loop-") as tmp:
        for attempt in range(1, repeat + 1):
            for name, tree in trees.items():
                local = [sys.executable, "-m", "pipeline", "local", "--work-dir", f"{tmp}/{name}-{attempt}"]
                runs = {
                    "bare": [sys.executable, str(tree / "benchmarks" / "bench_bare_model.py")],
                    "local": local,
                    "local again": local,
                }
                if suite is not None:
                    runs["suite"] = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *suite]
                for what, command in runs.items():
                    seconds, cpu, code, last = timed(command, tree, env)
                    figures[name][what].append(seconds)
                    if what == "suite":
                        figures[name]["suite cpu"].append(cpu)
                    status = "" if code == 0 else f"  EXIT {code}: {last}"
                    detail = f"  ({last})" if what == "suite" and code == 0 else ""
                    print(
                        f"[{attempt}/{repeat}] {name:<9} {what:<11} {seconds:7.2f} s (cpu {cpu:7.2f} s)  "
                        f"{load()}{detail}{status}"
                    )
                    sys.stdout.flush()
    return figures


def report(figures: dict[str, dict[str, list[float]]]) -> None:
    """Medians, the local/bare ratio per tree, and before/after ratios when there is a baseline."""
    print()
    medians = {name: {what: statistics.median(v) for what, v in runs.items() if v} for name, runs in figures.items()}
    for name, values in medians.items():
        parts = [f"{what} {seconds:6.2f} s" for what, seconds in values.items()]
        # Each local run against the bare run made right before it, under the same load.
        ratios = []
        for what in ("local", "local again"):
            pairs = [local / bare for local, bare in zip(figures[name][what], figures[name]["bare"], strict=True)]
            ratios.append(f"{what}/bare {statistics.median(pairs):4.1f}x")
        print(f"{name:<9} median: {', '.join(parts)};  {', '.join(ratios)} (medians of pairs)")
    if "baseline" in medians:
        before, after = medians["baseline"], medians["this tree"]
        for what in after:
            if what in before:
                print(
                    f"{what:<11} baseline {before[what]:6.2f} s -> {after[what]:6.2f} s  ({before[what] / after[what]:.2f}x faster)"
                )


def main(argv: list[str] | None = None) -> int:
    """Parse the options, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each measurement (default: 5)")
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout to alternate with")
    parser.add_argument("--skip-suite", action="store_true", help="only the local run and the bare model")
    parser.add_argument("pytest_args", nargs="*", help="arguments for pytest (after --)")
    args = parser.parse_args(argv)
    trees = {"this tree": ROOT}
    if args.baseline is not None:
        trees = {"baseline": args.baseline.resolve(), **trees}
    print(f"python {sys.version.split()[0]}, {load()}")
    figures = measure(trees, args.repeat, None if args.skip_suite else args.pytest_args)
    report(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
