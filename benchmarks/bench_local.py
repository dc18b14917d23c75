"""Local mode against the bare model: what the orchestration costs.

Times, in one run on this machine:
  1. the bare model (benchmarks/bench_bare_model.py): prepare, train, pack, load, invoke;
  2. the local run in-process: emulator start, data upload, deploy, execution (real training),
     smoke test, holdout evaluation, emulator stop;
  3. the local command as a user runs it (``python -m pipeline local``), imports included.
Prints the figures and the ratios; asserts nothing (a slow machine reports slow figures).

    .venv/bin/python benchmarks/bench_local.py [--rows 8523]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def bare(rows: int) -> float:
    """Seconds for the bare-model baseline, in-process."""
    import bench_bare_model

    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        bench_bare_model.main(["--rows", str(rows), "--invocations", "71"])
    return time.perf_counter() - started


def local_in_process(rows: int, work: Path) -> tuple[float, dict[str, float]]:
    """Seconds for one local run in this process (imports already done), and its phases."""
    from pipeline import data
    from pipeline.config import load_config
    from pipeline.local import LOCAL_OVERRIDES, emulator, run_local

    config = load_config("staging", environ={}).replace(**LOCAL_OVERRIDES)
    raw = data.generate_raw(rows, seed=0)
    started = time.perf_counter()
    with emulator(0, None, lambda _line: None) as url:
        result = run_local(config, endpoint_url=url, work_dir=work, raw=raw, out=lambda _line: None)
    return time.perf_counter() - started, result.timings


def local_cli(rows: int, work: Path) -> float:
    """Seconds for ``python -m pipeline local`` in a new process, as a user sees it."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pipeline", "local", "--rows", str(rows), "--work-dir", str(work)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def main() -> int:
    """Run the three measurements and print them side by side."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=8523)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-local-") as tmp:
        work = Path(tmp)
        bare_seconds = bare(args.rows)
        in_process, phases = local_in_process(args.rows, work / "in-process")
        cli = local_cli(args.rows, work / "cli")
    print(f"rows: {args.rows}")
    print(f"bare model (train, serve, invoke)        {bare_seconds:7.2f} s")
    print(f"local run, in-process (after imports)    {in_process:7.2f} s   ratio {in_process / bare_seconds:5.1f}x")
    print(f"python -m pipeline local (new process)   {cli:7.2f} s   ratio {cli / bare_seconds:5.1f}x")
    print("local run phases:")
    for name, seconds in phases.items():
        print(f"  {name:<28} {seconds:6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
