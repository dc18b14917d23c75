"""Local state: the emulator's resources kept in the work folder between ``local`` runs.

One trained run per module (``first``) is saved once; each test works on a copy of its folder.
Everything runs in-process; the command's exit code through ``main`` (tests/local_cli.py).
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from pipeline import data
from pipeline.config import load_config
from pipeline.deploy import alias_arn, state_machine_arn
from pipeline.errors import UsageError
from pipeline.local import KEPT_EMULATOR_FILE, LOCAL_OVERRIDES, LocalRun, emulator, emulator_session, predict, summary
from pipeline.local_promote import promotion_target
from pipeline.local_session import local_emulator, run_and_save
from pipeline.local_state import FORMAT, load, save, state_path
from tests.local_cli import local_in_process

pytestmark = pytest.mark.local

ROWS = 2000


def local_config(environment: str = "staging", **overrides):
    return load_config(environment, environ={}).replace(**{**LOCAL_OVERRIDES, **overrides})


@pytest.fixture(scope="module")
def raw():
    return data.generate_raw(ROWS, seed=3)


@dataclass(frozen=True)
class First:
    """The module's first run: its work folder, its result and what it printed."""

    work: Path
    run: LocalRun
    lines: list[str]


@pytest.fixture(scope="module")
def first(tmp_path_factory, raw) -> First:
    """A work folder after one successful run (trained, registered, deployed, saved)."""
    work = tmp_path_factory.mktemp("first")
    lines: list[str] = []
    config = local_config()
    with local_emulator(config, work, out=lines.append) as session:
        run = run_and_save(session, config, raw=raw)
    return First(work, run, lines)


@pytest.fixture
def work(first, tmp_path) -> Path:
    """A copy of the first run's folder, for a test to change."""
    copy = tmp_path / "work"
    shutil.copytree(first.work, copy)
    return copy


def serving_clients(url: str):
    session = emulator_session(local_config().account.region)
    return session.client("sagemaker", endpoint_url=url), session.client("sagemaker-runtime", endpoint_url=url)


def model_predictions(archive: Path, features) -> np.ndarray:
    with tarfile.open(archive) as tar:
        member = tar.extractfile("xgboost-model")
        assert member is not None
        booster = xgb.Booster()
        booster.load_model(bytearray(member.read()))
    return booster.predict(xgb.DMatrix(features.to_numpy()))


def test_the_first_run_creates_everything_from_nothing(first):
    run, lines, config = first.run, first.lines, local_config()
    assert f"state: none in {first.work / 'state'} yet; starting from nothing" in lines
    assert (run.deploy_action, run.endpoint_action, run.status) == ("created", "create", "SUCCEEDED")
    assert run.output["PreviousEndpoint"] == {"EndpointStatus": "Absent"}
    assert run.smoke_passed
    # The gate: no champion yet, so only the absolute bar; version 1, approved by the smoke test.
    assert run.gate["Champion"]["Found"] is False
    assert (run.model_package.rsplit("/", 1)[1], run.approval) == ("1", "Approved")
    # Data capture: every call of the smoke test was recorded (staging samples 100%).
    captured = [line for line in lines if line.startswith("capture: ") and "record(s)" in line]
    assert len(captured) == 1 and int(captured[0].split()[1]) >= config.smoke.calls, captured
    # Autoscaling (off in staging, turned on by local mode) registered after the smoke test,
    # and the prune dry run's table (one run: everything is one of the newest).
    assert "autoscaling: staging has autoscaling = false; local mode turned it on for this run" in lines
    assert any(
        line.startswith("autoscaling registered: endpoint/big-mart-staging/variant/AllTraffic 1-2 instances")
        for line in lines
    ), lines
    assert "prune: dry run: 0 would be deleted with `prune --yes` (keeping 5 newest)" in lines


