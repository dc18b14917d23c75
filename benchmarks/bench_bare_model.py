"""Baseline for the local-mode benchmark: the model alone, with no emulator and no state machine.

Generates Big Mart-shaped data (pipeline.data), trains with the project's default
hyperparameters (config/pipeline.toml, [defaults.hyperparameters]) through the local built-in
XGBoost algorithm, packs model.tar.gz, loads it in LocalModelHost, invokes it with single rows
and once with a batch, and prints the wall time of each phase and the latency percentiles.
Figures only: nothing is asserted, so a slow machine reports a slow figure instead of failing.

    /work/venv/bin/python benchmarks/bench_bare_model.py [--rows 8523] [--invocations 100]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import xgboost as xgb

if sys.version_info >= (3, 11):
    import tomllib
else:  # setup.cfg installs tomli on Python 3.10
    import tomli as tomllib

from pipeline import data
from pipeline.local_model import LocalModelHost, train_from_channels
from pipeline.local_model.artifact import ARTIFACT_NAME, write_model_tar
from pipeline.smoke_checks import percentile

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "pipeline.toml"


def default_hyperparameters(config: Path) -> dict[str, str]:
    """[defaults.hyperparameters] of the project configuration, as the strings SageMaker passes."""
    with config.open("rb") as handle:
        table = tomllib.load(handle)["defaults"]["hyperparameters"]
    return {name: str(value) for name, value in table.items()}


def main(argv: list[str] | None = None) -> int:
    """Run the phases and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=8523, help="raw Big Mart rows to generate")
    parser.add_argument("--invocations", type=int, default=100, help="single-row invocations")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated data")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="project configuration")
    args = parser.parse_args(argv)

    phases: dict[str, float] = {}

    @contextmanager
    def phase(name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        phases[name] = time.perf_counter() - start

    hyperparameters = default_hyperparameters(args.config)
    with tempfile.TemporaryDirectory(prefix="bench-bare-model-") as tmp:
        work = Path(tmp)
        with phase("generate + prepare data"):
            prepared = data.prepare(data.generate_raw(rows=args.rows, seed=args.seed))
            paths = prepared.write(work / "input")
        with phase("train (local built-in algorithm)"):
            result = train_from_channels(
                hyperparameters,
                {"train": paths["train"].parent, "validation": paths["validation"].parent},
                work / "model",
                log=lambda _line: None,
            )
        with phase("write model.tar.gz"):
            tar_bytes = write_model_tar(work / "model", work / "output" / ARTIFACT_NAME).read_bytes()
        host = LocalModelHost()
        with phase("load into host"):
            host.load_artifact("bench", tar_bytes)

        features = prepared.validation.drop(columns=prepared.validation.columns[0])
        singles = [data.to_csv_payload(features.iloc[[i % len(features)]]) for i in range(args.invocations)]
        latencies: list[float] = []
        with phase(f"invoke x{args.invocations} (1 row each)"):
            for payload in singles:
                start = time.perf_counter()
                host.invoke("bench", payload, "text/csv", "text/csv")
                latencies.append(time.perf_counter() - start)
        batch = data.to_csv_payload(features)
        with phase(f"invoke x1 (batch of {len(features)} rows)"):
            answer, _ = host.invoke("bench", batch, "text/csv", "text/csv")
        answered = len(answer.splitlines())
        if answered != len(features):  # a correctness check, not a timing one
            raise SystemExit(f"batch answered {answered} predictions for {len(features)} rows")

    print(f"xgboost {xgb.__version__}, python {sys.version.split()[0]}")
    print(f"data: {result.train_rows} train + {result.validation_rows} validation rows x {result.features} features")
    print(f"hyperparameters: {hyperparameters}")
    print(f"validation:rmse {result.metrics.get('validation:rmse', float('nan')):.2f} after {result.rounds} rounds")
    width = max(len(name) for name in phases)
    for name, seconds in phases.items():
        print(f"{name:<{width}}  {seconds * 1000:9.1f} ms")
    print(f"{'total':<{width}}  {sum(phases.values()) * 1000:9.1f} ms")
    millis = [value * 1000 for value in latencies]
    print(
        f"single-row latency: p50 {percentile(millis, 0.50):.3f} ms, p95 {percentile(millis, 0.95):.3f} ms, "
        f"mean {statistics.fmean(millis):.3f} ms, max {max(millis):.3f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
