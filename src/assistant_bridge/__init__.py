"""assistant_bridge: ask an OpenAI assistant, wait for the run, get a parsed reply you can trust.

The public API lives here; implementation modules are private (``_name``). Errors are in
:mod:`assistant_bridge.exceptions`, test doubles in :mod:`assistant_bridge.testing`.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from assistant_bridge._parsing.parsers import JsonParser, Parser, SchemaParser, TextParser
from assistant_bridge._runstate.table import (
    ACTIVE_STATUSES,
    DEFAULT_TABLE,
    Finish,
    FinishIncomplete,
    Handler,
    HandleRequiredAction,
    KeepWaiting,
    RaiseError,
    RunStateMachine,
    run_cancelled,
    run_expired,
    run_failed,
    unexpected_status,
)
from assistant_bridge._session.flow import ToolHandler
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
from assistant_bridge._values.events import (
    MessageDone,
    ReplyReady,
    RunStatusChanged,
    StreamEvent,
    TextDelta,
    ToolCallsRequested,
)
from assistant_bridge._values.models import (
    Assistant,
    ImageFileContent,
    IncompleteDetails,
    LastError,
    Message,
    MessagePage,
    RequiredAction,
    Run,
    RunStatus,
    RunStep,
    StepCall,
    TextAnnotation,
    TextContent,
    Thread,
    ToolCall,
    ToolOutput,
    UnknownContent,
    Usage,
)
from assistant_bridge._values.reply import Citation, OutputFile, Reply
from assistant_bridge._values.spec import (
    AssistantSpec,
    CodeInterpreter,
    FileSearch,
    FunctionTool,
    JsonSchemaFormat,
    Tool,
)
from assistant_bridge._version import __version__
from assistant_bridge.exceptions import AssistantBridgeError
from assistant_bridge.transports import (
    AsyncFileStore,
    AsyncOpenAITransport,
    AsyncResponsesTransport,
    AsyncRunFinder,
    AsyncRunStepReader,
    AsyncStreamingTransport,
    AsyncTransport,
    FileStore,
    OpenAITransport,
    ResponsesTransport,
    RunFinder,
    RunRequest,
    RunSettings,
    RunStepReader,
    StreamingTransport,
    Transport,
    map_openai_errors,
)

if TYPE_CHECKING:
    from assistant_bridge._session.parallel import aask_many, ask_many
    from assistant_bridge.knowledge import (
        IndexingFailedError,
        IndexingTimeoutError,
        KnowledgeBase,
        KnowledgeBaseError,
        SyncProgress,
        SyncResult,
        sample_runbooks,
    )

_LAZY = {
    "aask_many": "assistant_bridge._session.parallel",
    "ask_many": "assistant_bridge._session.parallel",
    "IndexingFailedError": "assistant_bridge.knowledge",
    "IndexingTimeoutError": "assistant_bridge.knowledge",
    "KnowledgeBase": "assistant_bridge.knowledge",
    "KnowledgeBaseError": "assistant_bridge.knowledge",
    "SyncProgress": "assistant_bridge.knowledge",
    "SyncResult": "assistant_bridge.knowledge",
    "sample_runbooks": "assistant_bridge.knowledge",
}
"""Public names loaded on first use, so ``import assistant_bridge`` stays light."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'assistant_bridge' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "ACTIVE_STATUSES",
    "DEFAULT_TABLE",
    "AdaptivePolling",
    "AskOptions",
    "Assistant",
    "AssistantBridgeError",
    "AssistantSpec",
    "AsyncFileStore",
    "AsyncOpenAITransport",
    "AsyncReplyStream",
    "AsyncResponsesTransport",
    "AsyncRunFinder",
    "AsyncRunStepReader",
    "AsyncStreamingTransport",
    "AsyncThreadSession",
    "AsyncTransport",
    "Citation",
    "CodeInterpreter",
    "FileSearch",
    "FileStore",
    "Finish",
    "FinishIncomplete",
    "FixedInterval",
    "FunctionTool",
    "HandleRequiredAction",
    "Handler",
    "ImageFileContent",
    "IncompleteDetails",
    "IndexingFailedError",
    "IndexingTimeoutError",
    "JsonParser",
    "JsonSchemaFormat",
    "KeepWaiting",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "LastError",
    "Message",
    "MessageDone",
    "MessagePage",
    "OpenAITransport",
    "OutputFile",
    "Parser",
    "PollPolicy",
    "RaiseError",
    "RegisteredTool",
    "Reply",
    "ReplyReady",
    "ReplyStream",
    "RequiredAction",
    "ResponsesTransport",
    "RetryPolicy",
    "Run",
    "RunFinder",
    "RunRequest",
    "RunSettings",
    "RunStateMachine",
    "RunStatus",
    "RunStatusChanged",
    "RunStep",
    "RunStepReader",
    "SchemaParser",
    "SessionOptions",
    "StepCall",
    "StreamEvent",
    "StreamingTransport",
    "SyncProgress",
    "SyncResult",
    "TextAnnotation",
    "TextContent",
    "TextDelta",
    "TextParser",
    "Thread",
    "ThreadSession",
    "Tool",
    "ToolCall",
    "ToolCallsRequested",
    "ToolHandler",
    "ToolOutput",
    "ToolRegistry",
    "Transport",
    "UnknownContent",
    "Usage",
    "__version__",
    "aask_many",
    "ask_many",
    "map_openai_errors",
    "run_cancelled",
    "run_expired",
    "run_failed",
    "sample_runbooks",
    "unexpected_status",
]

# A library does not configure logging; this keeps Python's last-resort handler from printing
# our warnings when the application has not set any up.
logging.getLogger("assistant_bridge").addHandler(logging.NullHandler())
