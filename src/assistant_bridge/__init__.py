"""assistant_bridge: ask an OpenAI assistant, wait for the run, get a parsed reply you can trust.

The public API lives here; implementation modules are private (``_name``). The errors are here
too (and in :mod:`assistant_bridge.exceptions`), the run state table's parts in
:mod:`assistant_bridge.runstate`, test doubles in :mod:`assistant_bridge.testing`.

Names load on first use (PEP 562), so that ``import assistant_bridge`` and the command line's
``--help`` do not pay for ``openai``: ``from assistant_bridge import ThreadSession`` loads the
session and the transports it needs, and nothing a first call needs is left for later.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from assistant_bridge._version import __version__

if TYPE_CHECKING:
    from assistant_bridge._parsing.parsers import (
        JsonParser,
        Parser,
        SchemaParser,
        TextParser,
    )
    from assistant_bridge._runstate.table import (
        RunStateMachine,
    )
    from assistant_bridge._session import (
        AdaptivePolling,
        AskOptions,
        AsyncReplyStream,
        AsyncThreadSession,
        FixedInterval,
        PollPolicy,
        RegisteredTool,
        ReplyStream,
        RetryPolicy,
        SessionOptions,
        ThreadSession,
        ToolHandler,
        ToolRegistry,
        aask_many,
        ask_many,
    )
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
    from assistant_bridge._values.reply import (
        Citation,
        OutputFile,
        Reply,
    )
    from assistant_bridge._values.spec import (
        AssistantSpec,
        CodeInterpreter,
        FileSearch,
        FunctionTool,
        JsonSchemaFormat,
        Tool,
    )
    from assistant_bridge.exceptions import (
        ActionRequiredError,
        ActiveRunError,
        APIConnectionError,
        ArgumentTypeError,
        AssistantBridgeError,
        AuthenticationError,
        BadRequestError,
        ConfigurationError,
        ConflictError,
        InvalidArgumentError,
        MalformedResponseError,
        NotFoundError,
        ParseError,
        RateLimitError,
        RunCancelledError,
        RunError,
        RunExpiredError,
        RunFailedError,
        RunIncompleteError,
        RunTimeoutError,
        SchemaValidationError,
        ServerError,
        StreamInterruptedError,
        ToolError,
        TransportError,
        UnexpectedStatusError,
        UnsentRequestError,
        UnsupportedOperationError,
    )
    from assistant_bridge.knowledge import (
        IndexingFailedError,
        IndexingTimeoutError,
        KnowledgeBase,
        KnowledgeBaseError,
        SyncProgress,
        SyncResult,
        sample_runbooks,
    )

    # The state table's parts moved to assistant_bridge.runstate; the old names still work.
    from assistant_bridge.runstate import ACTIVE_STATUSES as ACTIVE_STATUSES
    from assistant_bridge.runstate import DEFAULT_TABLE as DEFAULT_TABLE
    from assistant_bridge.runstate import Finish as Finish
    from assistant_bridge.runstate import FinishIncomplete as FinishIncomplete
    from assistant_bridge.runstate import Handler as Handler
    from assistant_bridge.runstate import HandleRequiredAction as HandleRequiredAction
    from assistant_bridge.runstate import KeepWaiting as KeepWaiting
    from assistant_bridge.runstate import RaiseError as RaiseError
    from assistant_bridge.runstate import run_cancelled as run_cancelled
    from assistant_bridge.runstate import run_expired as run_expired
    from assistant_bridge.runstate import run_failed as run_failed
    from assistant_bridge.runstate import unexpected_status as unexpected_status
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

_LAZY: dict[str, str] = {
    **dict.fromkeys(
        ["JsonParser", "Parser", "SchemaParser", "TextParser"], "assistant_bridge._parsing.parsers"
    ),
    **dict.fromkeys(["RunStateMachine"], "assistant_bridge._runstate.table"),
    **dict.fromkeys(
        [
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
        ],
        "assistant_bridge._session",
    ),
    **dict.fromkeys(
        [
            "MessageDone",
            "ReplyReady",
            "RunStatusChanged",
            "StreamEvent",
            "TextDelta",
            "ToolCallsRequested",
        ],
        "assistant_bridge._values.events",
    ),
    **dict.fromkeys(
        [
            "Assistant",
            "ImageFileContent",
            "IncompleteDetails",
            "LastError",
            "Message",
            "MessagePage",
            "RequiredAction",
            "Run",
            "RunStatus",
            "RunStep",
            "StepCall",
            "TextAnnotation",
            "TextContent",
            "Thread",
            "ToolCall",
            "ToolOutput",
            "UnknownContent",
            "Usage",
        ],
        "assistant_bridge._values.models",
    ),
    **dict.fromkeys(["Citation", "OutputFile", "Reply"], "assistant_bridge._values.reply"),
    **dict.fromkeys(
        [
            "AssistantSpec",
            "CodeInterpreter",
            "FileSearch",
            "FunctionTool",
            "JsonSchemaFormat",
            "Tool",
        ],
        "assistant_bridge._values.spec",
    ),
    **dict.fromkeys(
        [
            "APIConnectionError",
            "ActionRequiredError",
            "ActiveRunError",
            "ArgumentTypeError",
            "AssistantBridgeError",
            "AuthenticationError",
            "BadRequestError",
            "ConfigurationError",
            "ConflictError",
            "InvalidArgumentError",
            "MalformedResponseError",
            "NotFoundError",
            "ParseError",
            "RateLimitError",
            "RunCancelledError",
            "RunError",
            "RunExpiredError",
            "RunFailedError",
            "RunIncompleteError",
            "RunTimeoutError",
            "SchemaValidationError",
            "ServerError",
            "StreamInterruptedError",
            "ToolError",
            "TransportError",
            "UnexpectedStatusError",
            "UnsentRequestError",
            "UnsupportedOperationError",
        ],
        "assistant_bridge.exceptions",
    ),
    **dict.fromkeys(
        [
            "IndexingFailedError",
            "IndexingTimeoutError",
            "KnowledgeBase",
            "KnowledgeBaseError",
            "SyncProgress",
            "SyncResult",
            "sample_runbooks",
        ],
        "assistant_bridge.knowledge",
    ),
    **dict.fromkeys(
        [
            "AsyncFileStore",
            "AsyncOpenAITransport",
            "AsyncResponsesTransport",
            "AsyncRunFinder",
            "AsyncRunStepReader",
            "AsyncStreamingTransport",
            "AsyncTransport",
            "FileStore",
            "OpenAITransport",
            "ResponsesTransport",
            "RunFinder",
            "RunRequest",
            "RunSettings",
            "RunStepReader",
            "StreamingTransport",
            "Transport",
            "map_openai_errors",
        ],
        "assistant_bridge.transports",
    ),
}
"""Each public name and the module it is loaded from on first use."""

_MOVED = dict.fromkeys(
    [
        "ACTIVE_STATUSES",
        "DEFAULT_TABLE",
        "Finish",
        "FinishIncomplete",
        "HandleRequiredAction",
        "Handler",
        "KeepWaiting",
        "RaiseError",
        "run_cancelled",
        "run_expired",
        "run_failed",
        "unexpected_status",
    ],
    "assistant_bridge.runstate",
)
"""The state table's parts, once top-level names: still importable here, documented (and
listed) in :mod:`assistant_bridge.runstate`."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name) or _MOVED.get(name)
    if module is None:
        msg = f"module 'assistant_bridge' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "APIConnectionError",
    "ActionRequiredError",
    "ActiveRunError",
    "AdaptivePolling",
    "ArgumentTypeError",
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
    "AuthenticationError",
    "BadRequestError",
    "Citation",
    "CodeInterpreter",
    "ConfigurationError",
    "ConflictError",
    "FileSearch",
    "FileStore",
    "FixedInterval",
    "FunctionTool",
    "ImageFileContent",
    "IncompleteDetails",
    "IndexingFailedError",
    "IndexingTimeoutError",
    "InvalidArgumentError",
    "JsonParser",
    "JsonSchemaFormat",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "LastError",
    "MalformedResponseError",
    "Message",
    "MessageDone",
    "MessagePage",
    "NotFoundError",
    "OpenAITransport",
    "OutputFile",
    "ParseError",
    "Parser",
    "PollPolicy",
    "RateLimitError",
    "RegisteredTool",
    "Reply",
    "ReplyReady",
    "ReplyStream",
    "RequiredAction",
    "ResponsesTransport",
    "RetryPolicy",
    "Run",
    "RunCancelledError",
    "RunError",
    "RunExpiredError",
    "RunFailedError",
    "RunFinder",
    "RunIncompleteError",
    "RunRequest",
    "RunSettings",
    "RunStateMachine",
    "RunStatus",
    "RunStatusChanged",
    "RunStep",
    "RunStepReader",
    "RunTimeoutError",
    "SchemaParser",
    "SchemaValidationError",
    "ServerError",
    "SessionOptions",
    "StepCall",
    "StreamEvent",
    "StreamInterruptedError",
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
    "ToolError",
    "ToolHandler",
    "ToolOutput",
    "ToolRegistry",
    "Transport",
    "TransportError",
    "UnexpectedStatusError",
    "UnknownContent",
    "UnsentRequestError",
    "UnsupportedOperationError",
    "Usage",
    "__version__",
    "aask_many",
    "ask_many",
    "map_openai_errors",
    "sample_runbooks",
]

# A library does not configure logging; this keeps Python's last-resort handler from printing
# our warnings when the application has not set any up.
logging.getLogger("assistant_bridge").addHandler(logging.NullHandler())
