"""The fault matrix: every fault the emulator offers, at every phase of an ask, on both wires,
for the sync and the async session.

Used by tests/test_fault_matrix.py (which asserts the invariants) and by
scripts/write_reliability_doc.py (which prints the table into docs/reliability.md).
Each case must end in a reply or a typed error within its deadline (timeout + cancel grace +
a margin), with no duplicate message or run and no run left active.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Any

import attrs

from assistant_bridge import (
    AssistantSpec,
    AsyncOpenAITransport,
    AsyncResponsesTransport,
    AsyncThreadSession,
    FixedInterval,
    OpenAITransport,
    ResponsesTransport,
    RetryPolicy,
    ThreadSession,
    ToolOutput,
)
from assistant_bridge.exceptions import AssistantBridgeError, RunError
from assistant_bridge.testing import (
    Behaviour,
    Emulator,
    EndIncomplete,
    ExpireRun,
    FailRun,
    Fault,
    RequestTools,
    SayText,
    StayInProgress,
)

from .hostile_proxy import HostileProxy, Misbehave
from .key_graph import key_paths

SPEC = AssistantSpec(name="matrix", model="gpt-4o-mini")
CANARY_KEY = "sk-proj-matrixcanary5e2b4d6f8a0c1e3b"
"""The emulator's key in the hostile cells: no error may hold it anywhere."""
TIMEOUT = 3.0
SHORT_TIMEOUT = 1.0
"""The deadline of the cases that must run into it (a hanging request, a cancel)."""
CANCEL_GRACE = 1.0
MARGIN = 2.0
MODES = ("sync", "async")
RETRY = RetryPolicy(max_attempts=3, initial=0.02, cap=0.1)


@attrs.frozen
class Phase:
    """Where in an ask a fault strikes: the route, and how the ask is made."""

    name: str
    route: dict[str, str | None]
    follow_up: bool = False
    wait: str = "poll"
    tools: bool = False
    nth: dict[str, int | None] = attrs.Factory(dict)
    stay: bool = False
    """The run never finishes, so the ask runs into its deadline and must cancel."""


PHASES = [
    Phase(
        "thread",
        {"assistants": "threads.create_and_run", "responses": "conversations.create"},
        wait="poll",
    ),
    Phase(
        "run start (with its message)",
        {"assistants": "runs.create", "responses": "responses.create"},
        follow_up=True,
    ),
    Phase("polling", {"assistants": "runs.retrieve", "responses": "responses.retrieve"}),
    Phase(
        "tool output submission",
        {"assistants": "runs.submit_tool_outputs", "responses": "responses.create"},
        tools=True,
        nth={"responses": 2},
    ),
    Phase("message listing", {"assistants": "messages.list", "responses": None}),
    Phase(
        "stream",
        {"assistants": "threads.create_and_run", "responses": "responses.create"},
        wait="stream",
    ),
    Phase("cancel", {"assistants": "runs.cancel", "responses": "responses.cancel"}, stay=True),
]
HANG = "request hangs past the deadline"

HTTP_FAULTS: list[tuple[str, Fault]] = [
    ("429 Retry-After", Fault.http(429, retry_after=0.05)),
    ("500", Fault.http(500)),
    ("502", Fault.http(502)),
    ("503", Fault.http(503)),
    ("reset before commit", Fault.reset_before()),
    ("reset after commit", Fault.reset_after()),
    ("slow answer (0.3 s)", Fault.slow(0.3)),
    (HANG, Fault.slow(30)),
]
STREAM_FAULTS: list[tuple[str, Fault]] = [
    ("stream cut", Fault.stream_cut(after_events=3)),
    ("stream error event", Fault.stream_error(after_events=3)),
]
RUN_OUTCOMES: list[tuple[str, Behaviour]] = [
    ("run failed: server_error", FailRun("server_error", "Sorry.")),
    ("run failed: rate_limit_exceeded", FailRun("rate_limit_exceeded", "Slow down.")),
    ("run expired", ExpireRun()),
    ("run incomplete", EndIncomplete("max_output_tokens", "partial")),
    ("requires_action, no handler", RequestTools([("lookup", {})])),
    ("active run on the thread", SayText("answer")),
]


@attrs.frozen
class Cell:
    """One case and what came of it."""

    api: str
    mode: str
    phase: str
    fault: str
    outcome: str
    seconds: float
    problems: tuple[str, ...]


