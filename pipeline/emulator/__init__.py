"""Embedded AWS emulator: the project's state machine run offline on moto, with faults.

In-process: ``with Emulator() as emu: ...``; as a server: ``EmulatorServer().start()`` or
``python -m pipeline.emulator --port 0``. See docs/emulator.md.
"""

from pipeline.emulator.compat import MOTO_VERSION, check_moto_compatibility
from pipeline.emulator.control import EmulatorControl
from pipeline.emulator.emulator import Emulator
from pipeline.emulator.errors import (
    EmulatorError,
    FaultSpecError,
    ModelError,
    MotoIncompatibleError,
    TrainingFailed,
)
from pipeline.emulator.faults import (
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
from pipeline.emulator.hooks import ModelHost, Trainer
from pipeline.emulator.server import EmulatorServer
from pipeline.emulator.timings import Timings

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
