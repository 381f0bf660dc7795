"""What both sessions share: their options, their state, and the flows they build.

:class:`SessionCore` checks nothing itself (the public constructors did, in
:mod:`.arguments`); it sets every default in one place and builds an ask's (or a resume's)
flow and settings, which the sync and async sessions only drive.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, Literal, TypedDict, TypeVar, cast

import attrs

from assistant_bridge._parsing.parsers import Parser, TextParser
from assistant_bridge._runstate.table import RunStateMachine
from assistant_bridge._session.ask import ask_flow, resume_flow
from assistant_bridge._session.flow import (
    AskPlan,
    Flow,
    ToolHandler,
    WaitSettings,
)
from assistant_bridge._session.polling import AdaptivePolling, PollPolicy
from assistant_bridge._session.retry import RetryPolicy
from assistant_bridge._values.models import Usage
from assistant_bridge._values.reply import Reply, conversation_markdown
from assistant_bridge._values.spec import AssistantSpec, ResponseFormat
from assistant_bridge.exceptions import ConfigurationError, RunTimeoutError
from assistant_bridge.transports._protocol import Transport
from assistant_bridge.transports.ops import (
    DEFAULT_STALL_TIMEOUT,
    DownloadFile,
    FileName,
    FindRun,
    RunSettings,
    RunSteps,
    StreamRun,
)

__all__ = ["ActiveRunPolicy", "AskOptions", "FirstAsk", "SessionCore", "SessionOptions", "Wait"]

ActiveRunPolicy = Literal["wait", "cancel", "raise"]
"""What an ask does when another run holds its thread."""

Wait = Literal["auto", "stream", "poll"]
"""How an ask follows its run: stream where the transport can ("auto"), or always poll."""

FirstAsk = Literal["fast", "safe"]
"""How the first ask of a new thread starts: "fast" creates thread and run in one request;
"safe" creates the thread first (two requests), so a start whose answer is lost can be looked
up by its mark like any follow-up."""


class SessionOptions(TypedDict, total=False):
    """How a session works; every one has a default (see :class:`ThreadSession`)."""

    assistant: AssistantSpec | None
    thread_id: str | None
    timeout: float
    poll_policy: PollPolicy | None
    state_machine: RunStateMachine | None
    tool_handler: ToolHandler | None
    max_tool_rounds: int
    cancel_grace: float
    thread_metadata: Mapping[str, str] | None
    wait: Wait
    stall_timeout: float
    retry: RetryPolicy | None
    on_active_run: ActiveRunPolicy
    first_ask: FirstAsk
    clock: Callable[[], float]


class AskOptions(TypedDict, total=False):
    """Per-ask settings, for this run only (see :meth:`ThreadSession.ask`)."""

    timeout: float | None
    instructions: str | None
    additional_instructions: str | None
    model: str | None
    tools: Sequence[Mapping[str, Any]] | None
    metadata: Mapping[str, str] | None
    wait: Wait | None
    response_format: ResponseFormat | None
    max_output_tokens: int | None


T = TypeVar("T")


P = TypeVar("P")
"""What the session's parser makes of a reply's text (``str`` for the default TextParser)."""


def _or_default(value: T | None, default: T) -> T:
    """``value``, or ``default`` when it was not given (None)."""
    return default if value is None else value


class SessionCore(Generic[P]):
    """What the sync and async sessions share: configuration, state, and the flows to drive."""

    def __init__(
        self,
        transport: object,
        assistant_id: str | None,
        parser: Parser[Any] | None,
        options: SessionOptions,
    ) -> None:
        # The arguments were checked by the public method (arguments.py) before this runs;
        # an option not given (or given as None where None means "the default") gets its
        # default here, the one place defaults are set.
        assistant = options.get("assistant")
        if (assistant_id is None) == (assistant is None):
            msg = (
                f"Give {type(self).__name__} either assistant_id='asst_…' (an assistant object) "
                "or assistant=AssistantSpec(...) (the definition in code), not both or neither."
            )
            raise ConfigurationError(msg)
        self._assistant_id = assistant_id
        self._spec = assistant
        self._thread_id = options.get("thread_id")
        self._parser: Parser[Any] = parser if parser is not None else TextParser()
        self._timeout = float(options.get("timeout", 60.0))
        self._poll = _or_default(options.get("poll_policy"), AdaptivePolling())
        self._machine = _or_default(options.get("state_machine"), RunStateMachine())
        self._tool_handler = options.get("tool_handler")
        self._max_tool_rounds = options.get("max_tool_rounds", 8)
        self._cancel_grace = options.get("cancel_grace", 5.0)
        thread_metadata = options.get("thread_metadata")
        self._thread_metadata = None if thread_metadata is None else dict(thread_metadata)
        self._clock = options.get("clock", time.monotonic)
        supports = cast(Transport, transport).supports
        self._can_stream = supports(StreamRun)
        self._wait = self._check_wait(options.get("wait", "auto"))
        self._stall_timeout = float(options.get("stall_timeout", DEFAULT_STALL_TIMEOUT))
        self._retry = _or_default(options.get("retry"), RetryPolicy())
        self._on_active_run = options.get("on_active_run", "wait")
        self._first_ask = options.get("first_ask", "fast")
        self._can_find_runs = supports(FindRun)
        self._can_name_files = supports(FileName)
        self._can_download = supports(DownloadFile)
        self._can_read_steps = supports(RunSteps)
        self._transport_any: object = transport
        self._usage = Usage()
        self._history: list[tuple[str | None, Reply[Any]]] = []

    def _check_wait(self, wait: Wait) -> Wait:
        if wait == "stream" and not self._can_stream:
            msg = "wait='stream' needs a transport that can stream (OpenAITransport, ...)."
            raise ConfigurationError(msg)
        return wait

    def __repr__(self) -> str:
        who = (
            f"assistant={self._spec.name!r}"
            if self._spec is not None and self._assistant_id is None
            else f"assistant_id={self._assistant_id!r}"
        )
        return f"<{type(self).__name__}({who}, thread_id={self._thread_id!r})>"

    @property
    def thread_id(self) -> str | None:
        """The thread this session talks on; None until the first ask creates it."""
        return self._thread_id

    @property
    def assistant_id(self) -> str | None:
        """The assistant object every ask runs; for a spec, known after the first ask (and
        None on transports without assistant objects)."""
        return self._assistant_id

    @property
    def assistant(self) -> AssistantSpec | None:
        """The assistant's definition, when the session was given one."""
        return self._spec

    def _ask_flow(
        self,
        prompt: str,
        parser: Parser[Any] | None,
        *,
        timeout: float | None = None,
        instructions: str | None = None,
        additional_instructions: str | None = None,
        model: str | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        metadata: Mapping[str, str] | None = None,
        wait: Wait | None = None,
        response_format: ResponseFormat | None = None,
        max_output_tokens: int | None = None,
    ) -> tuple[Flow[Reply[Any]], WaitSettings]:
        """Check the ask's input (before anything is sent) and build its flow; the deadline
        starts now."""
        request = RunSettings(
            assistant_id=self._assistant_id,
            assistant=self._spec,
            instructions=instructions,
            additional_instructions=additional_instructions,
            model=model,
            tools=tools,
            metadata=metadata,
            response_format=response_format,
            max_output_tokens=max_output_tokens,
        )
        settings = self._settings(timeout, wait)

        def flow() -> Flow[Reply[Any]]:
            # Built when the lock is held, so it sees the thread an earlier ask created.
            plan = AskPlan(
                prompt=prompt,
                request=attrs.evolve(request, assistant_id=self._assistant_id),
                thread_id=self._thread_id,
                parser=parser if parser is not None else self._parser,
                thread_metadata=self._thread_metadata,
                ask_key=uuid.uuid4().hex,
                first_ask=self._first_ask,
            )
            reply = yield from ask_flow(plan, settings, self._adopt_thread, self._adopt_assistant)
            return self._count(reply, prompt)

        return flow(), settings

    def _resume_flow(
        self, run_id: str, parser: Parser[Any] | None, timeout: float | None
    ) -> tuple[Flow[Reply[Any]], WaitSettings]:
        if self._thread_id is None:
            msg = "resume() needs a thread: create the session with thread_id=..."
            raise ConfigurationError(msg)
        thread_id = self._thread_id
        settings = self._settings(timeout)
        request = RunSettings(assistant_id=self._assistant_id, assistant=self._spec)
        chosen = parser if parser is not None else self._parser

        def flow() -> Flow[Reply[Any]]:
            reply = yield from resume_flow(thread_id, run_id, chosen, settings, request)
            return self._count(reply)

        return flow(), settings

    def _settings(self, timeout: float | None, wait: Wait | None = None) -> WaitSettings:
        mode = self._wait if wait is None else self._check_wait(wait)
        seconds = self._timeout if timeout is None else float(timeout)
        return WaitSettings(
            machine=self._machine,
            poll=self._poll,
            clock=self._clock,
            timeout=seconds,
            deadline=self._clock() + seconds,
            cancel_grace=self._cancel_grace,
            tool_handler=self._tool_handler,
            max_tool_rounds=self._max_tool_rounds,
            streaming=mode == "stream" or (mode == "auto" and self._can_stream),
            stall_timeout=self._stall_timeout,
            retry=self._retry,
            on_active_run=self._on_active_run,
            can_find_runs=self._can_find_runs,
            can_name_files=self._can_name_files,
        )

    def _lock_timeout(self, settings: WaitSettings) -> RunTimeoutError:
        """The error for an ask whose deadline passed while it queued behind others."""
        msg = (
            f"The ask waited {settings.timeout:g}s for earlier asks on thread "
            f"{self._thread_id} to finish and never started; nothing was sent. Ask again with a "
            "longer timeout, or use one session per conversation."
        )
        return RunTimeoutError(
            msg,
            thread_id=self._thread_id or "",
            run_id="",
            status="not started",
            timeout=settings.timeout,
            cancel_confirmed=True,
        )

    def _file_targets(self, reply: Reply[Any], folder: str | Path) -> list[tuple[str, Path]]:
        """Where each file the reply lists is saved: ``folder/<name or id>``."""
        if not self._can_download:
            msg = f"{type(self._transport_any).__name__} cannot download files."
            raise ConfigurationError(msg)
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        return [
            (f.file_id, target / (f.filename or f.file_id + (".png" if f.kind == "image" else "")))
            for f in reply.files
        ]

    @property
    def usage(self) -> Usage:
        """Tokens used by every reply of this session so far, summed."""
        return self._usage

    def _steps_thread(self, run_id: str) -> str:
        """The thread to read a run's steps on, after checking the transport can."""
        if not self._can_read_steps:
            msg = f"{type(self._transport_any).__name__} cannot read run steps."
            raise ConfigurationError(msg)
        if self._thread_id is None:
            msg = "run_steps() needs the session's thread: ask first, or pass thread_id=..."
            raise ConfigurationError(msg)
        return self._thread_id

    @property
    def history(self) -> tuple[tuple[str | None, Reply[Any]], ...]:
        """What this session asked and was answered, in order: (prompt, reply) pairs (the
        prompt is None for a resumed run)."""
        return tuple(self._history)

    def _repr_markdown_(self) -> str:
        """Jupyter shows the conversation so far: each prompt and answer with its role."""
        return conversation_markdown(repr(self), self._history, self._usage)

    def _count(self, reply: Reply[T], prompt: str | None = None) -> Reply[T]:
        self._history.append((prompt, reply))
        if reply.usage is not None:
            u, r = self._usage, reply.usage
            self._usage = Usage(
                prompt_tokens=u.prompt_tokens + r.prompt_tokens,
                completion_tokens=u.completion_tokens + r.completion_tokens,
                total_tokens=u.total_tokens + r.total_tokens,
            )
        return reply

    def _adopt_thread(self, thread_id: str) -> None:
        self._thread_id = thread_id

    def _adopt_assistant(self, assistant_id: str) -> None:
        self._assistant_id = assistant_id