def _tools(calls: Sequence[Any]) -> list[ToolOutput]:
    return [ToolOutput(c.id, "42") for c in calls]


class _Loop:
    """An event loop on a thread of its own, so a case reads the same sync or async."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, work: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class _Asker:
    """Asks on a sync or an async session, and closes what it opened."""

    def __init__(self, emu: Emulator, api: str, mode: str, wait: str, **kwargs: Any) -> None:
        options: dict[str, Any] = {
            "assistant": SPEC,
            "poll_policy": FixedInterval(0.02),
            "retry": RETRY,
            "timeout": TIMEOUT,
            "cancel_grace": CANCEL_GRACE,
            "wait": wait,
            **kwargs,
        }
        self._loop: _Loop | None = None
        if mode == "async":
            self._loop = _Loop()
            kind = AsyncOpenAITransport if api == "assistants" else AsyncResponsesTransport
            self._transport: Any = kind(emu.api_key or "sk-any", base_url=emu.base_url)
            self.session: Any = AsyncThreadSession(self._transport, **options)
        else:
            self._transport = emu.transport(api)
            self.session = ThreadSession(self._transport, **options)

    def ask(self, prompt: str, **options: Any) -> Any:
        if self._loop is None:
            return self.session.ask(prompt, **options)
        return self._loop.run(self.session.ask(prompt, **options))

    def close(self) -> None:
        if self._loop is None:
            self._transport.close()
            return
        self._loop.run(self._transport.aclose())
        self._loop.close()


#: Every error and reply the cases produced, for tests that inspect them (secrets).
SEEN: list[object] = []


def _outcome(ask: Callable[[], Any]) -> tuple[str, float]:
    began = time.monotonic()
    try:
        reply = ask()
    except AssistantBridgeError as exc:
        SEEN.append(exc)
        return type(exc).__name__, time.monotonic() - began
    except Exception as exc:  # an untyped error is a failure of the case
        return f"UNTYPED {type(exc).__name__}: {exc}", time.monotonic() - began
    SEEN.append(reply)
    return ("reply" if reply.text else "empty reply"), time.monotonic() - began


def _check(
    emu: Emulator, asks: int, seconds: float, outcome: str, timeout: float
) -> tuple[str, ...]:
    problems = []
    if outcome.startswith("UNTYPED") or outcome == "empty reply":
        problems.append(outcome)
    if seconds > timeout + CANCEL_GRACE + MARGIN:
        problems.append(f"took {seconds:.1f}s, past the deadline")
    deadline = time.monotonic() + 1.0
    while emu.active_runs() and time.monotonic() < deadline:
        time.sleep(0.02)
    if emu.active_runs():
        problems.append(f"runs left active: {emu.active_runs()}")
    runs = len(emu.store.runs) + len(
        [
            r
            for r in emu.app.responses.values()
            if not any(i.get("type") == "function_call_output" for i in r.body.get("input") or [])
        ]
    )
    if runs > asks:
        problems.append(f"{runs} runs for {asks} asks")
    for thread in list(emu.store.threads) + list(emu.app.conversations):
        users = [t for role, t, _ in emu.thread_messages(thread) if role == "user"]
        if len(users) != len(set(users)):
            problems.append(f"duplicate message on {thread}")
    return tuple(problems)


def run_case(
    api: str,
    phase: Phase | None,
    fault_name: str,
    fault: Fault | None,
    behaviour: Behaviour | None = None,
    api_key: str = "sk-emulator",
    mode: str = "sync",
) -> Cell:
    """Run one case in a fresh emulator (which accepts only ``api_key``)."""
    with Emulator(cancel_delay=0.01, api_key=api_key) as emu:
        asks = 0
        wait = phase.wait if phase else "poll"
        kwargs: dict[str, Any] = {"tool_handler": _tools} if phase and phase.tools else {}
        short = fault_name == HANG or (phase is not None and phase.stay)
        timeout = SHORT_TIMEOUT if short else TIMEOUT
        asker = _Asker(emu, api, mode, wait, timeout=timeout, **kwargs)
        session = asker.session
        opened: list[Any] = []
        if phase is not None and phase.follow_up:
            asker.ask("first question")
            asks += 1
        if behaviour is not None and fault_name == "active run on the thread":
            asker.ask("first question")
            asks += 1
            other = emu.transport(api)
            opened.append(other)
            from assistant_bridge import RunRequest

            emu.script(SayText("theirs", delay=0.5), times=1)
            other.start_run(
                session.thread_id,
                RunRequest(
                    assistant=SPEC,  # type: ignore[arg-type]
                    assistant_id=session.assistant_id,
                ),
                content="other worker",
            )
            asks += 1
            emu.script(SayText("answer"))
        elif behaviour is not None:
            emu.script(behaviour)
        elif phase is not None and phase.tools:
            emu.script(RequestTools([("lookup", {})], then=lambda o: f"got {o[0]}"))
        elif phase is not None and phase.stay:
            emu.script(StayInProgress())
        else:
            emu.script(SayText("answer to the question", delay=0.05))
        route = phase.route[api] if phase else None
        if fault is not None and route is not None:
            nth = phase.nth.get(api) if phase else None
            emu.inject(fault, route, nth=nth)
        outcome, seconds = _outcome(lambda: asker.ask("the question"))
        asks += 1
        problems = _check(emu, asks, seconds, outcome, timeout)
        asker.close()
        for transport in opened:
            transport.close()
        return Cell(
            api,
            mode,
            phase.name if phase else "run",
            fault_name,
            outcome,
            seconds,
            problems,
        )


Case = tuple[str, Phase | None, str, Fault | None, Behaviour | None]


def cases() -> list[Case]:
    """Every (api, phase, fault) case of the matrix (each runs in both modes)."""
    out: list[Case] = []
    for api in ("assistants", "responses"):
        for phase in PHASES:
            if phase.route[api] is None:
                continue
            faults = HTTP_FAULTS + (STREAM_FAULTS if phase.wait == "stream" else [])
            out += [(api, phase, name, fault, None) for name, fault in faults]
        out += [(api, None, name, None, behaviour) for name, behaviour in RUN_OUTCOMES]
    return out


def case_id(case: Case) -> str:
    api, phase, name, _, _ = case
    return f"{api}/{phase.name if phase else 'run'}/{name}"


# -- a hostile server (issue 20) -------------------------------------------------------------
# The emulator behind tests/hostile_proxy.py, which lets the run start and then misbehaves on
# one operation of the ask. Short deadlines: every cell must end within HOSTILE_TIMEOUT +
# HOSTILE_GRACE + HOSTILE_MARGIN, typed, with no run left active and no key in the error.

HOSTILE_TIMEOUT = 1.0
HOSTILE_GRACE = 0.5
HOSTILE_MARGIN = 0.5
OPERATIONS = ("create", "poll", "stream", "cancel", "submit")

#: Each hostile case: how the proxy misbehaves, and whether it is a fault of a stream.
HOSTILE: dict[str, tuple[Misbehave, bool]] = {
    "trickled body": (Misbehave("trickle", "", ""), False),
    "trickled stream": (Misbehave("trickle", "", ""), True),
    "silent stream (pings)": (Misbehave("silent", "", ""), True),
    "silent stream (headers only)": (Misbehave("silent", "", "", pings=False), True),
    "silent stream (after 2 events)": (Misbehave("silent", "", "", after_events=2), True),
    "non-JSON 200 (HTML)": (Misbehave("html", "", ""), False),
    "non-JSON 200 (cut short)": (Misbehave("cut", "", ""), False),
    "mid-event end": (Misbehave("mid_event", "", "", after_events=2), True),
    "wrong object": (Misbehave("wrong_object", "", ""), False),
    "conversation locked": (Misbehave("locked", "", ""), False),
}

_RUN = r"/v1/threads/[^/]+/runs/[^/]+"
_ROUTES: dict[str, dict[str, tuple[str, str, int]]] = {
    "assistants": {
        "create": ("POST", r"/v1/threads/[^/]+/runs", 1),
        "poll": ("GET", _RUN, 1),
        "stream": ("POST", r"/v1/threads/[^/]+/runs", 1),
        "cancel": ("POST", _RUN + "/cancel", 1),
        "submit": ("POST", _RUN + "/submit_tool_outputs", 1),
    },
    "responses": {
        "create": ("POST", r"/v1/responses", 1),
        "poll": ("GET", r"/v1/responses/[^/]+", 1),
        "stream": ("POST", r"/v1/responses", 1),
        "cancel": ("POST", r"/v1/responses/[^/]+/cancel", 1),
        "submit": ("POST", r"/v1/responses", 2),
    },
}


def not_applicable(case: str, operation: str, api: str) -> str | None:
    """Why a hostile cell cannot occur, or None when it can."""
    rule, streamed = HOSTILE[case]
    if case == "conversation locked":
        if api == "assistants":
            return (
                "the Assistants API has no conversation lock; its active-run 400 is the "
                "'active run on the thread' case"
            )
        if operation in ("poll", "cancel"):
            return "reading or cancelling a response starts none, so nothing is locked against it"
        return None
    if streamed and operation in ("create", "poll", "cancel"):
        return "this operation's answer is not a stream"
    if operation == "stream" and not streamed:
        if rule.kind == "trickle":
            return "a stream that trickles is the 'trickled stream' case"
        if rule.kind == "cut":
            return "a stream cut short is the 'mid-event end' case"
        if rule.kind == "wrong_object":
            return "a JSON object where a stream belongs is not a stream: as 'non-JSON 200 (HTML)'"
    return None


HostileCase = tuple[str, str, str]


def hostile_cases() -> list[HostileCase]:
    """Every (api, operation, case) of the hostile matrix, n/a cells included."""
    return [
        (api, operation, case)
        for api in ("assistants", "responses")
        for operation in OPERATIONS
        for case in HOSTILE
    ]


def hostile_id(case: HostileCase) -> str:
    return "/".join(case)


@attrs.frozen
class HostileCell:
    """One hostile cell and what came of it (``na``: why it cannot occur)."""

    api: str
    mode: str
    operation: str
    case: str
    outcome: str = ""
    seconds: float = 0.0
    overshoot: float = 0.0
    problems: tuple[str, ...] = ()
    na: str | None = None
    ids: str = ""
    unreachable: int = 0
    """Responses left running where no id ever arrived (documented: nothing can find them)."""
    detail: str = ""
    """The error's message, for a reader of a failing cell."""


