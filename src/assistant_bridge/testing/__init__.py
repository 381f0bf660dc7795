"""Test doubles for code that uses assistant_bridge: no network, no sleeping.

* :class:`FakeTransport` wraps a plain function, as ``httpx.MockTransport`` does: every
  transport operation becomes a :class:`Call` handed to it, and its return value is the answer.
  :class:`StreamingFakeTransport` can also stream, and :class:`AsyncFakeTransport` is the
  async twin of either, for async and streaming code without HTTP.
* :class:`ScriptedBackend` is a ready handler that keeps threads, messages and runs in memory
  and walks each run through a :class:`RunScript` of statuses, one step per poll, with the
  Assistants API's rules (one active run per thread, cancel through ``cancelling``).
* :class:`FakeClock` gives a session a clock and a sleep that only move a number.
* :class:`Emulator` serves an emulated Assistants API on loopback for the real ``openai``
  client, with scripted behaviours (:class:`SayText`, :class:`SayJson`, :class:`RequestTools`,
  :class:`FailRun`, :class:`ExpireRun`, :class:`EndIncomplete`, :class:`StayInProgress`, and
  the default :class:`Triage`) and fault injection (:class:`Fault`). Its pytest fixture is
  ``assistant_emulator``; :class:`RateLimit` makes it limit each key as the service does.
* :func:`vcr_config` gives vcrpy settings that keep API keys out of recorded cassettes.

Example::

    backend = ScriptedBackend(RunScript(reply='{"action": "escalate"}'))
    clock = FakeClock()
    session = ThreadSession(FakeTransport(backend), "asst_test", parser=JsonParser(),
                            clock=clock.now, sleep=clock.sleep)
    assert session.ask("CPU at 100%").parsed == {"action": "escalate"}
"""

from __future__ import annotations

from assistant_bridge.testing._cassettes import vcr_config
from assistant_bridge.testing._emulator.behaviours import (
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
from assistant_bridge.testing._emulator.faults import Fault, FaultEvent
from assistant_bridge.testing._emulator.ratelimits import RateLimit
from assistant_bridge.testing._emulator_kit import Emulator
from assistant_bridge.testing._fakes import (
    AsyncFakeTransport,
    Call,
    FakeClock,
    FakeTransport,
    RunScript,
    ScriptedBackend,
    StreamingFakeTransport,
)

__all__ = [
    "AsyncFakeTransport",
    "Behaviour",
    "Call",
    "Emulator",
    "EndIncomplete",
    "ExpireRun",
    "FailRun",
    "FakeClock",
    "FakeTransport",
    "Fault",
    "FaultEvent",
    "KnowledgeFile",
    "Outcome",
    "RateLimit",
    "RequestTools",
    "RunContext",
    "RunScript",
    "SayJson",
    "SayText",
    "ScriptedBackend",
    "StayInProgress",
    "StreamingFakeTransport",
    "Triage",
    "vcr_config",
]
