"""``python -m pipeline local``: the whole mission on one machine, with a real model.

Starts the embedded emulator on 127.0.0.1 (or attaches to one kept running by an earlier
``--keep`` run), uploads the prepared Big Mart data to emulated S3, creates or updates the state
machine, runs it (training and serving XGBoost for real), smoke-tests the endpoint and prints a
summary. A second run against the same emulator takes the update path.
"""

from __future__ import annotations

import errno
import math
import signal
import tarfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.config import PipelineConfig
from pipeline.errors import PipelineError, UsageError
from pipeline.printer import Printer

# boto3 and botocore are imported where used: `python -m pipeline` imports this module for its
# defaults (pipeline.cli.local), and every command, --help and bad input included, would pay them.
if TYPE_CHECKING:
    import boto3
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient

    from pipeline.clients import Clients

FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
# Local runs poll and retry every second: the emulator answers at once, AWS would not.
LOCAL_OVERRIDES = {"endpoint_poll_seconds": 1, "retry_interval_seconds": 1, "retry_max_delay_seconds": 5}
DEFAULT_WORK_DIR = ".pipeline-local"
LOCAL_TIME_SCALE = 0.01
# Written in the work folder while `local --keep` holds an emulator up, so later runs reuse it.
KEPT_EMULATOR_FILE = "emulator-url"


@dataclass
class LocalRun:
    """What one local run did, for the summary and for tests."""

    endpoint_url: str
    config: PipelineConfig
    deploy_action: str = ""
    endpoint_action: str = ""
    execution_arn: str = ""
    status: str = ""
    stages: list[Any] = field(default_factory=list)
    output: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    holdout_rmse: float = math.nan
    latency_ms: dict[str, float] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    smoke_passed: bool = False
    # The quality gate's verdict and the registry version, from the execution output and the smoke step.
    gate: dict[str, Any] = field(default_factory=dict)
    model_package: str = ""
    approval: str = ""
    # The training decision (pipeline.reuse): trained, or skipped because the inputs were unchanged.
    training: str = ""
    data: str = ""  # what the deployed model was trained on: synthetic, real, unknown
    # The work folder's state saved after the run (pipeline.local_state.Saved), when it was.
    saved: Any = None
    # `--promote`: the promotion and both environments' lineage (pipeline.local_promote.LocalPromotion).
    promotion: Any = None


def emulator_session(region: str) -> boto3.Session:
    """A boto3 session with the emulator's placeholder credentials.

    Its clients reach the emulator this command started without a socket (the server is in
    this process: pipeline.emulator.direct), and any other emulator (``--attach``) over HTTP."""
    import boto3

    from pipeline.emulator.direct import connect

    session = boto3.Session(
        region_name=region,
        aws_access_key_id=FAKE_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=FAKE_CREDENTIALS["aws_secret_access_key"],
    )
    return connect(session)


@contextmanager
def emulator(port: int, attach_url: str | None, out: Printer) -> Iterator[str]:
    """Yield the URL of a running emulator: an attached one, or a new one stopped on exit."""
    if attach_url:
        check_attached(attach_url)
        out(f"emulator: attached to {attach_url}")
        yield attach_url
        return
    from pipeline.emulator import EmulatorServer, Timings
    from pipeline.local_model import LocalModelHost, S3Trainer

    # Wait states and retry intervals run 100x faster: the emulated endpoint is ready at once,
    # so the state machine's 1 s polls would only add idle time to a local run.
    timings = Timings(time_scale=LOCAL_TIME_SCALE)
    server = EmulatorServer(
        port=port, serve_in_process=True, trainer=S3Trainer(), model_host=LocalModelHost(), timings=timings
    )
    try:
        server.start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(f"port {port} on 127.0.0.1 is already in use: pass --port 0 for a free one") from None
        raise PipelineError(f"cannot start the emulator on 127.0.0.1:{port}: {exc.strerror or exc}") from None
    try:
        out(f"emulator: started at {server.url} (waits and retry intervals {1 / LOCAL_TIME_SCALE:.0f}x faster)")
        yield server.url
    finally:
        # A second Ctrl-C must not cut the shutdown short and leave the port bound.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            server.stop()
        finally:
            signal.signal(signal.SIGINT, previous)


