"""In-memory fakes: a transport that hands each operation to a function, a scripted
backend that plays the Assistants API's rules (a handler per operation type), and a clock
that never sleeps."""

from __future__ import annotations

import inspect
import itertools
import threading
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import Any, ClassVar, TypeVar, cast, overload

import attrs

from assistant_bridge._runstate.table import ACTIVE_STATUSES
from assistant_bridge._values import models
from assistant_bridge._values.events import RunEvent, RunStatusChanged
from assistant_bridge.exceptions import ActiveRunError, BadRequestError, NotFoundError
from assistant_bridge.transports import ops
from assistant_bridge.transports._protocol import (
    NamedOp,
    StreamingMethods,
    TransportMethods,
    unsupported,
)
from assistant_bridge.transports.ops import handler_table, handles

T = TypeVar("T")


@attrs.frozen
class Call:
    """One transport operation as a fake saw it: its name (the transport method's, so
    handlers written for named calls keep working), its arguments by name, and the
    operation itself. ``Call("get_run", {...})`` builds the operation from name and
    arguments."""

    name: str
    args: Mapping[str, Any]
    op: ops.Op[object] = attrs.field(eq=False, repr=False)

    @op.default
    def _op_from_name(self) -> ops.Op[object]:
        return _OPS_BY_NAME[self.name](**self.args)

    @classmethod
    def of(cls, op: ops.Op[object]) -> Call:
        """The call an operation stands for."""
        return cls(op.name, op.arguments(), op)


_OPS_BY_NAME: dict[str, type[ops.Op[object]]] = {
    op_type.name: op_type
    for op_type in vars(ops).values()
    if isinstance(op_type, type)
    and issubclass(op_type, ops.Op)
    and op_type not in (ops.Op, ops.StreamOp)
}


class FakeTransport(TransportMethods):
    """A Transport that hands every operation to ``handler`` and returns its answer.

    The handler gets a :class:`Call` (``call.op`` is the operation; ``call.name`` and
    ``call.args`` say it as a named call would). It may raise any
    :mod:`assistant_bridge.exceptions` error to play a failure. Every call is kept in
    :attr:`calls`, in order. It supports every operation but the optional ones in
    :attr:`lacks`, so an operation added to the library (or a test) reaches the handler.
    """

    def __init__(self, handler: Callable[[Call], Any]) -> None:
        self._handler = handler
        self.calls: list[Call] = []
        self.closed = False

    def __repr__(self) -> str:
        return f"<FakeTransport(calls={len(self.calls)})>"

    #: The optional operations this fake plays without: a session over it polls, and never
    #: looks a run up or names a file. Every other operation goes to the handler.
    lacks: ClassVar[frozenset[type[ops.Op[Any]]]] = frozenset(
        {
            ops.StreamRun,
            ops.StreamThreadAndRun,
            ops.StreamToolOutputs,
            ops.FindRun,
            ops.FileName,
            ops.DownloadFile,
            ops.RunSteps,
        }
    )

    def supports(self, op_type: type[ops.Op[Any]], /) -> bool:
        """True for every operation but those in :attr:`lacks`."""
        return op_type not in self.lacks

    def answer(self, op: ops.Op[object]) -> object:
        """Record ``op`` and return the handler's answer as it is."""
        if not self.supports(type(op)):
            raise unsupported(self, op)
        call = Call.of(op)
        self.calls.append(call)
        return self._handler(call)

    @overload
    def perform(self, op: ops.StreamOp, /) -> Iterator[RunEvent]: ...
    @overload
    def perform(self, op: ops.Op[T], /) -> T: ...
    def perform(self, op: ops.Op[Any], /) -> Any:
        """The handler's answer to ``op`` (a stream's events iterated)."""
        answer = self.answer(op)
        return iter(cast(Iterable[RunEvent], answer)) if op.streams else answer

    def names(self) -> list[str]:
        """The names of the calls made so far, in order."""
        return [c.name for c in self.calls]

    get_assistant = NamedOp(ops.GetAssistant)

    def close(self) -> None:
        self.closed = True


class StreamingFakeTransport(FakeTransport, StreamingMethods):
    """A FakeTransport that can stream: ``StreamRun``, ``StreamThreadAndRun`` and
    ``StreamToolOutputs`` are handed to ``handler`` too, which answers with the run's events
    (an iterable of :class:`~assistant_bridge.RunStatusChanged`, ``TextDelta``,
    ``MessageDone``). :class:`ScriptedBackend` answers them by playing its script.
    """

    lacks = FakeTransport.lacks - {ops.StreamRun, ops.StreamThreadAndRun, ops.StreamToolOutputs}


