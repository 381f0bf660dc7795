"""Input is refused before anything is sent, with typed errors that name the argument.

Named cases first (each bad input the issue lists), then a property: random values for every
public argument of ``ThreadSession(...)``, ``ask``, ``stream`` and their async twins end in
a successful ask, or in one of our errors before any request.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping
from typing import Any, get_type_hints

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from assistant_bridge import (
    AdaptivePolling,
    AskOptions,
    AssistantSpec,
    AsyncThreadSession,
    FixedInterval,
    RetryPolicy,
    RunStateMachine,
    SessionOptions,
    TextParser,
    ThreadSession,
    ToolRegistry,
    ask_many,
)
from assistant_bridge._session.arguments import ASK_CHECKS, SESSION_CHECKS
from assistant_bridge.exceptions import (
    ArgumentTypeError,
    AssistantBridgeError,
    ConfigurationError,
    InvalidArgumentError,
    NotFoundError,
    RunTimeoutError,
)
from assistant_bridge.testing import Call, FakeClock, FakeTransport, RunScript, ScriptedBackend

SPEC = AssistantSpec(name="triage", model="gpt-4o-mini")
OK = RunScript(reply="ok")


def fresh() -> tuple[FakeTransport, ScriptedBackend, str]:
    """A fake transport on a scripted backend holding one thread (whose id is returned)."""
    backend = ScriptedBackend(default=OK)
    thread = backend(Call("create_thread", {"metadata": None}))
    return FakeTransport(backend), backend, thread.id


def session(transport: FakeTransport, **options: Any) -> ThreadSession:
    clock = FakeClock()
    return ThreadSession(transport, "asst_abc", clock=clock.now, sleep=clock.sleep, **options)


class AsyncFake:
    """The async face of a FakeTransport: every operation awaited, nothing else changed."""

    def __init__(self, inner: FakeTransport) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.inner, name)
        if name == "supports":  # asked, not awaited
            return method

        async def call(*args: Any, **kwargs: Any) -> Any:
            return method(*args, **kwargs)

        return call


def refused(
    error: type[ConfigurationError], argument: str, act: Callable[[FakeTransport], object]
) -> ConfigurationError:
    """Run ``act``; it must raise ``error`` naming ``argument`` with no request made."""
    transport, _, _ = fresh()
    with pytest.raises(error) as info:
        act(transport)
    assert transport.calls == []
    assert info.value.argument == argument  # type: ignore[attr-defined]
    assert isinstance(info.value, AssistantBridgeError)
    return info.value


class TestErrorTypes:
    def test_both_ours_and_the_builtin(self) -> None:
        """InvalidArgumentError is a ValueError, ArgumentTypeError a TypeError; both ours."""
        assert issubclass(InvalidArgumentError, ValueError)
        assert issubclass(ArgumentTypeError, TypeError)
        for cls in (InvalidArgumentError, ArgumentTypeError):
            assert issubclass(cls, ConfigurationError)
            assert cls("x", argument="timeout").argument == "timeout"

    def test_tables_cover_the_typed_options(self) -> None:
        """Every SessionOptions and AskOptions key (and the session's parser) has a check."""
        assert set(SESSION_CHECKS) == {*get_type_hints(SessionOptions), "parser"}
        assert set(ASK_CHECKS) == set(get_type_hints(AskOptions))


class TestIds:
    @pytest.mark.parametrize(
        "bad",
        ["asst_abc\n", "asst_abc ", "..", "asst_../x", "asst/abc", "asst.abc", "", "a" * 257],
    )
    def test_assistant_id_matched_whole(self, bad: str) -> None:
        """No trailing newline, path segment, dot or space gets into a URL."""
        refused(InvalidArgumentError, "assistant_id", lambda t: ThreadSession(t, bad))

    @pytest.mark.parametrize("bad", ["thread_abc\n", "..", "thread_abc/runs", "run_abc"])
    def test_thread_id(self, bad: str) -> None:
        """A thread id is matched whole, and a run id is not taken for one."""
        refused(
            InvalidArgumentError, "thread_id", lambda t: ThreadSession(t, "asst_a", thread_id=bad)
        )

    @pytest.mark.parametrize("bad", ["run_abc\n", "..", "thread_abc", "run abc"])
    def test_run_id(self, bad: str) -> None:
        """resume() refuses a malformed run id, or another kind's."""
        transport, _, thread_id = fresh()
        s = ThreadSession(transport, "asst_abc", thread_id=thread_id)
        with pytest.raises(InvalidArgumentError) as info:
            s.resume(bad)
        assert info.value.argument == "run_id"
        assert transport.calls == []

    @pytest.mark.parametrize(
        ("argument", "value"),
        [("assistant_id", "asst_AbC123-x_y"), ("thread_id", "conv_6a3f11765ab8")],
    )
    def test_real_shapes_pass(self, argument: str, value: str) -> None:
        """Ids as the services and the emulator hand them out are accepted."""
        transport, _, _ = fresh()
        kwargs = {"thread_id": value} if argument == "thread_id" else {}
        ThreadSession(transport, "asst_AbC123-x_y", **kwargs)


class TestPrompt:
    @pytest.mark.parametrize("prompt", ["CPU \ud800 at 100%", "\udfff"])
    def test_lone_surrogate(self, prompt: str) -> None:
        """A prompt UTF-8 cannot encode is refused, saying where."""
        error = refused(InvalidArgumentError, "prompt", lambda t: session(t).ask(prompt))
        assert "surrogate" in str(error)

    @pytest.mark.parametrize("prompt", ["", "  \n"])
    def test_empty(self, prompt: str) -> None:
        """An empty prompt is refused."""
        refused(InvalidArgumentError, "prompt", lambda t: session(t).ask(prompt))

    def test_wrong_type(self) -> None:
        """bytes are not a prompt."""
        refused(ArgumentTypeError, "prompt", lambda t: session(t).ask(b"CPU"))  # type: ignore[arg-type]


class TestDurations:
    @pytest.mark.parametrize("value", [10**400, math.nan, math.inf, -math.inf, -1, 0, 1e7])
    @pytest.mark.parametrize("name", ["timeout", "stall_timeout"])
    def test_session_durations(self, name: str, value: float) -> None:
        """Non-finite, negative, zero or absurd durations are refused."""
        refused(InvalidArgumentError, name, lambda t: session(t, **{name: value}))

    @pytest.mark.parametrize("value", [math.nan, math.inf, -0.5, 10**400])
    def test_cancel_grace(self, value: float) -> None:
        """cancel_grace=nan used to make an ask that never returns."""
        refused(InvalidArgumentError, "cancel_grace", lambda t: session(t, cancel_grace=value))

    def test_cancel_grace_zero_is_allowed(self) -> None:
        """Zero grace is a choice: cancel without waiting for the confirmation."""
        transport, _, _ = fresh()
        session(transport, cancel_grace=0)

    @pytest.mark.parametrize("value", ["5", True, None, [5]])
    def test_cancel_grace_type(self, value: object) -> None:
        """cancel_grace="5" used to fail after five requests; now before any."""
        refused(ArgumentTypeError, "cancel_grace", lambda t: session(t, cancel_grace=value))

    @pytest.mark.parametrize("value", [10**400, math.nan, -1, 0])
    def test_ask_timeout(self, value: float) -> None:
        """A per-ask timeout is checked like the session's."""
        refused(InvalidArgumentError, "timeout", lambda t: session(t).ask("q", timeout=value))

    @pytest.mark.parametrize(
        ("build", "argument"),
        [
            (lambda: FixedInterval(math.nan), "interval"),
            (lambda: AdaptivePolling(cap=math.inf), "cap"),
            (lambda: AdaptivePolling(initial=-1), "initial"),
            (lambda: AdaptivePolling(max_server_hint=10**400), "max_server_hint"),
            (lambda: RetryPolicy(initial=math.nan), "initial"),
            (lambda: RetryPolicy(cap=math.inf), "cap"),
            (lambda: RetryPolicy(jitter=2.0), "jitter"),
            (lambda: ToolRegistry(timeout=math.nan), "timeout"),
            (lambda: ToolRegistry(timeout=-1), "timeout"),
            (lambda: ToolRegistry().register(timeout=math.inf)(len), "timeout"),
            (lambda: AssistantSpec(name="a", model="m", temperature=math.nan), "temperature"),
        ],
    )
    def test_every_other_duration(self, build: Callable[[], object], argument: str) -> None:
        """Poll intervals, retry waits, tool timeouts and the spec's numbers are checked too."""
        with pytest.raises(InvalidArgumentError) as info:
            build()
        assert info.value.argument == argument

    @pytest.mark.parametrize(
        ("build", "argument"),
        [
            (lambda: RetryPolicy(max_attempts=0), "max_attempts"),
            (lambda: RetryPolicy(max_attempts=10**400), "max_attempts"),
            (lambda: ToolRegistry(max_workers=0), "max_workers"),
            (lambda: ask_many(lambda: None, [], concurrency=0), "concurrency"),  # type: ignore[arg-type, return-value]
            (lambda: ask_many(lambda: None, [], concurrency=10**400), "concurrency"),  # type: ignore[arg-type, return-value]
        ],
    )
    def test_counts(self, build: Callable[[], object], argument: str) -> None:
        """Counts are whole numbers in a sane range."""
        with pytest.raises(InvalidArgumentError) as info:
            build()
        assert info.value.argument == argument


class TestOptionTypes:
    @pytest.mark.parametrize(
        ("options", "error", "argument"),
        [
            ({"instructions": 123}, ArgumentTypeError, "instructions"),
            ({"additional_instructions": ["x"]}, ArgumentTypeError, "additional_instructions"),
            ({"instructions": "\ud800"}, InvalidArgumentError, "instructions"),
            ({"model": ""}, InvalidArgumentError, "model"),
            ({"model": "gpt 4o"}, InvalidArgumentError, "model"),
            ({"model": 4}, ArgumentTypeError, "model"),
            ({"tools": "file_search"}, ArgumentTypeError, "tools"),
            ({"tools": [{"kind": "x"}]}, ArgumentTypeError, "tools[0]"),
            ({"metadata": {"k": 1}}, InvalidArgumentError, "metadata"),
            ({"metadata": ["k"]}, ArgumentTypeError, "metadata"),
            ({"metadata": {"k" * 65: "v"}}, InvalidArgumentError, "metadata"),
            ({"metadata": {str(i): "v" for i in range(16)}}, InvalidArgumentError, "metadata"),
            ({"wait": "later"}, InvalidArgumentError, "wait"),
            ({"wait": 1}, ArgumentTypeError, "wait"),
        ],
    )
    def test_ask_options(
        self, options: dict[str, Any], error: type[ConfigurationError], argument: str
    ) -> None:
        """Each ask option of the wrong type or value is refused, named."""
        refused(error, argument, lambda t: session(t).ask("q", **options))

    @pytest.mark.parametrize(
        ("options", "argument"),
        [
            ({"parser": "json"}, "parser"),
            ({"poll_policy": 1.0}, "poll_policy"),
            ({"state_machine": {}}, "state_machine"),
            ({"tool_handler": "tools"}, "tool_handler"),
            ({"max_tool_rounds": 2.5}, "max_tool_rounds"),
            ({"thread_metadata": "x"}, "thread_metadata"),
            ({"retry": 3}, "retry"),
            ({"on_active_run": None}, "on_active_run"),
            ({"clock": 0}, "clock"),
            ({"assistant": {"name": "x"}}, "assistant"),
        ],
    )
    def test_session_options(self, options: dict[str, Any], argument: str) -> None:
        """Each session option of the wrong type is refused, named."""
        refused(ArgumentTypeError, argument, lambda t: ThreadSession(t, "asst_a", **options))

    def test_transport_that_is_not_one(self) -> None:
        """An openai client (or anything else) given as the transport is refused, named."""
        with pytest.raises(ArgumentTypeError, match="FakeTransport") as info:
            ThreadSession(object(), "asst_a")  # type: ignore[arg-type]
        assert info.value.argument == "transport"

    def test_spec_values(self) -> None:
        """AssistantSpec refuses instructions of the wrong type and metadata past the limits."""
        with pytest.raises(ArgumentTypeError):
            AssistantSpec(name="a", model="m", instructions=123)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match="at most 15"):
            AssistantSpec(name="a", model="m", metadata={str(i): "v" for i in range(16)})


