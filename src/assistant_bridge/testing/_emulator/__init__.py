"""A loopback emulator of the OpenAI Assistants API (see :class:`EmulatorServer`).

A server: it imports neither ``openai`` nor the transports (the layer test checks)."""

from .app import Exchange
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
from .server import EmulatorServer

__all__ = [
    "Behaviour",
    "EmulatorServer",
    "EndIncomplete",
    "Exchange",
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