def check_attached(url: str) -> None:
    """Fail clearly when ``--attach`` names something that is not a running emulator."""
    import json
    import urllib.error
    import urllib.request

    if not url.startswith(("http://127.", "http://localhost")):
        raise UsageError(f"--attach {url!r} must be the emulator's http://127.0.0.1:<port> URL")
    try:
        with urllib.request.urlopen(f"{url}/_emulator/health", timeout=5) as response:  # noqa: S310 (loopback only)
            json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise UsageError(
            f"no emulator answers at {url} ({exc}); start one with `python -m pipeline local --keep`"
        ) from None


def prepare_work_dir(path: Path) -> Path:
    """Create the work folder, or fail clearly when it cannot be written."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise UsageError(
            f"work folder {str(path)!r} is not writable ({exc.strerror or exc}); pass --work-dir"
        ) from None
    return path


def run_local(
    config: PipelineConfig,
    *,
    endpoint_url: str,
    work_dir: Path,
    raw: Any,
    out: Printer = print,
    timeout_seconds: int = 600,
    synthetic: bool = True,
    retrain: bool = False,
    clients: Clients | None = None,
) -> LocalRun:
    """Run the pipeline once against the emulator at ``endpoint_url``; raise on failure.

    ``clients``: the emulator's clients when the caller has them already (made for it otherwise).

    ``synthetic`` says whether ``raw`` is generated data (recorded on the uploaded objects and so
    in the registry). A registered version trained on the same inputs is reused (no training)
    unless ``retrain``; when the endpoint already serves it, no execution is started.
    Autoscaling is turned on for the run when the environment has it off (pipeline.local_extras),
    so the run shows the registration prod makes."""
    from pipeline import data, local_extras, storage
    from pipeline.alarms import ensure_alarms
    from pipeline.clients import Clients
    from pipeline.commit import resolve_commit
    from pipeline.definition import execution_input, run_id_now
    from pipeline.deploy import deploy_state_machine
    from pipeline.follow import follow_execution
    from pipeline.provenance import lineage_input
    from pipeline.reuse import find_reusable
    from pipeline.run import start_execution
    from pipeline.smoke_checks import percentile

    turned_on = not config.autoscaling.enabled
    config = local_extras.local_autoscaling(config)
    result = LocalRun(endpoint_url=endpoint_url, config=config)
    # The same client factory (and retry settings) as every other command.
    if clients is None:
        clients = Clients(session=emulator_session(config.account.region), endpoint_url=endpoint_url)
    s3, sfn = clients("s3"), clients("stepfunctions")
    sagemaker, runtime = clients("sagemaker"), clients("sagemaker-runtime")

    with timed(result, "prepare data"):
        prepared = data.prepare(raw, config.data.validation_fraction, config.data.seed)
        paths = prepared.write(work_dir / "data")
        ensure_bucket(s3, config)
        uploaded = storage.upload_prepared(prepared, s3, config, synthetic=synthetic)
    out(f"data: {len(prepared.train)} training and {len(prepared.validation)} validation rows -> {config.data_uri}/")
    result.artifacts["prepared data"] = str(paths["train"].parent.parent)
    result.artifacts["data in S3"] = uploaded[0].rsplit("/", 2)[0] + "/"

    with timed(result, "deploy state machine"):
        ensure_alarms(config, clients("cloudwatch"), out=lambda line: out(f"deploy: {line}"))
        deployed = deploy_state_machine(config, sfn, commit_sha=None, out=lambda line: out(f"deploy: {line}"))
    result.deploy_action = deployed.action
    out(f"deploy: state machine {deployed.action} ({deployed.version_arn})")

    endpoint_exists = endpoint_status(sagemaker, config.endpoint.name) is not None
    result.endpoint_action = "update" if endpoint_exists else "create"
    out(
        f"endpoint: {config.endpoint.name} exists, so this run takes the update path (same endpoint, new config)"
        if endpoint_exists
        else f"endpoint: {config.endpoint.name} does not exist yet, so this run creates it"
    )

    run_id = run_id_now()
    lineage = lineage_input(s3, config, resolve_commit(None, required=False))
    reuse = find_reusable(config, sagemaker, lineage["Data"], retrain=retrain)
    result.training = reuse.why
    result.data = (
        reuse.version.data
        if reuse.version is not None
        else {"true": "synthetic", "false": "real"}.get(str(lineage["Data"].get("Synthetic")), "unknown")
    )
    out(f"run: {reuse.why}")
    if reuse.version is not None and reuse.serving:
        return unchanged_run(result, reuse.version, clients, s3, runtime, prepared, work_dir, out)
    with timed(result, "execution"):
        names = execution_input(config, run_id)
        execution_arn = start_execution(
            config,
            sfn,
            run_id=run_id,
            target_arn=deployed.alias_arn,
            name=f"local-{run_id}",
            lineage=None if reuse.version is not None else lineage,
            model_package_arn=reuse.version.arn if reuse.version is not None else None,
            out=lambda line: out(f"run: {line}"),
        )
        # The emulator answers at once: poll often (and never back off to seconds) so the run
        # ends when the execution does; a poll is two local HTTP calls.
        run = follow_execution(
            sfn,
            execution_arn,
            timeout_seconds=timeout_seconds,
            out=lambda line: out(f"run: {line}"),
            poll_seconds=0.1,
            max_poll_seconds=0.1,
        )
    result.execution_arn = execution_arn
    result.status = run.status
    result.stages = list(run.stages)
    if run.status != "SUCCEEDED":
        raise PipelineError(
            f"execution {run.status}: stage {run.failed_stage or '?'} failed with {run.error or '?'}: {run.cause or ''}"
        )
    result.output = dict(run.output or {})
    result.gate = dict(result.output.get("QualityGate") or {})
    result.model_package = str(result.output.get("ModelPackageArn") or "")

    with timed(result, "smoke test"):
        outcome = smoke(config, clients, execution_arn, out)
    result.smoke_passed = outcome.passed
    approval = getattr(outcome, "approval", None)
    if approval is not None:
        result.approval = approval.result.status if approval.result is not None else f"not updated: {approval.error}"
    if outcome.result is not None and outcome.result.latencies_ms:
        latencies = outcome.result.latencies_ms
        result.latency_ms = {
            "calls": len(latencies),
            "p50": percentile(latencies, 0.5),
            "p95": percentile(latencies, 0.95),
        }
    if config.capture.enabled:
        from pipeline.capture import latest_records

        captured = latest_records(s3, config, limit=1000)
        result.artifacts["data capture"] = f"{config.capture_uri}/{config.endpoint.name}/"
        out(f"capture: {len(captured)} record(s) of the smoke test's calls under {config.capture_uri}/")
        for record in captured[:3]:
            out(f"capture: {record.line(40)}")
    local_extras.report(config, clients, outcome, out, turned_on=turned_on)
    with timed(result, "holdout evaluation"):
        result.holdout_rmse = holdout_rmse(runtime, config.endpoint.name, prepared.validation)
    model_uri = result.output.get(
        "ModelArtifacts", f"{config.output_uri}/{names['TrainingJobName']}/output/model.tar.gz"
    )
    result.artifacts["model in S3"] = model_uri
    result.artifacts["model"] = str(download_model(s3, model_uri, work_dir / "model"))
    if not result.smoke_passed:
        raise PipelineError("the smoke test of the endpoint failed (see above)")
    return result


def smoke(
    config: PipelineConfig,
    clients: Clients,
    execution_arn: str,
    out: Printer,
    model_package_arn: str | None = None,
) -> Any:
    """Smoke-test the endpoint with the project's smoke test (rolling back on failure).

    Without an execution, ``model_package_arn`` is the version the endpoint already serves."""
    from pipeline.smoke import publish, smoke_deployment

    outcome = smoke_deployment(
        config,
        clients,
        execution_arn=execution_arn or None,
        model_package_arn=model_package_arn,
    )
    publish(outcome, lambda line: out(f"smoke: {line}"))
    return outcome


def unchanged_run(
    result: LocalRun,
    version: Any,
    clients: Clients,
    s3: S3Client,
    runtime: SageMakerRuntimeClient,
    prepared: Any,
    work_dir: Path,
    out: Printer,
) -> LocalRun:
    """The endpoint already serves the version trained on these inputs: start nothing, smoke-test it."""
    config = result.config
    out(f"run: endpoint {config.endpoint.name} already serves version {version.version}: nothing deployed")
    result.endpoint_action = "unchanged"
    result.status = "UNCHANGED"
    result.model_package = version.arn
    result.data = version.data
    with timed(result, "smoke test"):
        outcome = smoke(config, clients, "", out, model_package_arn=version.arn)
    result.smoke_passed = outcome.passed
    if outcome.approval is not None:
        result.approval = outcome.approval.result.status if outcome.approval.result is not None else "not updated"
    with timed(result, "holdout evaluation"):
        result.holdout_rmse = holdout_rmse(runtime, config.endpoint.name, prepared.validation)
    result.artifacts["model in S3"] = version.model_data_url
    result.artifacts["model"] = str(download_model(s3, version.model_data_url, work_dir / "model"))
    if not result.smoke_passed:
        raise PipelineError("the smoke test of the endpoint failed (see above)")
    return result


@contextmanager
def timed(result: LocalRun, name: str) -> Iterator[None]:
    """Record a phase's wall time in the run's timings."""
    started = time.perf_counter()
    try:
        yield
    finally:
        result.timings[name] = time.perf_counter() - started


def ensure_bucket(s3: S3Client, config: PipelineConfig) -> None:
    """Create the configured bucket in the emulator when it is missing."""
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=config.account.bucket)
    except ClientError:
        location: dict[str, Any] = (
            {}
            if config.account.region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": config.account.region}}
        )
        s3.create_bucket(Bucket=config.account.bucket, **location)


def endpoint_status(sagemaker: SageMakerClient, name: str) -> str | None:
    """The endpoint's status, or None when it does not exist."""
    from botocore.exceptions import ClientError

    from pipeline.aws_errors import error_message

    try:
        return sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"]
    except ClientError as exc:
        if "Could not find endpoint" in error_message(exc):
            return None
        raise