class TestUnknownKeywords:
    def test_session(self) -> None:
        """The public class is named, with the likely intended keyword."""
        with pytest.raises(
            ArgumentTypeError,
            match=r"^ThreadSession\(\) got an unexpected keyword argument 'time_out' "
            r"\(did you mean 'timeout'\?\)$",
        ):
            ThreadSession(FakeTransport(ScriptedBackend()), "asst_a", time_out=3)  # type: ignore[call-arg]

    @pytest.mark.parametrize("method", ["ask", "stream"])
    def test_ask_and_stream(self, method: str) -> None:
        """ask() and stream() name themselves, not a private helper."""
        transport, _, _ = fresh()
        call = getattr(session(transport), method)
        with pytest.raises(TypeError, match=rf"^ThreadSession\.{method}\(\) got an unexpected "):
            call("q", time_out=3)
        assert transport.calls == []

    def test_async_names_itself(self) -> None:
        """The async session names AsyncThreadSession."""
        transport, _, _ = fresh()
        s = AsyncThreadSession(AsyncFake(transport), "asst_a")  # type: ignore[arg-type]
        with pytest.raises(ArgumentTypeError, match=r"^AsyncThreadSession\.stream\(\) got"):
            s.stream("q", instruction="x")  # type: ignore[call-arg]
        with pytest.raises(ArgumentTypeError, match=r"^AsyncThreadSession\(\) got"):
            AsyncThreadSession(AsyncFake(transport), "asst_a", pol_policy=None)  # type: ignore[arg-type, call-arg]


