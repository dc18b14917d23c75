"""A run followed for hours on short STS sessions: credentials renew themselves (finding: a
training job over ~45 min used to end the deploy job with ExpiredToken).

The emulator's STS sessions expire by an injected clock; so do botocore's renewal decisions and
the emulated training job, so three hours pass in about a second.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from pipeline import aws
from pipeline.config import PipelineConfig
from pipeline.deploy import deploy_state_machine
from pipeline.emulator import Emulator, Timings
from pipeline.follow import follow_execution
from pipeline.provenance import lineage_input
from pipeline.run import start_execution
from pipeline.storage import CHANNEL_FILES
from tests.conftest import REGION
from tests.deploy.conftest import COMMIT, TIME_SCALE
from tests.rehearsal.token_server import FakeTokenServer

pytestmark = pytest.mark.deploy

DEPLOY_ROLE = "arn:aws:iam::123456789012:role/big-mart-staging-deploy"
SESSION_SECONDS = 15 * 60
TRAINING_SECONDS = 3 * 60 * 60


class FakeClock:
    """Seconds since the test began, moved only by ``sleep``; ``now`` is the matching UTC time."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.start = datetime.datetime.now(datetime.timezone.utc)

    def monotonic(self) -> float:
        return self.seconds

    def now(self) -> datetime.datetime:
        return self.start + datetime.timedelta(seconds=self.seconds)

    def sleep(self, seconds: float) -> None:
        self.seconds += seconds
        time.sleep(0.001)  # let the emulator's execution thread move on


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def slow_training(clock: FakeClock) -> Iterator[Emulator]:
    """An emulator whose training jobs take three hours by ``clock``."""
    timings = Timings(time_scale=TIME_SCALE, training_seconds=TRAINING_SECONDS)
    with Emulator(timings=timings, clock=clock.monotonic) as emu:
        # The job's UTC clock is the emulated STS's, 1 s ahead. Taken from two real clocks, the
        # two would differ by however long the machine took between the fixtures: a job clock
        # behind STS's by any amount sees a session 5 min from its end only at its end, and
        # renews every 15 min instead of every 10 (a loaded machine failed the count so).
        clock.start = emu.runtime.utcnow().replace(tzinfo=datetime.timezone.utc) + datetime.timedelta(seconds=1)
        yield emu


@pytest.fixture
def tokens(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTokenServer]:
    """A GitHub Actions job with ``id-token: write``, its OIDC endpoint on 127.0.0.1."""
    with FakeTokenServer(claims={"sub": "repo:example-org/big-mart:environment:staging"}) as server:
        monkeypatch.setenv("GITHUB_ACTIONS", "true")
        monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", server.url)
        monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", server.request_token)
        yield server


def deployed_pipeline(config: PipelineConfig) -> str:
    """The real definition deployed with setup credentials, training data in S3; the alias ARN."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=config.account.bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    for name in CHANNEL_FILES.values():
        s3.put_object(Bucket=config.account.bucket, Key=f"{config.account.prefix}/data/{name}", Body=b"1.0,2.0\n")
    sfn = boto3.client("stepfunctions", region_name=REGION)
    return deploy_state_machine(config, sfn, commit_sha=COMMIT, out=lambda _: None).alias_arn


def start(config: PipelineConfig, sfn: Any, alias: str) -> str:
    lineage = lineage_input(boto3.client("s3", region_name=REGION), config, COMMIT)
    return start_execution(
        config, sfn, run_id="long-run", target_arn=alias, name="long-run", lineage=lineage, out=lambda _: None
    )


def test_a_three_hour_follow_on_15_minute_sessions_renews_them_and_succeeds(
    config: PipelineConfig, slow_training: Emulator, tokens: FakeTokenServer, clock: FakeClock
) -> None:
    alias = deployed_pipeline(config)
    options = aws.AwsOptions(role_arn=DEPLOY_ROLE, region=REGION, duration_seconds=SESSION_SECONDS)
    session = aws.get_session(options, now=clock.now)
    first_key = session.get_credentials().get_frozen_credentials().access_key
    sfn = aws.client(session, "stepfunctions")

    arn = start(config, sfn, alias)
    result = follow_execution(
        sfn,
        arn,
        # Past the training job, the execution's last states take real time while each poll
        # moves the fake clock 5 min: a generous limit keeps a loaded machine from timing out.
        timeout_seconds=48 * 3600,
        out=lambda _: None,
        poll_seconds=300,
        max_poll_seconds=300,
        clock=clock.monotonic,
        sleep=clock.sleep,
    )

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert clock.seconds >= TRAINING_SECONDS
    # A session is renewed 5 min before its 15 min end: one new OIDC token per 10 min followed.
    # botocore's default 15-minute window would renew these on every call instead.
    renewals = len(tokens.requests) - 1
    assert TRAINING_SECONDS // 600 - 1 <= renewals <= clock.seconds // 600 + 1
    assert all(request.status == 200 for request in tokens.requests)
    assert session.get_credentials().get_frozen_credentials().access_key != first_key


def test_credentials_that_are_not_renewed_expire_on_the_emulator(
    config: PipelineConfig, slow_training: Emulator, tokens: FakeTokenServer, clock: FakeClock
) -> None:
    alias = deployed_pipeline(config)
    token = aws.fetch_oidc_token(tokens.url, tokens.request_token)
    credentials = aws.assume_role_with_web_identity(
        boto3.client("sts", region_name=REGION),
        role_arn=DEPLOY_ROLE,
        token=token,
        session_name="static",
        duration_seconds=SESSION_SECONDS,
    )
    sfn = aws.client(boto3.Session(region_name=REGION), "stepfunctions", credentials=credentials, max_attempts=1)
    arn = start(config, sfn, alias)
    clock.sleep(SESSION_SECONDS - 1)
    sfn.describe_execution(executionArn=arn)  # still valid one second before the end

    clock.sleep(1)
    with pytest.raises(ClientError) as raised:
        sfn.describe_execution(executionArn=arn)

    assert raised.value.response["Error"]["Code"] == "ExpiredTokenException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