def _hostile_asker(emu: Emulator, proxy_url: str, api: str, mode: str, **options: Any) -> _Asker:
    asker = _Asker.__new__(_Asker)
    asker._loop = None
    key = emu.api_key or "sk-any"
    if mode == "async":
        asker._loop = _Loop()
        kind: Any = AsyncOpenAITransport if api == "assistants" else AsyncResponsesTransport
        asker._transport = kind(key, base_url=proxy_url)
        asker.session = AsyncThreadSession(asker._transport, **options)
    else:
        kind = OpenAITransport if api == "assistants" else ResponsesTransport
        asker._transport = kind(key, base_url=proxy_url)
        asker.session = ThreadSession(asker._transport, **options)
    return asker


def run_hostile(
    api: str, operation: str, case: str, mode: str = "sync", api_key: str = CANARY_KEY
) -> HostileCell:
    """Run one hostile cell in a fresh emulator behind a fresh proxy."""
    why = not_applicable(case, operation, api)
    if why is not None:
        return HostileCell(api, mode, operation, case, na=why)
    shape, streamed = HOSTILE[case]
    method, path, nth = _ROUTES[api][operation]
    rule = attrs.evolve(shape, method=method, path=path, nth=nth)
    tools = operation == "submit"
    wait = "stream" if operation == "stream" or (tools and streamed) else "poll"
    with Emulator(cancel_delay=0.01, api_key=api_key) as emu, HostileProxy(emu.base_url) as proxy:
        options: dict[str, Any] = {
            "assistant": SPEC,
            "poll_policy": FixedInterval(0.02),
            "retry": RETRY,
            "timeout": HOSTILE_TIMEOUT,
            "cancel_grace": HOSTILE_GRACE,
            "wait": wait,
        }
        if tools:
            options["tool_handler"] = _tools
        asker = _hostile_asker(emu, proxy.base_url, api, mode, **options)
        try:
            emu.script(SayText("first answer"), times=1)
            # The thread exists: a lost start can be looked up. Not the case under test, so it
            # gets time enough on a loaded machine.
            asker.ask("first question", timeout=30)
            if tools:
                emu.script(RequestTools([("lookup", {})], then=lambda o: f"got {o[0]}"))
            else:
                emu.script(StayInProgress())
            thread_id = asker.session.thread_id
            before = set(emu.runs_of(thread_id))
            proxy.rules.append(rule)
            outcome, seconds, error = _hostile_outcome(lambda: asker.ask("the question"))
            started = [r for r in emu.runs_of(thread_id) if r not in before]
            documented = error is not None and _no_id(api, operation, case, error)
            problems = list(_hostile_problems(emu, outcome, seconds, error, api_key))
            left = [p for p in problems if p.startswith("runs left active")]
            if documented:
                problems = [p for p in problems if p not in left]
            if not proxy.fired:
                problems.append("the proxy never misbehaved")
            if error is not None and started:
                problems += _missing_ids(api, operation, case, error, thread_id)
            # One run per ask (on Responses the tool outputs start a second response).
            allowed = 2 if tools and api == "responses" else 1
            if len(started) > allowed:
                problems.append(f"{len(started)} runs started for one ask")
        finally:
            asker.close()
        ids = ""
        if error is not None:
            named = [n for n in ("thread_id", "run_id") if getattr(error, n, None) is not None]
            confirmed = getattr(error, "cancel_confirmed", None)
            ids = f"{'+'.join(named) or 'no ids'}, cancel_confirmed={confirmed}"
        return HostileCell(
            api,
            mode,
            operation,
            case,
            outcome,
            seconds,
            seconds - (HOSTILE_TIMEOUT + HOSTILE_GRACE),
            tuple(problems),
            ids=ids,
            unreachable=len(left) if documented else 0,
            detail="" if error is None else str(error)[:400],
        )


