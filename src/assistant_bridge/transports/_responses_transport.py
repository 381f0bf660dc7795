"""ResponsesTransport and AsyncResponsesTransport: the Transport protocol over the Responses and
Conversations APIs.

A thread is a conversation (``conv_…``), a message a conversation item, a run a response
(``resp_…``) created with ``background=True`` and polled. The assistant's definition
(:class:`~assistant_bridge.AssistantSpec`) is sent with every response. A completed response
whose output asks for function calls is presented as ``requires_action``, so tool calls take
the same path as on the Assistants API. Both classes perform the same wire operations
(:mod:`._responses_wire`); only the I/O differs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence

import openai

from assistant_bridge._values.events import RunEvent
from assistant_bridge._values.models import Assistant, Message, MessagePage, Run, Thread, ToolOutput
from assistant_bridge._values.spec import AssistantSpec
from assistant_bridge.transports._client import aexecute, aopen_stream, execute, open_stream
from assistant_bridge.transports._openai import ClientTransport
from assistant_bridge.transports._protocol import RunRequest
from assistant_bridge.transports._responses import (
    ResponsesWire,
    no_assistant_objects,
    response_body,
    stream_run,
    stream_tool_outputs,
)

__all__ = ["AsyncResponsesTransport", "ResponsesTransport"]


class ResponsesTransport(ClientTransport[openai.OpenAI]):
    """The Responses + Conversations APIs through the ``openai`` client.

    Construct it like :class:`~assistant_bridge.OpenAITransport`: a key (and organization,
    project, base_url), :meth:`from_env`, or a ready ``openai.OpenAI`` as ``client``.
    Sessions on it need ``assistant=AssistantSpec(...)``: the Responses API has no assistant
    objects.
    """

    client_class = openai.OpenAI

    def _setup(self) -> None:
        self._wire = ResponsesWire()

    def create_thread(self, *, metadata: Mapping[str, str] | None = None) -> Thread:
        return execute(self._client, self._secrets, self._wire.create_thread(metadata))

    def add_message(
        self, thread_id: str, content: str, *, metadata: Mapping[str, str] | None = None
    ) -> Message:
        flow = self._wire.add_message(thread_id, content, metadata)
        return execute(self._client, self._secrets, flow)

    def start_run(
        self,
        thread_id: str,
        request: RunRequest,
        *,
        content: str | None = None,
        message_metadata: Mapping[str, str] | None = None,
    ) -> Run:
        flow = self._wire.start_run(thread_id, request, content, message_metadata)
        return execute(self._client, self._secrets, flow)

    def create_thread_and_run(
        self, content: str, request: RunRequest, *, thread_metadata: Mapping[str, str] | None = None
    ) -> Run:
        flow = self._wire.create_thread_and_run(content, request, thread_metadata)
        return execute(self._client, self._secrets, flow)

    def get_run(self, thread_id: str, run_id: str) -> Run:
        return execute(self._client, self._secrets, self._wire.get_run(thread_id, run_id))

    def cancel_run(self, thread_id: str, run_id: str) -> Run:
        return execute(self._client, self._secrets, self._wire.cancel_run(thread_id, run_id))

    def submit_tool_outputs(
        self,
        thread_id: str,
        run_id: str,
        outputs: Sequence[ToolOutput],
        *,
        request: RunRequest | None = None,
    ) -> Run:
        flow = self._wire.submit_tool_outputs(thread_id, run_id, outputs, request)
        return execute(self._client, self._secrets, flow)

    def list_run_messages(
        self, thread_id: str, run_id: str, *, after: str | None = None, limit: int = 100
    ) -> MessagePage:
        flow = self._wire.list_run_messages(thread_id, run_id, after, limit)
        return execute(self._client, self._secrets, flow)

    def get_assistant(self, assistant_id: str) -> Assistant:
        raise no_assistant_objects(assistant_id)

    def resolve_assistant(self, spec: AssistantSpec) -> None:
        """Nothing to create: the spec travels with every response."""
        return

    def stream_run(
        self,
        thread_id: str,
        request: RunRequest,
        *,
        content: str | None = None,
        message_metadata: Mapping[str, str] | None = None,
        stall_timeout: float = 30.0,
    ) -> Iterator[RunEvent]:
        """Start a background response on the conversation and stream its events."""
        call = stream_run(thread_id, request, content, message_metadata)
        return open_stream(self._client, self._secrets, call, stall_timeout)

    def stream_thread_and_run(
        self,
        content: str,
        request: RunRequest,
        *,
        thread_metadata: Mapping[str, str] | None = None,
        stall_timeout: float = 30.0,
    ) -> Iterator[RunEvent]:
        """Create a conversation, then stream a response on it (two requests)."""
        response_body(request)  # refuse a bad request before creating anything
        thread = self.create_thread(metadata=thread_metadata)
        call = stream_run(thread.id, request, content, None)
        return open_stream(self._client, self._secrets, call, stall_timeout)

    def stream_tool_outputs(
        self,
        thread_id: str,
        run_id: str,
        outputs: Sequence[ToolOutput],
        *,
        request: RunRequest | None = None,
        stall_timeout: float = 30.0,
    ) -> Iterator[RunEvent]:
        """Send function call outputs in a new streamed response."""
        call = stream_tool_outputs(thread_id, outputs, request)
        return open_stream(self._client, self._secrets, call, stall_timeout)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ResponsesTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncResponsesTransport(ClientTransport[openai.AsyncOpenAI]):
    """The Responses + Conversations APIs through ``openai.AsyncOpenAI``."""

    client_class = openai.AsyncOpenAI

    def _setup(self) -> None:
        self._wire = ResponsesWire()

    async def create_thread(self, *, metadata: Mapping[str, str] | None = None) -> Thread:
        return await aexecute(self._client, self._secrets, self._wire.create_thread(metadata))

    async def add_message(
        self, thread_id: str, content: str, *, metadata: Mapping[str, str] | None = None
    ) -> Message:
        flow = self._wire.add_message(thread_id, content, metadata)
        return await aexecute(self._client, self._secrets, flow)

    async def start_run(
        self,
        thread_id: str,
        request: RunRequest,
        *,
        content: str | None = None,
        message_metadata: Mapping[str, str] | None = None,
    ) -> Run:
        flow = self._wire.start_run(thread_id, request, content, message_metadata)
        return await aexecute(self._client, self._secrets, flow)

    async def create_thread_and_run(
        self, content: str, request: RunRequest, *, thread_metadata: Mapping[str, str] | None = None
    ) -> Run:
        flow = self._wire.create_thread_and_run(content, request, thread_metadata)
        return await aexecute(self._client, self._secrets, flow)

    async def get_run(self, thread_id: str, run_id: str) -> Run:
        return await aexecute(self._client, self._secrets, self._wire.get_run(thread_id, run_id))

    async def cancel_run(self, thread_id: str, run_id: str) -> Run:
        flow = self._wire.cancel_run(thread_id, run_id)
        return await aexecute(self._client, self._secrets, flow)

    async def submit_tool_outputs(
        self,
        thread_id: str,
        run_id: str,
        outputs: Sequence[ToolOutput],
        *,
        request: RunRequest | None = None,
    ) -> Run:
        flow = self._wire.submit_tool_outputs(thread_id, run_id, outputs, request)
        return await aexecute(self._client, self._secrets, flow)

    async def list_run_messages(
        self, thread_id: str, run_id: str, *, after: str | None = None, limit: int = 100
    ) -> MessagePage:
        flow = self._wire.list_run_messages(thread_id, run_id, after, limit)
        return await aexecute(self._client, self._secrets, flow)

    async def get_assistant(self, assistant_id: str) -> Assistant:
        raise no_assistant_objects(assistant_id)

    async def resolve_assistant(self, spec: AssistantSpec) -> None:
        """Nothing to create: the spec travels with every response."""
        return

    async def stream_run(
        self,
        thread_id: str,
        request: RunRequest,
        *,
        content: str | None = None,
        message_metadata: Mapping[str, str] | None = None,
        stall_timeout: float = 30.0,
    ) -> AsyncIterator[RunEvent]:
        """See :meth:`ResponsesTransport.stream_run`."""
        call = stream_run(thread_id, request, content, message_metadata)
        return await aopen_stream(self._client, self._secrets, call, stall_timeout)

    async def stream_thread_and_run(
        self,
        content: str,
        request: RunRequest,
        *,
        thread_metadata: Mapping[str, str] | None = None,
        stall_timeout: float = 30.0,
    ) -> AsyncIterator[RunEvent]:
        """See :meth:`ResponsesTransport.stream_thread_and_run`."""
        response_body(request)
        thread = await self.create_thread(metadata=thread_metadata)
        call = stream_run(thread.id, request, content, None)
        return await aopen_stream(self._client, self._secrets, call, stall_timeout)

    async def stream_tool_outputs(
        self,
        thread_id: str,
        run_id: str,
        outputs: Sequence[ToolOutput],
        *,
        request: RunRequest | None = None,
        stall_timeout: float = 30.0,
    ) -> AsyncIterator[RunEvent]:
        """See :meth:`ResponsesTransport.stream_tool_outputs`."""
        call = stream_tool_outputs(thread_id, outputs, request)
        return await aopen_stream(self._client, self._secrets, call, stall_timeout)

    async def aclose(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> AsyncResponsesTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
