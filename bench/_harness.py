"""What the bench scripts share: the server process, clients that count their requests per
question, benchmark prompts and the summary statistics and tables they print."""

from __future__ import annotations

import contextvars
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import attrs

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = "sk-bench"
QUEUE_DELAY_S = 0.01
"""The bench server's wait between a run's creation and its start."""
_COUNT: contextvars.ContextVar[list[int]] = contextvars.ContextVar("requests")


class Server:
    """The emulator in its own process (bench/_serve.py), or any server given by URL.

    With a URL nothing is known of the server's side: :meth:`stats` is None, and the added
    latency falls back to the client's estimate.
    """

    def __init__(self, url: str | None = None, poll_after_ms: int | None = None) -> None:
        self._proc: subprocess.Popen[str] | None = None
        if url:
            self.base_url = url
            return
        command = [sys.executable, os.path.join(HERE, "_serve.py")]
        if poll_after_ms is not None:
            command += ["--poll-after-ms", str(poll_after_ms)]
        self._proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        assert self._proc.stdout is not None
        self.base_url = self._proc.stdout.readline().strip()
        if not self.base_url.startswith("http"):
            msg = "the bench server did not start (see its error above)"
            raise RuntimeError(msg)

    def stats(self) -> dict[str, Any] | None:
        """Requests answered, connections accepted and run ends so far; None for a URL."""
        if self._proc is None:
            return None
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        self._proc.stdin.write("stats\n")
        self._proc.stdin.flush()
        result: dict[str, Any] = json.loads(self._proc.stdout.readline())
        return result

    def close(self) -> None:
        if self._proc is not None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            self._proc.wait(timeout=20)
            self._proc = None

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _count(_request: Any) -> None:
    counter = _COUNT.get(None)
    if counter is not None:
        counter[0] += 1


async def _acount(_request: Any) -> None:
    _count(_request)


def clients(base_url: str) -> tuple[Any, Any]:
    """A sync and an async ``openai`` client whose every HTTP request is counted against the
    question running in the current thread or task (see :func:`counting`)."""
    import openai

    sync = openai.OpenAI(
        api_key=KEY,
        base_url=base_url,
        max_retries=0,
        http_client=openai.DefaultHttpxClient(event_hooks={"request": [_count]}),
    )
    async_ = openai.AsyncOpenAI(
        api_key=KEY,
        base_url=base_url,
        max_retries=0,
        http_client=openai.DefaultAsyncHttpxClient(event_hooks={"request": [_acount]}),
    )
    return sync, async_


@contextmanager
def counting() -> Iterator[list[int]]:
    """Count the requests made in this thread or task until the block ends."""
    counter = [0]
    token = _COUNT.set(counter)
    try:
        yield counter
    finally:
        _COUNT.reset(token)


@attrs.define
class Question:
    """One benchmark question: its kind, run length, prompt, and what was measured."""

    kind: str  # "new", "follow-up" or "tool round"
    work: float
    key: str = attrs.field(factory=lambda: uuid.uuid4().hex[:12])
    requests: int = 0
    started: float = 0.0
    done: float = 0.0
    error: str | None = None
    added: float | None = None

    @property
    def prompt(self) -> str:
        tools = " [tools]" if self.kind == "tool round" else ""
        return f"[q={self.key}] [work={self.work:g}]{tools} Alert: CPU at 100% on db-1"


def key_of(prompt: str) -> str | None:
    """The ``[q=...]`` key of a benchmark prompt."""
    found = re.search(r"\[q=([\w-]+)\]", prompt)
    return found.group(1) if found else None


def spread(count: int, low: float, high: float) -> list[float]:
    """``count`` run lengths spread evenly over [low, high] by the golden-ratio sequence: even
    for any ``count``, and never in step with a polling period (an even grid can be, which
    favours whichever policy happens to look at its points)."""
    golden = (5**0.5 - 1) / 2
    return [round(low + (high - low) * ((n + 0.5) * golden % 1), 3) for n in range(count)]


def settle_added(questions: Sequence[Question], stats: dict[str, Any] | None) -> str:
    """Fill each question's added latency; returns how it was measured."""
    ends = (stats or {}).get("ends", {})
    for q in questions:
        if q.error is not None:
            continue
        if q.key in ends:
            q.added = q.done - ends[q.key]
        else:  # a server given by URL: estimate its end from our start
            q.added = q.done - q.started - q.work
    return "server-side run ends" if ends else "client estimate (start + work)"


def summary(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean, median and max, or NaNs for nothing."""
    if not values:
        return float("nan"), float("nan"), float("nan")
    return statistics.mean(values), statistics.median(values), max(values)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table, aligned for reading in a terminal too."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def machine() -> str:
    """One line on where and when this ran."""
    import openai

    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores ({cpu}), "
        f"Python {platform.python_version()}, openai {openai.__version__}"
    )
