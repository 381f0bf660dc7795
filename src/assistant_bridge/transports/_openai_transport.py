"""OpenAITransport and AsyncOpenAITransport: the Assistants API through ``openai``.

Both perform the same wire operations (:mod:`._assistants_wire`); they differ only in how a
call is made (:func:`._calls.execute` or :func:`._calls.aexecute`). Works with openai 1.37.1
(pydantic 1) and with openai 3.x (pydantic 2).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence

import openai

from assistant_bridge._values.events import RunEvent
from assistant_bridge._values.models import Assistant, Message, MessagePage, Run, Thread, ToolOutput
from assistant_bridge._values.spec import AssistantSpec
from assistant_bridge.transports._assistants import AssistantsWire
from assistant_bridge.transports._client import aexecute, aopen_stream, execute, open_stream
from assistant_bridge.transports._openai import ClientTransport, map_openai_errors
from assistant_bridge.transports._protocol import RunRequest

__all__ = ["AsyncOpenAITransport", "OpenAITransport", "map_openai_errors"]


class OpenAITransport(ClientTransport[openai.OpenAI]):
    """The Assistants API through the official ``openai`` client.

    Give a key (and optionally organization, project, base_url), use :meth:`from_env`, or pass
    a ready ``openai.OpenAI`` client as ``client``. The key is never shown in a repr,
    a log line or an error message.
    """

    client_class = openai.OpenAI

    def _setup(self) -> None:
        self._wire = AssistantsWire()

    def create_thread(self, *, metadata: Mapping[str, str] | None = None) -> Thread:
        return execute(self._client, self._secrets, self._wire.create_thread(metadata))

    def add_message(
        self, thread_id: str, content: str, *, metadata: Mapping[str, str] | None = None
    ) -> Message:
        return execute(
            self._client, self._secrets, self._wire.add_message(thread_id, content, metadata)
        )

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

    def find_run(self, thread_id: str, key: str) -> Run | None:
        """The run this library marked with ``key`` on the thread, if it exists."""
        return execute(self._client, self._secrets, self._wire.find_run(thread_id, key))

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
        flow = self._wire.submit_tool_outputs(thread_id, run_id, outputs)
        return execute(self._client, self._secrets, flow)

    def list_run_messages(
        self, thread_id: str, run_id: str, *, after: str | None = None, limit: int = 100
    ) -> MessagePage:
        flow = self._wire.list_run_messages(thread_id, run_id, after, limit)
        return execute(self._client, self._secrets, flow)

    def get_assistant(self, assistant_id: str) -> Assistant:
        return execute(self._client, self._secrets, self._wire.get_assistant(assistant_id))

    def resolve_assistant(self, spec: AssistantSpec) -> str:
        """The assistant object for ``spec``: found by name and content hash, updated when the
        definition changed, created when missing. Never a duplicate. The transport remembers
        the answer, so sessions sharing it look it up once."""
        return execute(self._client, self._secrets, self._wire.resolve_assistant(spec))

    def stream_run(
        self,
        thread_id: str,
        request: RunRequest,
        *,
        content: str | None = None,
        message_metadata: Mapping[str, str] | None = None,
        stall_timeout: float = 30.0,
    ) -> Iterator[RunEvent]:
        """Start a run and stream its events (one request, the message included)."""
        call = self._wire.stream_run(thread_id, request, content, message_metadata)
        return open_stream(self._client, self._secrets, call, stall_timeout)

    def stream_thread_and_run(
        self,
        content: str,
        request: RunRequest,
        *,
        thread_metadata: Mapping[str, str] | None = None,
        stall_timeout: float = 30.0,
    ) -> Iterator[RunEvent]:
        """Create a thread, start a run and stream its events, in one request."""
        call = self._wire.stream_thread_and_run(content, request, thread_metadata)
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
        """Submit tool outputs and stream the rest of the run."""
        call = self._wire.stream_tool_outputs(thread_id, run_id, outputs)
        return open_stream(self._client, self._secrets, call, stall_timeout)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OpenAITransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncOpenAITransport(ClientTransport[openai.AsyncOpenAI]):
    """The Assistants API through ``openai.AsyncOpenAI``; the async twin of OpenAITransport."""

    client_class = openai.AsyncOpenAI

    def _setup(self) -> None:
        self._wire = AssistantsWire()

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

    async def find_run(self, thread_id: str, key: str) -> Run | None:
        """See :meth:`OpenAITransport.find_run`."""
        return await aexecute(self._client, self._secrets, self._wire.find_run(thread_id, key))

    async def get_run(self, thread_id: str, run_id: str) -> Run:
        return await aexecute(self._client, self._secrets, self._wire.get_run(thread_id, run_id))

    async def cancel_run(self, thread_id: str, run_id: str) -> Run:
        return await aexecute(self._client, self._secrets, self._wire.cancel_run(thread_id, run_id))

    async def submit_tool_outputs(
        self,
        thread_id: str,
        run_id: str,
        outputs: Sequence[ToolOutput],
        *,
        request: RunRequest | None = None,
    ) -> Run:
        flow = self._wire.submit_tool_outputs(thread_id, run_id, outputs)
        return await aexecute(self._client, self._secrets, flow)

    async def list_run_messages(
        self, thread_id: str, run_id: str, *, after: str | None = None, limit: int = 100
    ) -> MessagePage:
        flow = self._wire.list_run_messages(thread_id, run_id, after, limit)
        return await aexecute(self._client, self._secrets, flow)

    async def get_assistant(self, assistant_id: str) -> Assistant:
        return await aexecute(self._client, self._secrets, self._wire.get_assistant(assistant_id))

    async def resolve_assistant(self, spec: AssistantSpec) -> str:
        """See :meth:`OpenAITransport.resolve_assistant`."""
        return await aexecute(self._client, self._secrets, self._wire.resolve_assistant(spec))

    async def stream_run(
        self,
        thread_id: str,
        request: RunRequest,
        *,
        content: str | None = None,
        message_metadata: Mapping[str, str] | None = None,
        stall_timeout: float = 30.0,
    ) -> AsyncIterator[RunEvent]:
        """See :meth:`OpenAITransport.stream_run`."""
        call = self._wire.stream_run(thread_id, request, content, message_metadata)
        return await aopen_stream(self._client, self._secrets, call, stall_timeout)

    async def stream_thread_and_run(
        self,
        content: str,
        request: RunRequest,
        *,
        thread_metadata: Mapping[str, str] | None = None,
        stall_timeout: float = 30.0,
    ) -> AsyncIterator[RunEvent]:
        """See :meth:`OpenAITransport.stream_thread_and_run`."""
        call = self._wire.stream_thread_and_run(content, request, thread_metadata)
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
        """See :meth:`OpenAITransport.stream_tool_outputs`."""
        call = self._wire.stream_tool_outputs(thread_id, run_id, outputs)
        return await aopen_stream(self._client, self._secrets, call, stall_timeout)

    async def aclose(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> AsyncOpenAITransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