def _hostile_outcome(ask: Callable[[], Any]) -> tuple[str, float, BaseException | None]:
    began = time.monotonic()
    try:
        reply = ask()
    except AssistantBridgeError as exc:
        SEEN.append(exc)
        return type(exc).__name__, time.monotonic() - began, exc
    except Exception as exc:  # an untyped error is a failure of the cell
        return f"UNTYPED {type(exc).__name__}: {exc}", time.monotonic() - began, exc
    SEEN.append(reply)
    return ("reply" if reply.text else "empty reply"), time.monotonic() - began, None


def no_id_on_responses(api: str, operation: str, case: str) -> bool:
    """Where no response id can arrive (Responses cannot list a conversation's responses): a
    streamed start whose first event never comes, a create answer lost whole."""
    if api != "responses":
        return False
    if operation in ("stream", "submit"):
        streamed = (
            "trickled stream",
            "silent stream (pings)",
            "silent stream (headers only)",
            "non-JSON 200 (HTML)",
        )
        if case in streamed:
            return True
    return operation in ("create", "submit") and case in (
        "trickled body",
        "non-JSON 200 (HTML)",
        "wrong object",
    )


def _no_id(api: str, operation: str, case: str, error: object) -> bool:
    """A documented no-id cell whose error says so (run_id None, cancel_confirmed False)."""
    return (
        no_id_on_responses(api, operation, case)
        and getattr(error, "run_id", None) is None
        and getattr(error, "cancel_confirmed", None) is False
    )


