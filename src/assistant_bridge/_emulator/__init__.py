"""A loopback emulator of the OpenAI Assistants API (see :class:`Emulator`)."""

from .behaviours import (
    Behaviour,
    EndIncomplete,
    ExpireRun,
    FailRun,
    KnowledgeFile,
    Outcome,
    RequestTools,
    RunContext,
    SayJson,
    SayText,
    StayInProgress,
    Triage,
)
from .faults import Fault, FaultEvent
from .server import Emulator

__all__ = [
    "Behaviour",
    "Emulator",
    "EndIncomplete",
    "ExpireRun",
    "FailRun",
    "Fault",
    "FaultEvent",
    "KnowledgeFile",
    "Outcome",
    "RequestTools",
    "RunContext",
    "SayJson",
    "SayText",
    "StayInProgress",
    "Triage",
]
