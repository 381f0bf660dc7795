"""The public API is what __all__ says, and every name in it exists."""

from __future__ import annotations

import json
import subprocess
import sys

import assistant_bridge
import assistant_bridge.exceptions
import assistant_bridge.runstate
import assistant_bridge.testing

# The public API, pinned: a name added to or dropped from ``assistant_bridge.__all__`` is a
# decision, made here and in CHANGELOG.md, not a side effect.
PUBLIC = sorted(
    [
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
)
RUNSTATE = sorted(
    [
        "ACTIVE_STATUSES",
        "DEFAULT_TABLE",
        "Finish",
        "FinishIncomplete",
        "HandleRequiredAction",
        "Handler",
        "KeepWaiting",
        "RaiseError",
        "RunStateMachine",
        "RunStatus",
        "run_cancelled",
        "run_expired",
        "run_failed",
        "unexpected_status",
    ]
)


class TestExports:
    def test_all_names_exist(self) -> None:
        """Everything listed in __all__ can be imported."""
        for module in (assistant_bridge, assistant_bridge.exceptions, assistant_bridge.testing):
            for name in module.__all__:
                assert hasattr(module, name), f"{module.__name__}.{name}"

    def test_contract_names(self) -> None:
        """The names issue 2 promises users are exported."""
        for name in (
            "JsonParser",
            "OpenAITransport",
            "ThreadSession",
            "Reply",
            "TextParser",
            "SchemaParser",
            "RunStateMachine",
            "RunStatus",
            "Transport",
        ):
            assert name in assistant_bridge.__all__

    def test_every_error_derives_from_the_base(self) -> None:
        """One tree: every exported error is an AssistantBridgeError."""
        for name in assistant_bridge.exceptions.__all__:
            cls = getattr(assistant_bridge.exceptions, name)
            assert issubclass(cls, assistant_bridge.exceptions.AssistantBridgeError)

    def test_all_is_pinned(self) -> None:
        """``assistant_bridge.__all__`` is exactly the pinned list, sorted."""
        assert assistant_bridge.__all__ == PUBLIC

    def test_the_state_table_has_one_public_home(self) -> None:
        """Its parts are listed in ``assistant_bridge.runstate``, not at the top level; the old
        top-level names still import (the same objects) for code written before the move."""
        assert assistant_bridge.runstate.__all__ == RUNSTATE
        moved = set(RUNSTATE) - {"RunStateMachine", "RunStatus"}
        assert not moved & set(assistant_bridge.__all__)
        for name in moved:
            assert getattr(assistant_bridge, name) is getattr(assistant_bridge.runstate, name)

    def test_every_error_is_importable_from_the_package(self) -> None:
        """``from assistant_bridge import RunTimeoutError`` works, as ``openai.APIError`` does:
        the whole tree, the same classes as in ``assistant_bridge.exceptions``."""
        for name in assistant_bridge.exceptions.__all__:
            assert name in assistant_bridge.__all__
            assert getattr(assistant_bridge, name) is getattr(assistant_bridge.exceptions, name)

    def test_an_unknown_name_is_an_attribute_error(self) -> None:
        import pytest

        with pytest.raises(AttributeError, match="no attribute 'Nope'"):
            _ = assistant_bridge.Nope

    def test_import_loads_nothing_heavy_until_a_name_is_used(self) -> None:
        """``import assistant_bridge`` (what the command line's --help pays) loads neither
        openai nor attrs nor the emulator; the first session name loads what it needs, and
        openai is loaded when the first transport is built."""
        probe = (
            "import sys, json\n"
            "import assistant_bridge\n"
            "first = sorted(sys.modules)\n"
            "from assistant_bridge import ThreadSession, OpenAITransport\n"
            "named = sorted(sys.modules)\n"
            "OpenAITransport(api_key='sk-probe', base_url='http://127.0.0.1:9/v1')\n"
            "print(json.dumps([first, named, sorted(sys.modules)]))"
        )
        out = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        ).stdout
        bare, named, built = (set(names) for names in json.loads(out))
        assert not {"openai", "attrs", "assistant_bridge.testing._emulator"} & bare
        assert "assistant_bridge._session" in named
        assert not {"openai", "pydantic"} & named
        assert "openai" in built
        assert "assistant_bridge.testing._emulator" not in built

    def test_version(self) -> None:
        """__version__ is a string."""
        assert isinstance(assistant_bridge.__version__, str)


class TestErrorFields:
    """Errors take the server's fields and the run's ids once, as typed keyword arguments."""

    def test_transport_errors_keep_their_fields_and_defaults(self) -> None:
        from assistant_bridge.exceptions import (
            ActiveRunError,
            RateLimitError,
            UnsentRequestError,
        )

        limited = RateLimitError("slow down", retry_after=2.0, request_id="req_1", code="rl")
        assert (limited.status_code, limited.retry_after, limited.request_id) == (429, 2.0, "req_1")
        active = ActiveRunError("busy", thread_id="thread_1", run_id="run_1")
        assert (active.status_code, active.thread_id, active.run_id) == (400, "thread_1", "run_1")
        unsent = UnsentRequestError("refused", status_code=None)
        assert unsent.unsent is True
        assert unsent.status_code is None

    def test_an_unknown_field_is_refused(self) -> None:
        import pytest

        from assistant_bridge.exceptions import ServerError

        with pytest.raises(TypeError, match="statuscode"):
            ServerError("boom", statuscode=500)  # type: ignore[call-arg]

    def test_run_errors_carry_the_run(self) -> None:
        from assistant_bridge.exceptions import RunFailedError, RunTimeoutError

        failed = RunFailedError("f", thread_id="t", run_id="r", code="c", error_message="m")
        assert (failed.thread_id, failed.run_id, failed.status, failed.code) == (
            "t",
            "r",
            "failed",
            "c",
        )
        late = RunTimeoutError(
            "late",
            thread_id="t",
            run_id="r",
            status="cancelling",
            timeout=1.0,
            cancel_confirmed=False,
        )
        assert (late.status, late.timeout, late.cancel_confirmed) == ("cancelling", 1.0, False)
