"""Type-checked, not run: keyed sessions are typed by their parser as ThreadSession is."""

from __future__ import annotations

from typing import Literal, assert_type

import attrs

from assistant_bridge import Reply, SchemaParser, TextParser
from assistant_bridge.registry import AsyncKeyedSession, KeyedSession, Registry
from assistant_bridge.testing import FakeTransport, ScriptedBackend


@attrs.frozen
class Verdict:
    action: Literal["escalate", "ignore"]


def keyed(registry: Registry) -> None:
    fake = FakeTransport(ScriptedBackend())
    plain = KeyedSession(fake, "inc-1", registry=registry, assistant_id="asst_x")
    assert_type(plain, KeyedSession[str])
    assert_type(plain.ask("q", idempotency_key="alert-1"), Reply[str])
    assert_type(plain.ask("q", parser=SchemaParser(Verdict)), Reply[Verdict])
    verdicts = KeyedSession(
        fake, "inc-1", registry=registry, assistant_id="asst_x", parser=SchemaParser(Verdict)
    )
    assert_type(verdicts.ask("q").parsed, Verdict)
    assert_type(verdicts.ask("q", parser=TextParser()), Reply[str])


async def keyed_async(session: AsyncKeyedSession[Verdict]) -> None:
    assert_type(await session.ask("q"), Reply[Verdict])
    assert_type(await session.ask("q", parser=TextParser()), Reply[str])
