"""Benchmark: ``deploy_state_machine`` against the stepfunctions SDK's ``Workflow.create``/``update``.

Three scenarios on the embedded emulator, each on a fresh state machine name per repetition:
first deploy, no-op deploy (same configuration again, as a re-run CI job does), changed deploy
(one hyperparameter changed). Step Functions calls are counted with botocore's ``before-call``
event hook and split into reads and writes; wall time is the median over the repetitions.

The SDK column is what a CI script built on the SDK does: ``Workflow.create()`` (which never
updates an existing machine), then ``Workflow.update()`` (which writes whatever changed). It
publishes no version and moves no alias, so it does less than ``deploy`` and still writes more.

    python benchmarks/bench_deploy.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import boto3

from pipeline.config import PipelineConfig, load_config
from pipeline.deploy import deploy_state_machine
from pipeline.emulator import Emulator

WRITE_PREFIXES = ("Create", "Update", "Delete", "Publish", "Tag", "Untag")
SCENARIOS = ("first deploy", "no-op deploy", "changed deploy")


class Counter:
    """Counts the Step Functions operations a client sends."""

    def __init__(self, client: Any):
        self.calls: list[str] = []
        client.meta.events.register("before-call.sfn.*", lambda model, **_: self.calls.append(model.name))

    def take(self) -> tuple[int, int]:
        """(reads, writes) since the last take."""
        writes = sum(name.startswith(WRITE_PREFIXES) for name in self.calls)
        reads = len(self.calls) - writes
        self.calls.clear()
        return reads, writes


def ours(config: PipelineConfig, changed: PipelineConfig, sfn: Any) -> list[Callable[[], Any]]:
    """The three scenarios with this project's deploy."""
    quiet: Callable[[str], None] = lambda _: None  # noqa: E731 - a sink for progress lines
    return [
        lambda: deploy_state_machine(config, sfn, commit_sha="a" * 40, out=quiet),
        lambda: deploy_state_machine(config, sfn, commit_sha="a" * 40, out=quiet),
        lambda: deploy_state_machine(changed, sfn, commit_sha="b" * 40, out=quiet),
    ]


def sdk(config: PipelineConfig, changed: PipelineConfig, sfn: Any) -> list[Callable[[], Any]]:
    """The three scenarios with the stepfunctions SDK: create(), then update() when it exists."""
    from stepfunctions.workflow import Workflow

    from pipeline.definition.builder import graph as build_graph
    from pipeline.definition.builder import sdk_partition
    from pipeline.definition.context import partition

    def deploy(cfg: PipelineConfig, first: bool) -> Any:
        with sdk_partition(partition(cfg.region)):
            graph = build_graph(cfg)
            tags = [{"key": k, "value": v} for k, v in cfg.tags.items()]
            workflow = Workflow(cfg.state_machine_name, graph, cfg.workflow_role_arn, tags=tags, client=sfn)
            workflow.create()  # a new process knows no ARN: create() returns the existing one
            if not first:
                workflow.update(definition=graph, role=cfg.workflow_role_arn)
            return workflow.state_machine_arn

    return [lambda: deploy(config, True), lambda: deploy(config, False), lambda: deploy(changed, False)]


def measure(
    make: Callable[[PipelineConfig, PipelineConfig, Any], list[Callable[[], Any]]],
    base: PipelineConfig,
    sfn: Any,
    counter: Counter,
    repeat: int,
    tag: str,
) -> list[tuple[int, int, float]]:
    """(reads, writes, median seconds) per scenario."""
    seconds: list[list[float]] = [[] for _ in SCENARIOS]
    counts: list[tuple[int, int]] = [(0, 0)] * len(SCENARIOS)
    for round_ in range(repeat):
        config = base.replace(state_machine_name=f"{base.state_machine_name}-{tag}-{round_}")
        changed = config.replace(hyperparameters={**config.hyperparameters, "eta": 0.3})
        counter.take()
        for index, scenario in enumerate(make(config, changed, sfn)):
            began = time.perf_counter()
            scenario()
            seconds[index].append(time.perf_counter() - began)
            counts[index] = counter.take()
    return [(*counts[i], statistics.median(seconds[i])) for i in range(len(SCENARIOS))]


def main(argv: list[str] | None = None) -> None:
    """Run both implementations on one emulator and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="repetitions per scenario (default: 5)")
    args = parser.parse_args(argv)
    base = load_config("staging", environ={})
    base.training_image  # noqa: B018 - resolve the image once, outside the timings
    with Emulator():
        sfn = boto3.client("stepfunctions", region_name=base.region)
        counter = Counter(sfn)
        mine = measure(ours, base, sfn, counter, args.repeat, "ours")
        theirs = measure(sdk, base, sfn, counter, args.repeat, "sdk")
    print(f"Step Functions calls and median wall time over {args.repeat} runs (embedded emulator)\n")
    print(
        f"| {'scenario':<15} | {'deploy: reads/writes':>20} | {'time':>8} | {'SDK: reads/writes':>17} | {'time':>8} |"
    )
    print(f"|{'-' * 17}|{'-' * 21}:|{'-' * 9}:|{'-' * 18}:|{'-' * 9}:|")
    for name, (r1, w1, t1), (r2, w2, t2) in zip(SCENARIOS, mine, theirs, strict=True):
        print(f"| {name:<15} | {f'{r1} / {w1}':>20} | {t1 * 1000:6.1f}ms | {f'{r2} / {w2}':>17} | {t2 * 1000:6.1f}ms |")
    print("\nThe SDK publishes no version and keeps no alias; deploy does both and writes nothing when unchanged.")


if __name__ == "__main__":
    main()