def test_restored_endpoint_is_in_service_and_serves_the_saved_model(first, work, raw):
    run = first.run
    config = local_config()
    lines: list[str] = []
    with local_emulator(config, work, out=lines.append) as session:
        sagemaker, runtime = serving_clients(session.url)
        endpoint = sagemaker.describe_endpoint(EndpointName=config.endpoint.name)
        assert (endpoint["EndpointStatus"], endpoint["EndpointConfigName"]) == (
            "InService",
            run.output["EndpointConfigName"],
        )
        validation = data.prepare(raw, config.data.validation_fraction, config.data.seed).validation
        served = np.array(predict(runtime, config.endpoint.name, validation.iloc[:, 1:]))
        np.testing.assert_allclose(
            served, model_predictions(Path(run.artifacts["model"]), validation.iloc[:, 1:]), rtol=1e-6
        )

        # The registry: the version, its approval and every metadata key came back.
        version = sagemaker.describe_model_package(ModelPackageName=run.model_package)
        assert version["ModelApprovalStatus"] == "Approved"
        assert version["ApprovalDescription"].startswith("smoke test of big-mart-staging passed")
        saved = json.loads(state_path(first.work).read_text())["resources"]["sagemaker"]["model_packages"][0]
        assert version["CustomerMetadataProperties"] == saved["create"]["CustomerMetadataProperties"]
        # The artifact's SHA-256 is the one registered (promote checks it).
        s3 = emulator_session(config.account.region).client("s3", endpoint_url=session.url)
        bucket, _, key = version["InferenceSpecification"]["Containers"][0]["ModelDataUrl"][5:].partition("/")
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        assert head["ChecksumSHA256"] == version["CustomerMetadataProperties"]["ArtifactSha256"]

        sfn = emulator_session(config.account.region).client("stepfunctions", endpoint_url=session.url)
        alias = sfn.describe_state_machine_alias(stateMachineAliasArn=alias_arn(config))
        version_1 = f"{state_machine_arn(config)}:1"
        assert alias["routingConfiguration"] == [{"stateMachineVersionArn": version_1, "weight": 100}]
    assert any(
        line.startswith(f"state: restored from {state_path(work)}") and "1 endpoint(s)" in line for line in lines
    )