def _missing_ids(
    api: str, operation: str, case: str, error: object, thread_id: str | None
) -> list[str]:
    """What a run that was started leaves out of the error (issue 20, part 2)."""
    problems = []
    if getattr(error, "thread_id", None) != thread_id:
        problems.append(f"error names thread {getattr(error, 'thread_id', None)}")
    if no_id_on_responses(api, operation, case) and getattr(error, "run_id", None) is None:
        if getattr(error, "cancel_confirmed", None) is not False:
            problems.append("no run id arrived, yet cancel_confirmed is not False")
        return problems
    if getattr(error, "run_id", None) is None:
        problems.append("error carries no run id")
    if getattr(error, "cancel_confirmed", None) is None and not isinstance(error, _SETTLED):
        problems.append("error does not say whether the cancel was confirmed")
    return problems


def _hostile_problems(
    emu: Emulator, outcome: str, seconds: float, error: object, api_key: str
) -> Iterator[str]:
    if outcome.startswith("UNTYPED") or outcome == "empty reply":
        yield outcome
    if seconds > HOSTILE_TIMEOUT + HOSTILE_GRACE + HOSTILE_MARGIN:
        yield f"took {seconds:.2f}s, past timeout + cancel_grace + {HOSTILE_MARGIN:g}s"
    if not _settles(emu):
        yield f"runs left active: {emu.active_runs()}"
    if error is not None:
        paths = key_paths(error, (api_key, api_key.removeprefix("sk-")))
        if paths:
            yield f"key reachable at {paths}"


_SETTLED = (RunError,)
"""Errors about a run that ended by itself: nothing of it is left to cancel."""


def _settles(emu: Emulator) -> bool:
    deadline = time.monotonic() + 1.0
    while emu.active_runs() and time.monotonic() < deadline:
        time.sleep(0.02)
    return not emu.active_runs()
