"""Every operation a transport performs, declared once, as a value.

An operation is a frozen value carrying its arguments, typed by what it answers:
``GetRun(thread_id, run_id)`` is an ``Op[Run]``, so ``transport.perform(GetRun(...))`` is a
``Run`` to mypy. Its class says what never varies: whether repeating it is harmless
(``idempotent``) and whether it answers with a stream of events (``streams``, with the
``stall_timeout`` the stream may stay silent). Sessions, wires, fakes and wrappers all pass
the same value along; nothing restates an operation's arguments.

To add an operation: declare it here, give each wire a builder for it (``@handles``), and
the fakes a handler (see ``docs/architecture.md``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Generic, Never, TypeAlias, TypeVar

import attrs

from assistant_bridge._values.models import Assistant, MessagePage, Run, RunStep, Thread, ToolOutput
from assistant_bridge._values.spec import AssistantSpec, ResponseFormat, assistants_format
from assistant_bridge._values.value import Value

__all__ = [
    "ASK_KEY",
    "DEFAULT_STALL_TIMEOUT",
    "CancelRun",
    "CreateThread",
    "CreateThreadAndRun",
    "DownloadFile",
    "FileName",
    "FindRun",
    "GetAssistant",
    "GetRun",
    "ListRunMessages",
    "Op",
    "ResolveAssistant",
    "RunRequest",
    "RunSettings",
    "RunSteps",
    "StartRun",
    "StreamOp",
    "StreamRun",
    "StreamThreadAndRun",
    "StreamToolOutputs",
    "SubmitToolOutputs",
    "as_stream",
    "handles",
    "handler_table",
]

T_co = TypeVar("T_co", covariant=True)
F = TypeVar("F", bound=Callable[..., object])

ASK_KEY = "assistant_bridge_ask"
"""Run metadata key marking which ask started a run, so a repeated start can look first
(:class:`FindRun`) instead of starting the run twice."""

DEFAULT_STALL_TIMEOUT = 20.0
"""Seconds a stream may stay silent before the session gives up on it and polls instead."""

Metadata: TypeAlias = Mapping[str, str] | None
"""Metadata for an object (at most 16 pairs), or None to send none."""


def _freeze_tools(
    value: Sequence[Mapping[str, Any]] | None,
) -> tuple[Mapping[str, Any], ...] | None:
    return None if value is None else tuple(dict(t) for t in value)


def _freeze_metadata(value: Mapping[str, str] | None) -> Mapping[str, str] | None:
    return None if value is None else dict(value)


def _outputs(value: Sequence[ToolOutput]) -> tuple[ToolOutput, ...]:
    return tuple(value)


@attrs.frozen(repr=False)
class RunSettings(Value):
    """What to start a run with: the assistant and the per-ask overrides (None = not sent).

    ``assistant_id`` names an assistant object (Assistants API); ``assistant`` carries the
    definition itself, which the Responses API sends with every response.
    """

    assistant_id: str | None = None
    instructions: str | None = None
    additional_instructions: str | None = None
    model: str | None = None
    tools: tuple[Mapping[str, Any], ...] | None = attrs.field(default=None, converter=_freeze_tools)
    metadata: Mapping[str, str] | None = attrs.field(default=None, converter=_freeze_metadata)
    assistant: AssistantSpec | None = None
    response_format: ResponseFormat | None = None
    max_output_tokens: int | None = None

    def body(self) -> dict[str, Any]:
        """The Assistants API fields to send, without those left unset."""
        fields = {
            "assistant_id": self.assistant_id,
            "instructions": self.instructions,
            "additional_instructions": self.additional_instructions,
            "model": self.model,
            "tools": None if self.tools is None else [dict(t) for t in self.tools],
            "metadata": None if self.metadata is None else dict(self.metadata),
            "response_format": (
                None if self.response_format is None else assistants_format(self.response_format)
            ),
            "max_completion_tokens": self.max_output_tokens,
        }
        return {k: v for k, v in fields.items() if v is not None}


def _method_name(class_name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower()


@attrs.frozen(repr=False)
class Op(Value, Generic[T_co]):
    """An operation a transport performs, answered with a ``T_co``.

    ``budget`` is how many seconds its request may take (connect, read, and all of a
    stream); None leaves it to the transport's own timeout. Sessions set it from what is left
    of the ask's deadline. It is how to send, not what to ask, so it takes no part in ``==``.
    """

    budget: float | None = attrs.field(default=None, kw_only=True, eq=False, repr=False)

    #: False for writes, which are never repeated blindly after an ambiguous failure.
    idempotent: ClassVar[bool] = True
    #: True when the answer is a stream of run events (see :class:`StreamOp`).
    streams: ClassVar[bool] = False
    #: The transport method that performs it (``get_run`` for :class:`GetRun`).
    name: ClassVar[str] = "op"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.name = _method_name(cls.__name__)

    def arguments(self) -> dict[str, Any]:
        """What the operation asks, by argument name (without ``budget`` and
        ``stall_timeout``, which say how to wait)."""
        return {
            a.name: getattr(self, a.name)
            for a in attrs.fields(type(self))
            if a.name not in ("budget", "stall_timeout")
        }


@attrs.frozen(repr=False)
class StreamOp(Op[Never]):
    """An operation answered with the run's events as they happen: an iterator of
    :class:`~assistant_bridge.RunEvent` on a sync transport, an async iterator on an async one.
    ``stall_timeout`` is the longest silence between two events (None: no limit).

    Its answer's type depends on the transport, so the transports' ``perform`` types it (an
    overload for stream operations); as an ``Op`` it promises nothing of its own (``Never``),
    which lets a wrapper's one generic ``perform(op: Op[T]) -> T`` serve streams too."""

    stall_timeout: float | None = attrs.field(default=DEFAULT_STALL_TIMEOUT, kw_only=True)

    idempotent = False
    streams = True


