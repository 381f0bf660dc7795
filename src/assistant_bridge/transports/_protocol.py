"""The Transport protocol: the few wire operations the layers above need, in domain terms.

A transport turns each operation into requests to one API (the Assistants API through
``openai``, or a fake in tests) and answers with domain values. It raises only errors from
:mod:`assistant_bridge.exceptions`. Session logic never talks HTTP; it asks a transport.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import attrs

from assistant_bridge._values.models import Assistant, Message, MessagePage, Run, Thread, ToolOutput
from assistant_bridge._values.spec import AssistantSpec

__all__ = ["ASK_KEY", "AsyncTransport", "RunRequest", "Transport"]

ASK_KEY = "assistant_bridge_ask"
"""Run metadata key marking which ask started a run, so a repeated start can look first
(``find_run``) instead of starting the run twice."""


def _freeze_tools(
    value: Sequence[Mapping[str, Any]] | None,
) -> tuple[Mapping[str, Any], ...] | None:
    return None if value is None else tuple(dict(t) for t in value)


def _freeze_metadata(value: Mapping[str, str] | None) -> Mapping[str, str] | None:
    return None if value is None else dict(value)


@attrs.frozen
class RunRequest:
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

    def body(self) -> dict[str, Any]:
        """The Assistants API fields to send, without those left unset."""
        fields = {
            "assistant_id": self.assistant_id,
            "instructions": self.instructions,
            "additional_instructions": self.additional_instructions,
            "model": self.model,
            "tools": None if self.tools is None else [dict(t) for t in self.tools],
            "metadata": None if self.metadata is None else dict(self.metadata),
        }
        return {k: v for k, v in fields.items() if v is not None}


@runtime_checkable
class Transport(Protocol):
    """The wire operations a :class:`~assistant_bridge.ThreadSession` needs."""

    def create_thread(self, *, metadata: Mapping[str, str] | None = None) -> Thread:
        """Create an empty thread."""
        ...

    def add_message(
        self, thread_id: str, content: str, *, metadata: Mapping[str, str] | None = None
    ) -> Message:
        """Add a user message to a thread."""
        ...

    def start_run(
        self,
        thread_id: str,
        request: RunRequest,
        *,
        content: str | None = None,
        message_metadata: Mapping[str, str] | None = None,
    ) -> Run:
        """Start a run on an existing thread, adding ``content`` as the user's message in the
        same request (so the message exists only if the run does)."""
        ...

    def create_thread_and_run(
        self, content: str, request: RunRequest, *, thread_metadata: Mapping[str, str] | None = None
    ) -> Run:
        """Create a thread holding one user message and start a run on it, in one request."""
        ...

    def get_run(self, thread_id: str, run_id: str) -> Run:
        """Fetch a run's current state."""
        ...

    def cancel_run(self, thread_id: str, run_id: str) -> Run:
        """Ask the server to cancel a run; it answers with the run, usually "cancelling"."""
        ...

    def submit_tool_outputs(
        self,
        thread_id: str,
        run_id: str,
        outputs: Sequence[ToolOutput],
        *,
        request: RunRequest | None = None,
    ) -> Run:
        """Answer a run's required action with one output per tool call; the run goes on.

        ``request`` is the run's request, for APIs that continue with a new response.
        """
        ...

    def list_run_messages(
        self, thread_id: str, run_id: str, *, after: str | None = None, limit: int = 100
    ) -> MessagePage:
        """One page of the messages a run wrote, oldest first, starting after ``after``."""
        ...

    def get_assistant(self, assistant_id: str) -> Assistant:
        """Fetch an assistant object."""
        ...

    def resolve_assistant(self, spec: AssistantSpec) -> str | None:
        """Make ``spec`` usable: the id of its assistant object (created, or found and updated
        by name and content hash), or None where the API takes the definition per run."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class AsyncTransport(Protocol):
    """The async twin of :class:`Transport`: the same operations, awaited."""

    async def create_thread(self, *, metadata: Mapping[str, str] | None = None) -> Thread:
        """Create an empty thread."""
        ...

    async def add_message(
        self, thread_id: str, content: str, *, metadata: Mapping[str, str] | None = None
    ) -> Message:
        """Add a user message to a thread."""
        ...

    async def start_run(
        self,
        thread_id: str,
        request: RunRequest,
        *,
        content: str | None = None,
        message_metadata: Mapping[str, str] | None = None,
    ) -> Run:
        """Start a run on a thread, with the user's message in the same request."""
        ...

    async def create_thread_and_run(
        self, content: str, request: RunRequest, *, thread_metadata: Mapping[str, str] | None = None
    ) -> Run:
        """Create a thread holding one user message and start a run on it."""
        ...

    async def get_run(self, thread_id: str, run_id: str) -> Run:
        """Fetch a run's current state."""
        ...

    async def cancel_run(self, thread_id: str, run_id: str) -> Run:
        """Ask the server to cancel a run."""
        ...

    async def submit_tool_outputs(
        self,
        thread_id: str,
        run_id: str,
        outputs: Sequence[ToolOutput],
        *,
        request: RunRequest | None = None,
    ) -> Run:
        """Answer a run's required action; the run goes on."""
        ...

    async def list_run_messages(
        self, thread_id: str, run_id: str, *, after: str | None = None, limit: int = 100
    ) -> MessagePage:
        """One page of the messages a run wrote, oldest first."""
        ...

    async def get_assistant(self, assistant_id: str) -> Assistant:
        """Fetch an assistant object."""
        ...

    async def resolve_assistant(self, spec: AssistantSpec) -> str | None:
        """The assistant id for ``spec``, or None where the API takes it per run."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
