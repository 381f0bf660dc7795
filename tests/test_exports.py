"""The public API is what __all__ says, and every name in it exists."""

from __future__ import annotations

import assistant_bridge
import assistant_bridge.exceptions
import assistant_bridge.testing


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