class AsyncFakeTransport:
    """The async twin of :class:`FakeTransport` (``streaming=True``: of
    :class:`StreamingFakeTransport`) for :class:`~assistant_bridge.AsyncThreadSession`.

    Every operation is awaited; the handler may be a plain function or a coroutine function.
    :attr:`calls` records them, as on the sync fake. Named methods (``get_run``, ...) are
    those of the sync fake, awaited.
    """

    def __init__(self, handler: Callable[[Call], Any], *, streaming: bool = False) -> None:
        kind = StreamingFakeTransport if streaming else FakeTransport
        self._fake = kind(handler)
        self.calls = self._fake.calls

    def __repr__(self) -> str:
        return f"<AsyncFakeTransport(calls={len(self.calls)})>"

    def names(self) -> list[str]:
        """The names of the calls made so far, in order."""
        return self._fake.names()

    def supports(self, op_type: type[ops.Op[object]], /) -> bool:
        """See :meth:`FakeTransport.supports`."""
        return self._fake.supports(op_type)

    @overload
    async def perform(self, op: ops.StreamOp, /) -> AsyncIterator[RunEvent]: ...
    @overload
    async def perform(self, op: ops.Op[T], /) -> T: ...
    async def perform(self, op: ops.Op[object], /) -> object:
        """The handler's answer to ``op``, awaited if it is awaitable (a stream's events as
        an async iterator)."""
        answer = self._fake.answer(op)
        if inspect.isawaitable(answer):
            answer = await answer
        return _aiter(cast(Iterable[RunEvent], answer)) if op.streams else answer

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        named = inspect.getattr_static(type(self._fake), name, None)
        if not isinstance(named, NamedOp):
            msg = f"{type(self).__name__!r} object has no attribute {name!r}"
            raise AttributeError(msg)  # a capability the fake lacks
        op_type = named.op_type

        async def method(*args: Any, **kwargs: Any) -> Any:
            return await self.perform(op_type(*args, **kwargs))

        method.__name__ = name
        return method

    async def aclose(self) -> None:
        """Mark the fake closed."""
        self._fake.close()

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` ran."""
        return self._fake.closed


async def _aiter(events: Iterable[Any]) -> AsyncIterator[Any]:
    for event in events:
        yield event


class FakeClock:
    """A monotonic clock whose sleep only advances it; ``sleeps`` records each wait."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self.sleeps: list[float] = []

    def __repr__(self) -> str:
        return f"<FakeClock(now={self._now:g}, sleeps={len(self.sleeps)})>"

    def now(self) -> float:
        """The current fake time, in seconds."""
        return self._now

    def sleep(self, seconds: float) -> None:
        """Advance the clock by ``seconds`` without waiting."""
        self.sleeps.append(seconds)
        self._now += seconds


def _statuses(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(str(v) for v in values)


@attrs.frozen
class RunScript:
    """How one run behaves in a :class:`ScriptedBackend`.

    The run is created ``queued``; each poll moves it one step along ``steps`` (the last one
    stays). When it reaches ``requires_action`` it asks for ``tool_calls`` and waits; after
    the outputs arrive it walks ``after_tools``. On ``completed`` (or ``incomplete``) it writes
    ``reply`` as one assistant message per string. ``on_tools`` may compute the final reply
    from the outputs.
    """

    reply: str | Sequence[str] = "ok"
    steps: Sequence[str] = attrs.field(default=("in_progress", "completed"), converter=_statuses)
    tool_calls: Sequence[models.ToolCall] = ()
    after_tools: Sequence[str] = attrs.field(
        default=("in_progress", "completed"), converter=_statuses
    )
    on_tools: Callable[[Sequence[models.ToolOutput]], str] | None = None
    last_error: models.LastError | None = None
    incomplete_reason: str | None = None
    cancel_steps: Sequence[str] = attrs.field(
        default=("cancelling", "cancelled"), converter=_statuses
    )
    usage: models.Usage = models.Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15)
    poll_after_ms: int | None = None


@attrs.define
class _RunState:
    run: models.Run
    script: RunScript
    steps: list[str]
    outputs: tuple[models.ToolOutput, ...] = ()
    wrote: bool = False


class ScriptedBackend:
    """An in-memory Assistants service for :class:`FakeTransport`; call it with a :class:`Call`.

    Runs take their :class:`RunScript` from ``scripts`` in order, then ``default``.
    ``page_size`` caps message pages, to exercise pagination.
    """

    def __init__(
        self, *scripts: RunScript, default: RunScript | None = None, page_size: int = 100
    ) -> None:
        self._scripts = list(scripts)
        self._default = default or RunScript()
        self._page_size = page_size
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.threads: dict[str, list[models.Message]] = {}
        self.runs: dict[str, _RunState] = {}
        self.assistants: dict[str, models.Assistant] = {}

    def __call__(self, call: Call) -> Any:
        handler = _handlers(type(self)).get(type(call.op))
        if handler is None:
            raise unsupported(self, call.op)
        with self._lock:
            return handler(self, call.op)

    def run(self, run_id: str) -> models.Run:
        """The current state of a run."""
        return self.runs[run_id].run

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}"

    def _thread(self, thread_id: str) -> list[models.Message]:
        if thread_id not in self.threads:
            msg = f"No thread found with id '{thread_id}'."
            raise NotFoundError(msg, status_code=404)
        return self.threads[thread_id]

    def _state(self, thread_id: str, run_id: str) -> _RunState:
        state = self.runs.get(run_id)
        if state is None or state.run.thread_id != thread_id:
            msg = f"No run found with id '{run_id}'."
            raise NotFoundError(msg, status_code=404)
        return state

    def _active_run(self, thread_id: str) -> str | None:
        for run_id, state in self.runs.items():
            if state.run.thread_id == thread_id and state.run.status in ACTIVE_STATUSES:
                return run_id
        return None

    @handles(ops.CreateThread)
    def _create_thread(self, op: ops.CreateThread) -> models.Thread:
        return self._new_thread(op.metadata)

    def _new_thread(self, metadata: Mapping[str, str] | None) -> models.Thread:
        thread_id = self._new_id("thread_")
        self.threads[thread_id] = []
        return models.Thread(id=thread_id, metadata=dict(metadata or {}))

    def _message(self, thread_id: str, role: str, text: str, run_id: str | None) -> models.Message:
        message = models.Message(
            id=self._new_id("msg_"),
            thread_id=thread_id,
            role=role,
            content=(models.TextContent(text=text),),
            run_id=run_id,
            created_at=len(self.threads[thread_id]),
        )
        self.threads[thread_id].append(message)
        return message

    @handles(ops.StartRun)
    def _start_run(self, op: ops.StartRun) -> models.Run:
        return self._start(op.thread_id, op.request, op.content)

    def _start(self, thread_id: str, request: ops.RunSettings, content: str | None) -> models.Run:
        self._thread(thread_id)
        active = self._active_run(thread_id)
        if active:
            msg = f"Thread {thread_id} already has an active run {active}."
            raise ActiveRunError(msg, thread_id=thread_id, run_id=active)
        if content is not None:
            self._message(thread_id, "user", content, None)
        script = self._scripts.pop(0) if self._scripts else self._default
        run = models.Run(
            id=self._new_id("run_"),
            thread_id=thread_id,
            status=models.RunStatus.QUEUED,
            assistant_id=request.assistant_id or "",
            model=request.model,
            metadata=dict(request.metadata or {}),
            poll_after_ms=script.poll_after_ms,
        )
        self.runs[run.id] = _RunState(run=run, script=script, steps=list(script.steps))
        return run

    @handles(ops.CreateThreadAndRun)
    def _create_thread_and_run(self, op: ops.CreateThreadAndRun) -> models.Run:
        thread = self._new_thread(op.thread_metadata)
        return self._start(thread.id, op.request, op.content)

    def _set(self, state: _RunState, status: str) -> models.Run:
        script = state.script
        parsed = models.RunStatus.parse(status)
        changes: dict[str, Any] = {"status": parsed, "required_action": None}
        if parsed == models.RunStatus.REQUIRES_ACTION:
            changes["required_action"] = models.RequiredAction(tool_calls=tuple(script.tool_calls))
        elif parsed in (models.RunStatus.COMPLETED, models.RunStatus.INCOMPLETE):
            changes["usage"] = script.usage
            if parsed == models.RunStatus.INCOMPLETE:
                changes["incomplete_details"] = models.IncompleteDetails(script.incomplete_reason)
            if not state.wrote:
                state.wrote = True
                reply = script.reply
                if script.on_tools is not None and state.outputs:
                    reply = script.on_tools(state.outputs)
                for text in [reply] if isinstance(reply, str) else reply:
                    self._message(state.run.thread_id, "assistant", text, state.run.id)
        elif parsed == models.RunStatus.FAILED:
            changes["last_error"] = script.last_error or models.LastError("server_error", "Sorry.")
        state.run = attrs.evolve(state.run, **changes)
        return state.run

    @handles(ops.GetRun)
    def _get_run(self, op: ops.GetRun) -> models.Run:
        return self._step(op.thread_id, op.run_id)

    def _step(self, thread_id: str, run_id: str) -> models.Run:
        """The run one poll later: one step along its script."""
        state = self._state(thread_id, run_id)
        if state.run.status == models.RunStatus.REQUIRES_ACTION or not state.steps:
            return state.run
        status = state.steps.pop(0) if len(state.steps) > 1 else state.steps[0]
        return self._set(state, status)

    @handles(ops.CancelRun)
    def _cancel_run(self, op: ops.CancelRun) -> models.Run:
        state = self._state(op.thread_id, op.run_id)
        if state.run.status not in ACTIVE_STATUSES:
            msg = f"Cannot cancel run with status '{state.run.status}'."
            raise BadRequestError(msg, status_code=400)
        state.steps = list(state.script.cancel_steps)
        return self._set(state, state.steps.pop(0) if len(state.steps) > 1 else state.steps[0])

    @handles(ops.SubmitToolOutputs)
    def _submit_tool_outputs(self, op: ops.SubmitToolOutputs) -> models.Run:
        return self._submit(op.thread_id, op.run_id, op.outputs)

    def _submit(
        self, thread_id: str, run_id: str, outputs: tuple[models.ToolOutput, ...]
    ) -> models.Run:
        state = self._state(thread_id, run_id)
        if state.run.status != models.RunStatus.REQUIRES_ACTION:
            msg = f'Runs in status "{state.run.status}" do not accept tool outputs.'
            raise BadRequestError(msg, status_code=400)
        state.outputs = state.outputs + tuple(outputs)
        state.steps = list(state.script.after_tools)
        return self._set(state, "queued")

    @handles(ops.ListRunMessages)
    def _list_run_messages(self, op: ops.ListRunMessages) -> models.MessagePage:
        after, limit = op.after, op.limit
        mine = [m for m in self._thread(op.thread_id) if m.run_id == op.run_id]
        start = 0
        if after is not None:
            start = next((i + 1 for i, m in enumerate(mine) if m.id == after), len(mine))
        size = min(limit, self._page_size)
        page = mine[start : start + size]
        return models.MessagePage(
            messages=tuple(page),
            has_more=start + size < len(mine),
            last_id=page[-1].id if page else None,
        )

    def _play(self, run: models.Run) -> Iterator[RunEvent]:
        """A run's stream: its status at each step of the script, up to one that stops it."""
        yield RunStatusChanged(run)
        while run.status in (
            models.RunStatus.QUEUED,
            models.RunStatus.IN_PROGRESS,
            models.RunStatus.CANCELLING,
        ):
            with self._lock:
                latest = self._step(run.thread_id, run.id)
            if latest == run:
                return  # the script stays here: the stream ends and the session polls
            run = latest
            yield RunStatusChanged(run)

    @handles(ops.StreamRun)
    def _stream_run(self, op: ops.StreamRun) -> Iterator[RunEvent]:
        return self._play(self._start(op.thread_id, op.request, op.content))

    @handles(ops.StreamThreadAndRun)
    def _stream_thread_and_run(self, op: ops.StreamThreadAndRun) -> Iterator[RunEvent]:
        thread = self._new_thread(op.thread_metadata)
        return self._play(self._start(thread.id, op.request, op.content))

    @handles(ops.StreamToolOutputs)
    def _stream_tool_outputs(self, op: ops.StreamToolOutputs) -> Iterator[RunEvent]:
        return self._play(self._submit(op.thread_id, op.run_id, op.outputs))

    @handles(ops.ResolveAssistant)
    def _resolve_assistant(self, op: ops.ResolveAssistant) -> str:
        for assistant in self.assistants.values():
            if assistant.name == op.spec.name:
                return assistant.id
        spec = op.spec
        assistant = models.Assistant(id=self._new_id("asst_"), name=spec.name, model=spec.model)
        self.assistants[assistant.id] = assistant
        return assistant.id

    @handles(ops.GetAssistant)
    def _get_assistant(self, op: ops.GetAssistant) -> models.Assistant:
        assistant_id = op.assistant_id
        if assistant_id not in self.assistants:
            self.assistants[assistant_id] = models.Assistant(id=assistant_id, name="scripted")
        return self.assistants[assistant_id]


_TABLES: dict[type, dict[type[ops.Op[Any]], Callable[..., Any]]] = {}


def _handlers(cls: type) -> dict[type[ops.Op[Any]], Callable[..., Any]]:
    """What a ScriptedBackend class answers each operation type with (collected once)."""
    if cls not in _TABLES:
        _TABLES[cls] = handler_table(cls)
    return _TABLES[cls]