def test_second_run_takes_the_update_path_promote_serves_it_in_prod_and_a_third_trains_nothing(first, work, raw):
    run = first.run
    # One more boosting round: a new definition and new training inputs, so this run trains.
    hyperparameters = {**local_config().values()["hyperparameters"], "num_round": 101}
    config = local_config(hyperparameters=hyperparameters)
    prod = promotion_target(config).replace(**LOCAL_OVERRIDES)
    lines: list[str] = []
    with local_emulator(config, work, out=lines.append) as session:
        second = run_and_save(session, config, raw=raw, promote_to=prod)
        # staging serves exactly the model this run trained, and its holdout RMSE is that model's.
        sagemaker, runtime = serving_clients(session.url)
        holdout = data.prepare(raw, config.data.validation_fraction, config.data.seed).validation
        own = model_predictions(Path(second.artifacts["model"]), holdout.iloc[:, 1:])
        served = np.array(predict(runtime, config.endpoint.name, holdout.iloc[:, 1:]))
        np.testing.assert_allclose(served, own, rtol=1e-6)
        labels = holdout.iloc[:, 0].to_numpy()
        assert second.holdout_rmse == pytest.approx(float(np.sqrt(np.mean((own - labels) ** 2))), rel=1e-5)
        assert second.holdout_rmse < labels.std()  # it learnt something: better than the mean
        # prod serves byte for byte what staging serves, and trained nothing.
        validation = holdout.iloc[:50, 1:]
        staging_says = predict(runtime, config.endpoint.name, validation)
        assert predict(runtime, prod.endpoint.name, validation) == staging_says
        jobs = [job["TrainingJobName"] for job in sagemaker.list_training_jobs()["TrainingJobSummaries"]]
        assert jobs and not [job for job in jobs if job.startswith(prod.endpoint.name)]
    # The restored state machine is updated (version 2), not created; the endpoint is updated.
    assert (second.deploy_action, second.endpoint_action) == ("updated", "update")
    assert any("deploy: alias live: version 1 -> version 2" in line for line in lines)
    assert any("exists, so this run takes the update path" in line for line in lines)
    # The rollback target is the first run's config, which the restore brought back.
    assert second.output["PreviousEndpoint"]["EndpointConfigName"] == run.output["EndpointConfigName"]
    assert second.output["EndpointConfigName"] != run.output["EndpointConfigName"]
    # The first run's version is the champion; the second is version 2 of the same group.
    assert second.gate["Champion"]["ModelPackageArn"] == run.model_package
    assert second.gate["Value"] <= second.gate["Champion"]["Bar"] == pytest.approx(run.gate["Value"] * 1.05)
    assert (second.model_package.rsplit("/", 1)[1], second.approval) == ("2", "Approved")
    told = summary(second)
    assert (
        f"quality gate: validation:rmse {second.gate['Value']} passed; absolute bar 900.0; champion version 1" in told
    )
    assert f"model package: {second.model_package} -> Approved" in told
    assert {"calls", "p50", "p95"} <= set(second.latency_ms)
    assert any(line.startswith("autoscaling unchanged: ") for line in lines)
    assert any(line.startswith("prune: keep") and "live: the endpoint serves it" in line for line in lines)
    assert any(line.startswith("prune: keep") and "rollback: the config execution" in line for line in lines)
    # --promote: version 2 of staging, Approved in prod after prod's smoke test; both lineages printed.
    promoted = second.promotion
    assert promoted.target == "prod" and promoted.promotion.source.arn == second.model_package
    assert any("prod refuses models trained on synthetic data" in line for line in lines)
    text = "\n".join(promoted.lineage)
    assert "[staging]" in text and "[prod]" in text
    assert "model-package/big-mart-prod/1 (version 1, Approved)" in text
    digests = [line.split(" sha256 ")[1] for line in promoted.lineage if " sha256 " in line]
    assert len(digests) == 2 and digests[0] == digests[1] == promoted.promotion.source.artifact_sha256
    assert (
        text.count("data: trained on SYNTHETIC data") == 2
        and text.count(f"training job {promoted.promotion.source.metadata['TrainingJob']} ") == 2
    )
    assert "promoted to prod: big-mart-staging version 2 -> " in told
    # Everything, prod included, is in the saved state, and comes back: prod serves the same again.
    assert second.saved is not None and second.saved.counts["model package version"] == 3
    assert (second.saved.counts["endpoint"], second.saved.counts["state machine"]) == (2, 2)
    assert second.saved.counts["state machine version"] == 3  # staging 1 and 2, prod 1
    # prod's own, and staging's: local mode turns autoscaling on for its run (pipeline.local_extras).
    assert (second.saved.counts["scalable target"], second.saved.counts["scaling policy"]) == (2, 2)
    with local_emulator(config, work, out=lines.append) as session:
        sagemaker, runtime = serving_clients(session.url)
        assert predict(runtime, prod.endpoint.name, validation) == staging_says
        aas = emulator_session(config.account.region).client("application-autoscaling", endpoint_url=session.url)
        targets = aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
        assert sorted(t["ResourceId"] for t in targets) == [
            f"endpoint/{prod.endpoint.name}/variant/AllTraffic",
            f"endpoint/{config.endpoint.name}/variant/AllTraffic",
        ]
        # A third run with the same inputs, on the restored state, trains nothing and starts nothing:
        # the endpoint already serves version 2 (H15R's reuse on H15L's persisted state).
        third = run_and_save(session, config, raw=raw)
        # Training jobs are not part of the state: any CreateTrainingJob of this run would be listed.
        assert sagemaker.list_training_jobs()["TrainingJobSummaries"] == []
        endpoint = sagemaker.describe_endpoint(EndpointName=config.endpoint.name)
        assert endpoint["EndpointConfigName"] == second.output["EndpointConfigName"]  # no UpdateEndpoint
    assert third.training == "training skipped: same inputs as version 2"
    assert (third.status, third.endpoint_action, third.model_package) == (
        "UNCHANGED",
        "unchanged",
        second.model_package,
    )
    assert third.deploy_action == "unchanged" and third.smoke_passed
    for kind in ("endpoint config", "model", "model package version"):
        assert third.saved.counts[kind] == second.saved.counts[kind], kind