def predict(runtime: SageMakerRuntimeClient, endpoint: str, features: Any) -> list[float]:
    """Predictions of the endpoint for encoded feature rows (text/csv in, text/csv out)."""
    from pipeline import data

    response = runtime.invoke_endpoint(
        EndpointName=endpoint, ContentType="text/csv", Accept="text/csv", Body=data.to_csv_payload(features)
    )
    text = response["Body"].read().decode()
    return [float(value) for value in text.replace(",", "\n").split()]


def holdout_rmse(runtime: SageMakerRuntimeClient, endpoint: str, validation: Any) -> float:
    """RMSE of the live endpoint's predictions on the held-out validation rows."""
    predictions = predict(runtime, endpoint, validation.iloc[:, 1:])
    labels = validation.iloc[:, 0].tolist()
    if len(predictions) != len(labels):
        raise PipelineError(f"the endpoint returned {len(predictions)} predictions for {len(labels)} rows")
    return math.sqrt(sum((p - y) ** 2 for p, y in zip(predictions, labels, strict=True)) / len(labels))


def download_model(s3: S3Client, uri: str, folder: Path) -> Path:
    """Copy the trained artifact to the work folder and unpack ``xgboost-model`` beside it."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / "model.tar.gz"
    s3.download_file(bucket, key, str(archive))
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    return archive


def summary(result: LocalRun) -> str:
    """The end-of-run report: stages with durations, RMSE, latency, artifacts."""
    action = result.endpoint_action if result.endpoint_action.endswith("d") else f"{result.endpoint_action}d"
    lines = ["", "summary", f"  endpoint {result.config.endpoint.name}: {action}, smoke test passed"]
    lines.append(f"  state machine: {result.deploy_action}")
    if result.training:
        lines.append(f"  {result.training}")
    if result.data == "synthetic":
        lines.append("  data: the deployed model was trained on SYNTHETIC data (generated rows, not real sales)")
    lines.append("  stages:")
    for stage in result.stages:
        duration = stage.seconds if getattr(stage, "seconds", None) is not None else 0.0
        lines.append(f"    {stage.name:<28} {stage.status:<10} {duration:6.2f} s")
    lines.append("  phases:")
    for name, seconds in result.timings.items():
        lines.append(f"    {name:<28} {seconds:6.2f} s")
    lines += gate_lines(result)
    lines.append(f"  holdout RMSE: {result.holdout_rmse:.1f} (Item_Outlet_Sales)")
    if result.latency_ms:
        lines.append(
            f"  endpoint latency over {result.latency_ms['calls']:.0f} single-row calls: "
            f"p50 {result.latency_ms['p50']:.1f} ms, p95 {result.latency_ms['p95']:.1f} ms"
        )
    lines.append("  artifacts:")
    for name, where in result.artifacts.items():
        lines.append(f"    {name}: {where}")
    if result.promotion is not None:
        promoted = result.promotion.promotion
        lines.append(
            f"  promoted to {result.promotion.target}: {promoted.source.group} version {promoted.source.version} -> "
            f"{promoted.target_version_arn} (no training; smoke test passed, Approved there)"
        )
        lines.append("  lineage:")
        lines += [f"    {line}" for line in result.promotion.lineage]
    return "\n".join(lines)


def gate_lines(result: LocalRun) -> list[str]:
    """The quality gate (metric, bars, champion) and the registered version with its approval."""
    from pipeline.report import release_line

    gate = result.gate
    if not gate:
        return []
    released = release_line(result.output)
    if gate.get("Skipped"):
        return [
            f"  quality gate: skipped ({gate['Skipped']})",
            f"  {released}",
            f"  -> {result.approval or 'not decided'}",
        ]
    champion = gate.get("Champion") or {}
    if champion.get("Found"):
        against = (
            f"champion version {champion.get('Version')} ({champion.get('ValidationRmse')}), "
            f"bar {champion.get('Bar')} at {gate.get('MaxRegressionPct')}%"
        )
    else:
        against = f"no champion ({champion.get('Reason', '?')})"
    return [
        f"  quality gate: {gate.get('Metric')} {gate.get('Value')} passed; absolute bar "
        f"{gate.get('MaxValidationRmse')}; {against}",
        f"  model package: {result.model_package or '?'} -> {result.approval or 'not decided'}",
        *([f"  {released}"] if released else []),
    ]


def keep_running(url: str, region: str, out: Printer, stop: threading.Event | None = None) -> None:
    """Print how to reach the emulator and block until Ctrl-C (or ``stop`` is set)."""
    event = stop or threading.Event()
    # Ctrl-C is how this mode ends, so it may arrive at any point from here on.
    try:
        out("")
        out(f"The emulator keeps running at {url}. Point boto3 or the AWS CLI at it with:")
        out(f"  export AWS_ENDPOINT_URL={url}")
        out(f"  export AWS_DEFAULT_REGION={region}")
        out("  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing")
        out("Run `python -m pipeline local` again (same --work-dir) to take the update path on it.")
        out("Press Ctrl-C to stop it.")
        while not event.wait(0.5):
            pass
    except KeyboardInterrupt:
        out("stopping the emulator")


def kept_emulator(work_dir: Path, out: Printer) -> str | None:
    """The URL of an emulator an earlier ``--keep`` run left up for this work folder, if it answers.

    This is what makes a second ``local`` run take the update path: the first run's endpoint
    lives in that emulator. A stale record (the emulator was killed) is removed.
    """
    marker = work_dir / KEPT_EMULATOR_FILE
    if not marker.is_file():
        return None
    url = marker.read_text().strip()
    try:
        check_attached(url)
    except UsageError:
        out(f"emulator: {url} (recorded in {marker}) no longer answers; starting a new one")
        marker.unlink(missing_ok=True)
        return None
    out(f"emulator: reusing the one an earlier --keep run left at {url}")
    return url
