"""Layer 3, transports: the :class:`Transport` protocol a session needs, and its
implementations over ``openai`` for the Assistants and Responses wires.

Each wire is written once as sans-I/O request building and response decoding; the sync and
async transports only perform the requests. :mod:`._openai` is the one module that talks to
``openai``. May import: ``_values``, ``exceptions``, ``openai``.
"""

from assistant_bridge.transports._openai_transport import AsyncOpenAITransport, OpenAITransport
from assistant_bridge.transports._protocol import ASK_KEY, AsyncTransport, RunRequest, Transport
from assistant_bridge.transports._responses_transport import (
    AsyncResponsesTransport,
    ResponsesTransport,
)

__all__ = [
    "ASK_KEY",
    "AsyncOpenAITransport",
    "AsyncResponsesTransport",
    "AsyncTransport",
    "OpenAITransport",
    "ResponsesTransport",
    "RunRequest",
    "Transport",
]
