"""Type-checked, not run: the public API's types as a user sees them (mypy --strict)."""

from __future__ import annotations

from typing import Any, Literal, assert_type

import attrs

from assistant_bridge import JsonParser, Reply, SchemaParser, TextParser, ThreadSession
from assistant_bridge.testing import FakeTransport, ScriptedBackend


@attrs.frozen
class Verdict:
    action: Literal["escalate", "ignore"]


def check(session: ThreadSession) -> None:
    assert_type(session.ask("q"), Reply[Any])
    assert_type(session.ask("q", parser=SchemaParser(Verdict)), Reply[Verdict])
    assert_type(session.ask("q", parser=TextParser()), Reply[str])
    assert_type(session.ask("q", parser=JsonParser()).parsed, Any)
    assert_type(session.thread_id, str | None)
    assert_type(session.ask("q", timeout=5, wait="poll", metadata={"k": "v"}), Reply[Any])
    assert_type(session.stream("q").reply, Reply[Any])


ThreadSession(FakeTransport(ScriptedBackend()), "asst_x")


def errors(exc: Exception) -> None:
    from assistant_bridge.exceptions import (
        ArgumentTypeError,
        InvalidArgumentError,
        UnsentRequestError,
    )

    if isinstance(exc, InvalidArgumentError | ArgumentTypeError):
        assert_type(exc.argument, str)
    if isinstance(exc, UnsentRequestError):
        assert_type(exc.unsent, bool)
        assert_type(exc.request_id, str | None)
