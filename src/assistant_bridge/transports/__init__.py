"""Layer 3, transports: the :class:`Transport` protocol a session needs, and its
implementations over ``openai`` for the Assistants and Responses wires.

Each wire is written once as sans-I/O request building and response decoding; the sync and
async transports only send them (:mod:`._client`, through an ``openai`` client, whose errors
:mod:`._openai` translates). May import: ``_values``, ``_runstate``, ``exceptions``,
``openai``; nothing above may import ``openai``.
"""

from assistant_bridge.transports._client import (
    AsyncClientTransport,
    AsyncOpenAITransport,
    AsyncResponsesTransport,
    ClientTransport,
    OpenAITransport,
    ResponsesTransport,
)
from assistant_bridge.transports._openai import map_openai_errors
from assistant_bridge.transports._protocol import (
    ASK_KEY,
    AssistantReader,
    AsyncAssistantReader,
    AsyncFileStore,
    AsyncRunFinder,
    AsyncRunStepReader,
    AsyncStreamingTransport,
    AsyncTransport,
    FileStore,
    Operation,
    RunFinder,
    RunRequest,
    RunStepReader,
    StreamingMethods,
    StreamingTransport,
    Transport,
    TransportMethods,
)

__all__ = [
    "ASK_KEY",
    "AssistantReader",
    "AsyncAssistantReader",
    "AsyncClientTransport",
    "AsyncFileStore",
    "AsyncOpenAITransport",
    "AsyncResponsesTransport",
    "AsyncRunFinder",
    "AsyncRunStepReader",
    "AsyncStreamingTransport",
    "AsyncTransport",
    "ClientTransport",
    "FileStore",
    "OpenAITransport",
    "Operation",
    "ResponsesTransport",
    "RunFinder",
    "RunRequest",
    "RunStepReader",
    "StreamingMethods",
    "StreamingTransport",
    "Transport",
    "TransportMethods",
    "map_openai_errors",
]
