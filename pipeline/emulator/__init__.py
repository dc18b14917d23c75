"""Embedded AWS emulator: the project's state machine run offline on moto, with faults.

In-process: ``with Emulator() as emu: ...``; as a server: ``EmulatorServer().start()`` or
``python -m pipeline.emulator --port 0``. See docs/emulator.md.
"""

from pipeline.emulator.lazy_moto import defer_package

# Before anything imports moto's Step Functions engine, which imports moto.batch (and so EC2).
defer_package("moto.batch")

from pipeline.emulator.compat import MOTO_VERSION, check_moto_compatibility  # noqa: E402
from pipeline.emulator.control import EmulatorControl  # noqa: E402
from pipeline.emulator.emulator import Emulator  # noqa: E402
from pipeline.emulator.errors import (  # noqa: E402
    EmulatorError,
    FaultSpecError,
    ModelError,
    MotoIncompatibleError,
    TrainingFailed,
)
from pipeline.emulator.faults import (  # noqa: E402
    CallDelay,
    CallError,
    EndpointCreateFailure,
    EndpointState,
    FaultFile,
    FaultPlan,
    InvokeFault,
    TrainingFailure,
    TrainingLog,
    UpdateRollback,
)
from pipeline.emulator.hooks import ModelHost, Trainer  # noqa: E402
from pipeline.emulator.server import EmulatorServer  # noqa: E402
from pipeline.emulator.timings import Timings  # noqa: E402

__all__ = [
    "MOTO_VERSION",
    "CallDelay",
    "CallError",
    "Emulator",
    "EmulatorControl",
    "EmulatorError",
    "EmulatorServer",
    "EndpointCreateFailure",
    "EndpointState",
    "FaultFile",
    "FaultPlan",
    "FaultSpecError",
    "InvokeFault",
    "ModelError",
    "ModelHost",
    "MotoIncompatibleError",
    "Timings",
    "Trainer",
    "TrainingFailed",
    "TrainingFailure",
    "TrainingLog",
    "UpdateRollback",
    "check_moto_compatibility",
]