RunRequest = RunSettings
"""Deprecated: the old name of :class:`RunSettings` (it holds settings, not a request)."""


# -- threads and runs -------------------------------------------------------------------------
@attrs.frozen(repr=False)
class CreateThread(Op[Thread]):
    """Create an empty thread."""

    metadata: Metadata = attrs.field(default=None, kw_only=True, converter=_freeze_metadata)


# What the operations that start or continue a run ask, polled or streamed alike.
@attrs.frozen(slots=False, repr=False)
class _OnThread(Value):
    thread_id: str
    request: RunSettings
    content: str | None = attrs.field(default=None, kw_only=True)
    message_metadata: Metadata = attrs.field(default=None, kw_only=True, converter=_freeze_metadata)


@attrs.frozen(slots=False, repr=False)
class _WithThread(Value):
    content: str
    request: RunSettings
    thread_metadata: Metadata = attrs.field(default=None, kw_only=True, converter=_freeze_metadata)


@attrs.frozen(slots=False, repr=False)
class _Outputs(Value):
    thread_id: str
    run_id: str
    outputs: tuple[ToolOutput, ...] = attrs.field(converter=_outputs)
    request: RunSettings | None = attrs.field(default=None, kw_only=True)


@attrs.frozen(repr=False)
class StartRun(_OnThread, Op[Run]):
    """Start a run on a thread, adding ``content`` as the user's message in the same request
    (so the message exists only if the run does)."""

    idempotent = False


@attrs.frozen(repr=False)
class CreateThreadAndRun(_WithThread, Op[Run]):
    """Create a thread holding one user message and start a run on it."""

    idempotent = False


@attrs.frozen(repr=False)
class GetRun(Op[Run]):
    """Fetch a run's current state."""

    thread_id: str
    run_id: str


@attrs.frozen(repr=False)
class CancelRun(Op[Run]):
    """Ask the server to cancel a run; it answers with the run, usually "cancelling".
    Repeating it is harmless."""

    thread_id: str
    run_id: str


@attrs.frozen(repr=False)
class SubmitToolOutputs(_Outputs, Op[Run]):
    """Answer a run's required action with one output per tool call; the run goes on.
    ``request`` is the run's settings, for APIs that continue with a new response."""

    idempotent = False


@attrs.frozen(repr=False)
class ListRunMessages(Op[MessagePage]):
    """One page of the messages a run wrote, oldest first, starting after ``after``."""

    thread_id: str
    run_id: str
    after: str | None = attrs.field(default=None, kw_only=True)
    limit: int = attrs.field(default=100, kw_only=True)


@attrs.frozen(repr=False)
class FindRun(Op[Run | None]):
    """The run of ``thread_id`` whose metadata has ``ASK_KEY`` = ``key``, if any."""

    thread_id: str
    key: str


@attrs.frozen(repr=False)
class RunSteps(Op[tuple[RunStep, ...]]):
    """The run's steps (tool calls, code and logs), oldest first."""

    thread_id: str
    run_id: str


# -- streams -----------------------------------------------------------------------------------
@attrs.frozen(repr=False)
class StreamRun(_OnThread, StreamOp):
    """Start a run (with the user's message) and stream its events."""


@attrs.frozen(repr=False)
class StreamThreadAndRun(_WithThread, StreamOp):
    """Create a thread with the user's message, start a run and stream its events."""


@attrs.frozen(repr=False)
class StreamToolOutputs(_Outputs, StreamOp):
    """Submit tool outputs and stream the rest of the run."""


_STREAMED: dict[type[Op[Run]], type[StreamOp]] = {
    StartRun: StreamRun,
    CreateThreadAndRun: StreamThreadAndRun,
    SubmitToolOutputs: StreamToolOutputs,
}


def as_stream(
    op: StartRun | CreateThreadAndRun | SubmitToolOutputs, stall_timeout: float
) -> StreamOp:
    """The stream twin of ``op``: the same arguments, answered with the run's events."""
    return _STREAMED[type(op)](**op.arguments(), budget=op.budget, stall_timeout=stall_timeout)


# -- assistants and files ----------------------------------------------------------------------
@attrs.frozen(repr=False)
class ResolveAssistant(Op[str | None]):
    """Make ``spec`` usable: the id of its assistant object (created, or found and updated),
    or None where the API takes the definition with every run."""

    spec: AssistantSpec


@attrs.frozen(repr=False)
class GetAssistant(Op[Assistant]):
    """An assistant object, as the server has it (the Assistants API)."""

    assistant_id: str


@attrs.frozen(repr=False)
class FileName(Op[str]):
    """A file's name (for citations)."""

    file_id: str


@attrs.frozen(repr=False)
class DownloadFile(Op[bytes]):
    """A file's content."""

    file_id: str


# -- tables keyed by operation ------------------------------------------------------------------
def handles(op_type: type[Op[Any]]) -> Callable[[F], F]:
    """Mark a method as what its class does for ``op_type`` (a wire's request builder, a
    fake's answer); :func:`handler_table` collects them."""

    def mark(function: F) -> F:
        function.handles = op_type  # type: ignore[attr-defined]
        return function

    return mark


def handler_table(cls: type) -> dict[type[Op[Any]], Callable[..., object]]:
    """The methods of ``cls`` (and its bases) marked with :func:`handles`, by operation type;
    a subclass's method replaces its base's."""
    table: dict[type[Op[Any]], Callable[..., object]] = {}
    for base in reversed(cls.__mro__):
        for value in vars(base).values():
            op_type = getattr(value, "handles", None)
            if op_type is not None:
                table[op_type] = value
    return table
