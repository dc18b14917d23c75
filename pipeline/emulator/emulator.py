"""The embedded AWS emulator, in-process: moto's mock plus the emulator's extensions."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

import boto3
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.config import DefaultConfig
from moto.sagemaker.models import sagemaker_backends

from pipeline.emulator import endpoints, patches
from pipeline.emulator import faults as fl
from pipeline.emulator import runtime as rt
from pipeline.emulator.errors import EmulatorError
from pipeline.emulator.hooks import ModelHost, Trainer
from pipeline.emulator.timings import Timings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from typing_extensions import Unpack

SFN_CONFIG: DefaultConfig = {"stepfunctions": {"execute_state_machine": True}}
FAKE_KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def fake_s3_client(region: str, endpoint_url: str | None = None) -> S3Client:
    """An S3 client with the emulator's placeholder credentials (the hooks' client)."""
    return boto3.client(
        "s3",
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id=FAKE_KEYS["aws_access_key_id"],
        aws_secret_access_key=FAKE_KEYS["aws_secret_access_key"],
    )


class HostOptions(TypedDict, total=False):
    """What both hosts of the emulator take: the model hooks, timings, an initial fault document,
    and the clock (seconds, monotonic: training and endpoint transitions, STS expiry) and sleep
    (injected delays) that tests replace with a pair that moves only when told."""

    trainer: Trainer | None
    model_host: ModelHost | None
    timings: Timings | None
    faults: fl.FaultFile | None
    clock: Callable[[], float]
    sleep: Callable[[float], None]


H = TypeVar("H", bound="Host")


class Host:
    """What both hosts (in-process and HTTP server) hold: the runtime, and the fault document
    applied when the host starts."""

    def __init__(self, **options: Unpack[HostOptions]):
        self._s3_clients: dict[str, S3Client] = {}
        self._s3_clients_lock = threading.Lock()
        self.runtime = rt.Runtime(
            s3_client_factory=self._shared_s3_client,
            timings=options.get("timings") or Timings(),
            trainer=options.get("trainer"),
            model_host=options.get("model_host"),
            clock=options.get("clock", time.monotonic),
            sleep=options.get("sleep", time.sleep),
        )
        self._initial = options.get("faults")

    def _shared_s3_client(self, region: str) -> S3Client:
        """One S3 client per region for the hooks, made on first use and kept while the host lives.

        The trainer, the model host and data capture (one put per sampled InvokeEndpoint) each
        ask for a client; building one reads botocore's S3 model and costs ~20 ms, more than the
        call it makes. botocore clients are thread-safe and these carry no per-call state (fixed
        placeholder keys), so one per region serves every thread.
        """
        with self._s3_clients_lock:
            client = self._s3_clients.get(region)
            if client is None:
                client = self._s3_clients[region] = self._s3_client(region)
            return client

    def _s3_client(self, region: str) -> S3Client:
        """A new S3 client the hooks use to reach this host's S3."""
        raise NotImplementedError

    def start(self: H) -> H:
        """Start the host and activate its runtime."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the host; its state is discarded."""
        raise NotImplementedError

    def _release(self) -> None:
        """The end of every stop: drop the hooks' kept clients (a restarted server listens on a
        new port) and deactivate the runtime."""
        with self._s3_clients_lock:
            self._s3_clients.clear()
        rt.deactivate(self.runtime)

    def __enter__(self: H) -> H:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Emulator(Host):
    """SageMaker + Step Functions (+ S3, IAM, ...) emulated in this process.

    Use as a context manager (or ``start()``/``stop()``); boto3 clients created while it runs
    reach it without an endpoint URL. Tests inject a clock and sleep pair that moves only when
    told, to live hours in a second and measure exact latencies however loaded the machine is.
    """

    _mock: Any = None

    # -- life cycle -------------------------------------------------------------------------
    def _s3_client(self, region: str) -> S3Client:
        return fake_s3_client(region)

    def start(self) -> Emulator:
        """Check moto, patch it, start the mock and activate this emulator."""
        patches.install()
        rt.activate(self.runtime)
        try:
            self._mock = mock_aws(config=SFN_CONFIG)
            self._mock.start()
        except BaseException:
            rt.deactivate(self.runtime)
            raise
        if self._initial is not None:
            self.apply(self._initial)
        return self

    def stop(self) -> None:
        """Stop the mock (its state is discarded) after aborting executions and trainers."""
        rt.stop_running_executions()
        self.runtime.join_threads()
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        self._release()

    # -- settings and faults ----------------------------------------------------------------
    @property
    def faults(self) -> fl.FaultPlan:
        """The active fault plan (``add``, ``clear``, ``list``)."""
        return self.runtime.faults

    @property
    def timings(self) -> Timings:
        """Durations and time scale in force."""
        return self.runtime.timings

    @timings.setter
    def timings(self, value: Timings) -> None:
        self.runtime.timings = value

    def apply(self, document: fl.FaultFile) -> None:
        """Apply a fault document: its timings, faults and endpoint states."""
        apply_fault_file(self.runtime, document)

    def fail_call(
        self,
        operation: str,
        code: str,
        message: str = "Injected fault",
        *,
        status: int = 400,
        calls: list[int] | None = None,
    ) -> fl.CallError:
        """Make calls of ``service:Action`` (e.g. ``sagemaker:CreateTrainingJob``) fail."""
        return self.faults.add(
            fl.CallError(operation=operation, code=code, message=message, status=status, calls=fl._check_calls(calls))
        )

    def delay_call(self, operation: str, seconds: float, *, calls: list[int] | None = None) -> fl.CallDelay:
        """Make calls of ``service:Action`` take ``seconds`` longer."""
        return self.faults.add(fl.CallDelay(operation=operation, seconds=seconds, calls=fl._check_calls(calls)))

    def fail_training(
        self, reason: str, *, job: str = "*", status: str = "Failed", calls: list[int] | None = None
    ) -> fl.TrainingFailure:
        """Make matching training jobs end Failed (or Stopped) with ``reason``."""
        return self.faults.add(fl.TrainingFailure(reason=reason, job=job, status=status, calls=fl._check_calls(calls)))

    def fail_endpoint_creation(
        self, reason: str, *, endpoint: str = "*", calls: list[int] | None = None
    ) -> fl.EndpointCreateFailure:
        """Make matching endpoints go Creating -> Failed with ``reason``."""
        return self.faults.add(fl.EndpointCreateFailure(reason=reason, endpoint=endpoint, calls=fl._check_calls(calls)))

    def roll_back_update(
        self, reason: str = "", *, endpoint: str = "*", final_status: str = "InService", calls: list[int] | None = None
    ) -> fl.UpdateRollback:
        """Make updates of matching endpoints roll back to the old config."""
        return self.faults.add(
            fl.UpdateRollback(reason=reason, endpoint=endpoint, final_status=final_status, calls=fl._check_calls(calls))
        )

    def misbehave_on_invoke(
        self,
        behaviour: str,
        *,
        endpoint: str = "*",
        status: int = 500,
        seconds: float = 0.0,
        calls: list[int] | None = None,
    ) -> fl.InvokeFault:
        """Make InvokeEndpoint misbehave: garbage, nan, wrong_count, error, latency."""
        return self.faults.add(
            fl.InvokeFault(
                behaviour=behaviour, endpoint=endpoint, status=status, seconds=seconds, calls=fl._check_calls(calls)
            )
        )

    def set_endpoint_status(self, endpoint: str, status: str, reason: str = "") -> None:
        """Put an existing endpoint (any region) into ``status``, e.g. Failed."""
        set_endpoint_state(fl.EndpointState(endpoint=endpoint, status=status, reason=reason))


def set_endpoint_state(state: fl.EndpointState) -> None:
    """Apply one EndpointState to every account/region holding that endpoint."""
    found = False
    for account_id in list(sagemaker_backends.keys()) or [DEFAULT_ACCOUNT_ID]:
        for _region, backend in list(sagemaker_backends[account_id].items()):
            if state.endpoint in backend.endpoints:
                endpoints.set_status(backend, state.endpoint, state.status, state.reason)
                found = True
    if not found:
        raise EmulatorError(f"no endpoint named {state.endpoint!r} exists in the emulator")


def apply_fault_file(runtime: rt.Runtime, document: fl.FaultFile) -> None:
    """Timings replace the current ones; faults are added; endpoint states are applied."""
    if document.timings is not None:
        runtime.timings = document.timings
    for fault in document.faults:
        runtime.faults.add(fault)
    for state in document.endpoint_states:
        set_endpoint_state(state)
