"""Layer 4, the session: :class:`ThreadSession` and its async twin, the sans-I/O ask flow
they both drive, tools, retries, polling and parallel asks.

May import: ``_values``, ``_runstate``, ``_parsing``, ``transports`` (the protocol only, never
``openai``), ``exceptions``.
"""

from assistant_bridge._session.flow import ToolHandler
from assistant_bridge._session.parallel import aask_many, ask_many
from assistant_bridge._session.polling import AdaptivePolling, FixedInterval, PollPolicy
from assistant_bridge._session.retry import RetryPolicy
from assistant_bridge._session.sessions import (
    AskOptions,
    AsyncReplyStream,
    AsyncThreadSession,
    ReplyStream,
    SessionOptions,
    ThreadSession,
)
from assistant_bridge._session.tools import RegisteredTool, ToolRegistry

__all__ = [
    "AdaptivePolling",
    "AskOptions",
    "AsyncReplyStream",
    "AsyncThreadSession",
    "FixedInterval",
    "PollPolicy",
    "RegisteredTool",
    "ReplyStream",
    "RetryPolicy",
    "SessionOptions",
    "ThreadSession",
    "ToolHandler",
    "ToolRegistry",
    "aask_many",
    "ask_many",
]