# -- the property ------------------------------------------------------------------------------

_junk_text = st.text(
    alphabet=st.one_of(st.characters(), st.characters(categories=["Cs"])), max_size=12
)
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(),
    _junk_text,
    st.binary(max_size=4),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(_junk_text, st.one_of(_junk_text, st.integers()), max_size=3),
    st.sampled_from(["..", "thread_a\n", "run_a", "asst_a", "stream", "poll", "raise", "5"]),
)
"""Anything at all: wrong types, huge and non-finite numbers, surrogates, odd ids."""

_short = st.text(alphabet="abcdefghij-_ ", max_size=8)
VALID_SESSION: Mapping[str, st.SearchStrategy[Any]] = {
    "assistant": st.just(None),
    "thread_id": st.sampled_from([None, "thread_000001"]),
    "parser": st.sampled_from([None, TextParser()]),
    "timeout": st.floats(min_value=5.0, max_value=1e6),
    "poll_policy": st.sampled_from([None, FixedInterval(0.0), AdaptivePolling()]),
    "state_machine": st.sampled_from([None, RunStateMachine()]),
    "tool_handler": st.sampled_from([None, ToolRegistry()]),
    "max_tool_rounds": st.integers(min_value=0, max_value=1000),
    "cancel_grace": st.floats(min_value=0.0, max_value=1e6),
    "thread_metadata": st.dictionaries(_short, _short, max_size=3),
    "wait": st.sampled_from(["auto", "poll"]),
    "stall_timeout": st.floats(min_value=0.01, max_value=1e6),
    "retry": st.sampled_from([None, RetryPolicy()]),
    "on_active_run": st.sampled_from(["wait", "cancel", "raise"]),
    "clock": st.just(None),  # replaced by the fake clock when drawn
}
VALID_ASK: Mapping[str, st.SearchStrategy[Any]] = {
    "timeout": st.one_of(st.none(), st.floats(min_value=5.0, max_value=1e6)),
    "instructions": st.one_of(st.none(), st.text(max_size=20)),
    "additional_instructions": st.one_of(st.none(), st.text(max_size=20)),
    "model": st.sampled_from([None, "gpt-4o-mini", "ft:gpt-4o:org:x"]),
    "tools": st.sampled_from([None, [], [{"type": "file_search"}]]),
    "metadata": st.one_of(st.none(), st.dictionaries(_short, _short, max_size=3)),
    "wait": st.sampled_from([None, "auto", "poll"]),
}


