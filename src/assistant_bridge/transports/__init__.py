"""Layer 3, transports: the operations (:mod:`.ops`), the :class:`Transport` protocol that
performs them, and its implementations over ``openai`` for the Assistants and Responses wires.

Each wire is written once as sans-I/O request building and response decoding; the sync and
async transports only send them (:mod:`._client`, through an ``openai`` client, whose errors
:mod:`._openai` translates). May import: ``_values``, ``_runstate``, ``exceptions``,
``openai``; nothing above may import ``openai``.
"""

from assistant_bridge.transports import ops
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
    AssistantReader,
    AsyncAssistantReader,
    AsyncFileStore,
    AsyncRunFinder,
    AsyncRunStepReader,
    AsyncStreamingTransport,
    AsyncTransport,
    FileStore,
    NamedOp,
    RunFinder,
    RunStepReader,
    StreamingMethods,
    StreamingTransport,
    Transport,
    TransportMethods,
)
from assistant_bridge.transports.ops import *  # noqa: F403 (the operations, listed in ops.__all__)

__all__ = [
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
    "NamedOp",
    "OpenAITransport",
    "ResponsesTransport",
    "RunFinder",
    "RunStepReader",
    "StreamingMethods",
    "StreamingTransport",
    "Transport",
    "TransportMethods",
    "map_openai_errors",
    "ops",
    *ops.__all__,
]