def test_promote_needs_an_environment_that_promotes_from_the_run_s():
    with pytest.raises(UsageError, match="--promote: no environment of the configuration has promote_from = 'prod'"):
        promotion_target(local_config("prod"))


def test_fresh_starts_from_nothing_and_replaces_the_state(work):
    config = local_config()
    lines: list[str] = []
    old_bodies = set(os.listdir(work / "state" / "objects"))
    with local_emulator(config, work, fresh=True, out=lines.append) as session:
        sagemaker, _ = serving_clients(session.url)
        assert sagemaker.list_endpoints()["Endpoints"] == []
        assert sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"] == []
        saved = session.save()
    assert f"state: --fresh: starting from nothing; {state_path(work)} is replaced when this run ends" in lines
    assert saved is not None and saved.counts["endpoint"] == 0
    assert load(work, config) is not None
    # The old state's bodies are gone with it.
    assert not old_bodies & set(os.listdir(work / "state" / "objects"))


def corrupt_not_json(path: Path) -> str:
    path.write_text('{"format": ')
    return "is not valid JSON"


def corrupt_format(path: Path) -> str:
    path.write_text(json.dumps({"format": "something-else", "format_version": 1}))
    return f"is not a local emulator state (format 'something-else', expected '{FORMAT}')"


def corrupt_version(path: Path) -> str:
    document = json.loads(path.read_text())
    document["format_version"] = 99
    path.write_text(json.dumps(document))
    return "has format version 99; this version of the pipeline reads format version 1"


def corrupt_resources(path: Path) -> str:
    document = json.loads(path.read_text())
    del document["resources"]["sagemaker"]["endpoints"][0]["create"]
    path.write_text(json.dumps(document))
    return "is damaged: resources.sagemaker.endpoints[0]: missing create"


def corrupt_body(path: Path) -> str:
    document = json.loads(path.read_text())
    body = path.parent / "objects" / document["resources"]["s3"][0]["objects"][0]["blob"]
    body.write_bytes(b"changed")
    return f"names an object body {body} whose content changed"


def corrupt_unreplayable(path: Path) -> str:
    # Well-formed, but the replay fails (an endpoint on a config that does not exist).
    document = json.loads(path.read_text())
    document["resources"]["sagemaker"]["endpoints"][0]["create"]["EndpointConfigName"] = "no-such-config"
    path.write_text(json.dumps(document))
    return "could not be replayed (endpoint big-mart-staging:"