@st.composite
def _options(draw: st.DrawFn, valid: Mapping[str, st.SearchStrategy[Any]]) -> dict[str, Any]:
    """Some of the options, valid but for at most one junk value, now and then with a
    misspelt extra keyword."""
    names = draw(st.lists(st.sampled_from(sorted(valid)), unique=True))
    junk = draw(st.sets(st.sampled_from(names), max_size=1)) if names else set()
    chosen = {name: draw(JUNK if name in junk else valid[name]) for name in names}
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        chosen["time_out"] = draw(JUNK)
    return chosen


def _mostly(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``valid`` three times in four, else junk."""
    return st.integers(min_value=0, max_value=3).flatmap(lambda n: JUNK if n == 0 else valid)


PROMPTS = _mostly(st.text(min_size=1, max_size=30))
ASSISTANT_IDS = _mostly(st.sampled_from(["asst_abc", "asst_X-1_y"]))
CASES = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _build(
    cls: type[Any], transport: object, assistant_id: Any, options: dict[str, Any]
) -> tuple[Any, FakeClock]:
    clock = FakeClock()
    if "clock" in options and options["clock"] is None:
        options["clock"] = clock.now
    sleep = clock.sleep if cls is ThreadSession else _async_sleep(clock)
    if assistant_id is None:
        options.setdefault("assistant", SPEC)
    return cls(transport, assistant_id, sleep=sleep, **options), clock


def _async_sleep(clock: FakeClock) -> Callable[[float], Any]:
    async def sleep(seconds: float) -> None:
        clock.sleep(seconds)

    return sleep


def _check_outcome(
    transport: FakeTransport,
    act: Callable[[], Any],
    timeout: object,
    default: object,
    unknown_thread: bool = False,
) -> None:
    """``act`` returns a reply, or raises one of ours before any request.

    Two honest exceptions: a valid but short timeout (under the scripted run's fake second of
    polling) may end in RunTimeoutError after requests; a drawn thread id that is well formed
    (``"0"``) but names no thread is the server's 404, after it was asked.
    """
    try:
        reply = act()
    except ConfigurationError as exc:
        assert transport.calls == [], transport.names()
        event(f"refused: {type(exc).__name__}")
        return
    except NotFoundError:
        assert unknown_thread
        assert transport.calls
        event("unknown thread")
        return
    except RunTimeoutError:
        effective = timeout if timeout is not None else default
        assert isinstance(effective, (int, float))
        assert effective < 5
        event("timed out")
        return
    assert reply.text == "ok"
    event("answered")


def _property(
    cls: type[Any], method: str, assistant_id: Any, options: dict[str, Any], prompt: Any,
    ask: dict[str, Any],
) -> None:  # fmt: skip
    transport, _, _ = fresh()
    face: object = transport if cls is ThreadSession else AsyncFake(transport)
    try:
        s, _clock = _build(cls, face, assistant_id, dict(options))
    except ConfigurationError as exc:
        assert transport.calls == []
        event(f"session refused: {type(exc).__name__}")
        return

    def act() -> Any:
        if cls is ThreadSession:
            if method == "ask":
                return s.ask(prompt, **ask)
            with s.stream(prompt, **ask) as events:
                list(events)
            return events.reply

        async def run() -> Any:
            if method == "ask":
                return await s.ask(prompt, **ask)
            events = s.stream(prompt, **ask)
            async with events:
                async for _ in events:
                    pass
            return events.reply

        return asyncio.run(run())

    unknown_thread = options.get("thread_id") not in (None, "thread_000001")
    _check_outcome(transport, act, ask.get("timeout"), options.get("timeout", 60.0), unknown_thread)


class TestRandomArguments:
    @pytest.mark.parametrize("cls", [ThreadSession, AsyncThreadSession])
    @pytest.mark.parametrize("method", ["ask", "stream"])
    @CASES
    @given(ASSISTANT_IDS, _options(VALID_SESSION), PROMPTS, _options(VALID_ASK))
    def test_session_then_ask_or_stream(
        self,
        cls: type[Any],
        method: str,
        assistant_id: Any,
        options: dict[str, Any],
        prompt: Any,
        ask: dict[str, Any],
    ) -> None:
        """Session(...).ask/stream(...), sync and async: a reply, or our error before any
        request."""
        _property(cls, method, assistant_id, options, prompt, ask)

    @CASES
    @given(st.one_of(st.sampled_from(["run_000002"]), JUNK), JUNK, JUNK)
    def test_resume(self, run_id: Any, parser: Any, timeout: Any) -> None:
        """resume(...): our error before any request, or it reaches the server."""
        transport, _, thread_id = fresh()
        s = session(transport, thread_id=thread_id)
        try:
            s.resume(run_id, parser=parser, timeout=timeout)
        except ConfigurationError:
            assert transport.calls == []
        except AssistantBridgeError:
            assert transport.calls  # a well-formed id the backend does not know: 404