@pytest.mark.parametrize(
    "corrupt",
    [corrupt_not_json, corrupt_format, corrupt_version, corrupt_resources, corrupt_body, corrupt_unreplayable],
    ids=["not-json", "format", "format-version", "resources", "object-body", "unreplayable"],
)
def test_a_corrupt_state_is_refused_naming_the_file_and_fresh_and_left_unchanged(work, corrupt):
    path = state_path(work)
    expected = corrupt(path)
    before = path.read_bytes()
    with pytest.raises(UsageError) as refused, local_emulator(local_config(), work, out=lambda line: None):
        pytest.fail("the emulator must not be used with a corrupt state")
    message = str(refused.value)
    assert message.startswith(f"local state {path} {expected}"), message
    assert "start from nothing with --fresh" in message
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"region": "us-east-1"}, "belongs to region 'eu-west-1', not 'us-east-1' of this configuration"),
        (
            {"tags": {"project": "another-project", "environment": "staging"}},
            "belongs to project 'big-mart-pipeline', not 'another-project'",
        ),
        (
            {"workflow_role_arn": "arn:aws:iam::210987654321:role/big-mart-staging-workflow"},
            "belongs to account '123456789012', not '210987654321'",
        ),
    ],
    ids=["region", "project", "account"],
)
def test_a_foreign_state_is_refused_and_left_unchanged(work, overrides, expected):
    path = state_path(work)
    before = path.read_bytes()
    with pytest.raises(UsageError, match="start from nothing with --fresh") as refused:
        load(work, local_config(**overrides))
    assert expected in str(refused.value) and str(path) in str(refused.value)
    assert path.read_bytes() == before


def test_the_command_exits_2_on_a_corrupt_state(work, capsys, monkeypatch):
    path = state_path(work)
    path.write_text("not json")
    result = local_in_process(
        "--rows", "100", "--work-dir", str(work), cwd=work, capsys=capsys, monkeypatch=monkeypatch
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"local state {path} is not valid JSON" in result.stderr
    assert "--fresh" in result.stderr
    assert path.read_text() == "not json"


def test_a_crash_while_saving_leaves_the_previous_state(work, monkeypatch):
    config = local_config()
    path = state_path(work)
    before = path.read_bytes()
    loaded = load(work, config)
    assert loaded is not None
    new_body = b"a body only the interrupted save knew"

    def capture(services, blobs):
        resources = json.loads(json.dumps(loaded.resources))
        resources["s3"][0]["objects"].append({"put": {"Bucket": "b", "Key": "k"}, "blob": blobs.put(new_body)})
        return resources

    real_replace = os.replace

    def crash_on_the_state_file(source, target):
        if Path(target) == path:
            raise OSError("disk full")
        return real_replace(source, target)

    monkeypatch.setattr("pipeline.local_state.capture", capture)
    monkeypatch.setattr("pipeline.local_state.os.replace", crash_on_the_state_file)
    with pytest.raises(OSError, match="disk full"):
        save(work, config, services=None)  # type: ignore[arg-type]
    assert path.read_bytes() == before
    assert load(work, config) is not None  # every body it names is still there
    assert not [name for name in os.listdir(path.parent) if name.endswith(".tmp")]


def test_fresh_is_refused_while_this_folders_emulator_is_kept_running(work):
    with emulator(0, None, lambda line: None) as url:
        (work / KEPT_EMULATOR_FILE).write_text(url + "\n")
        refused = pytest.raises(UsageError, match=f"--fresh starts a new emulator from nothing, but {url} is running")
        with refused, local_emulator(local_config(), work, fresh=True, out=lambda line: None):
            pytest.fail("must not start")


def test_attach_to_another_emulator_neither_restores_nor_saves_but_the_folders_kept_one_saves(work):
    config = local_config()
    path = state_path(work)
    before = path.read_bytes()
    lines: list[str] = []
    with emulator(0, None, lambda line: None) as url:
        with local_emulator(config, work, attach=url, out=lines.append) as session:
            sagemaker, _ = serving_clients(url)
            assert sagemaker.list_endpoints()["Endpoints"] == []  # nothing was replayed into it
            assert session.save() is None
        assert f"state: {url} is not this work folder's emulator; its state is neither restored nor saved" in lines
        assert path.read_bytes() == before

        # The same emulator recorded as this folder's kept one: it holds the state, so it is saved.
        (work / KEPT_EMULATOR_FILE).write_text(url + "\n")
        with local_emulator(config, work, out=lines.append) as session:
            saved = session.save()
        assert f"state: {url} already holds this work folder's resources; nothing restored" in lines
        assert saved is not None and saved.counts["endpoint"] == 0 and path.read_bytes() != before
