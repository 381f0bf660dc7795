"""What an emulated assistant does with a run: scripted behaviours and the default triage.

A behaviour looks at the run's context (the prompt, the thread, the knowledge base) and
returns an :class:`Outcome`: text to write, tool calls to ask for, or a way to fail. The
emulator turns that into statuses over time, the same for polling and streaming clients.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Protocol

import attrs

__all__ = [
    "Behaviour",
    "EndIncomplete",
    "ExpireRun",
    "FailRun",
    "KnowledgeFile",
    "Outcome",
    "RequestTools",
    "RunContext",
    "SayJson",
    "SayText",
    "StayInProgress",
    "Triage",
]


@attrs.frozen
class KnowledgeFile:
    """A file the run can search: from the assistant's or the thread's vector stores."""

    file_id: str
    filename: str
    text: str


@attrs.frozen
class RunContext:
    """What a behaviour may look at."""

    prompt: str
    history: tuple[tuple[str, str], ...]
    files: tuple[KnowledgeFile, ...]
    instructions: str | None
    run_id: str
    thread_id: str
    response_format: Mapping[str, Any] | None = None
    """``{"type": "json_schema", "schema": ...}`` or ``{"type": "json_object"}`` when the
    request asked for JSON (a run's ``response_format``, a response's ``text.format``)."""


@attrs.frozen
class Outcome:
    """Where a run ends up after ``delay`` seconds of work."""

    kind: Literal["complete", "tools", "fail", "incomplete", "expire", "forever"]
    text: str = ""
    annotations: tuple[Mapping[str, Any], ...] = ()
    tool_calls: tuple[tuple[str, str], ...] = ()
    then: Callable[[Sequence[str]], Outcome] | None = None
    code: str = "server_error"
    message: str = ""
    reason: str = "max_completion_tokens"
    delay: float = 0.05
    chunk_delay: float = 0.0
    searched: tuple[KnowledgeFile, ...] = ()


class Behaviour(Protocol):
    """Decides a run's outcome from its context."""

    def outcome(self, ctx: RunContext) -> Outcome:
        """The outcome of one run."""
        ...


@attrs.frozen
class SayText:
    """Answer with ``text`` after ``delay`` seconds; stream it in words ``chunk_delay`` apart."""

    text: str
    delay: float = 0.05
    chunk_delay: float = 0.0

    def outcome(self, ctx: RunContext) -> Outcome:
        return Outcome("complete", text=self.text, delay=self.delay, chunk_delay=self.chunk_delay)


@attrs.frozen
class SayJson:
    """Answer with ``value`` as JSON, plain or inside a ```json fence."""

    value: Any
    fenced: bool = False
    delay: float = 0.05

    def outcome(self, ctx: RunContext) -> Outcome:
        body = json.dumps(self.value)
        text = f"Here is the result:\n```json\n{body}\n```" if self.fenced else body
        return Outcome("complete", text=text, delay=self.delay)


def _default_after_tools(outputs: Sequence[str]) -> str:
    return "Tool results: " + "; ".join(outputs)


@attrs.frozen
class RequestTools:
    """Ask for function calls, then answer with what ``then`` makes of the outputs.

    ``calls`` are (function name, arguments) pairs; ``then`` is a text, a function of the
    outputs, or another behaviour (which may ask for tools again).
    """

    calls: Sequence[tuple[str, Mapping[str, Any]]]
    then: str | Callable[[Sequence[str]], str] | Behaviour = _default_after_tools
    delay: float = 0.05

    def outcome(self, ctx: RunContext) -> Outcome:
        then = self.then

        def after(outputs: Sequence[str]) -> Outcome:
            if isinstance(then, str):
                return Outcome("complete", text=then, delay=self.delay)
            if hasattr(then, "outcome"):
                return then.outcome(ctx)
            return Outcome("complete", text=then(outputs), delay=self.delay)

        calls = tuple((name, json.dumps(dict(args))) for name, args in self.calls)
        return Outcome("tools", tool_calls=calls, then=after, delay=self.delay)


@attrs.frozen
class FailRun:
    """End the run "failed" with this last_error."""

    code: str = "server_error"
    message: str = "Sorry, something went wrong."
    delay: float = 0.05

    def outcome(self, ctx: RunContext) -> Outcome:
        return Outcome("fail", code=self.code, message=self.message, delay=self.delay)


@attrs.frozen
class ExpireRun:
    """End the run "expired"."""

    delay: float = 0.05

    def outcome(self, ctx: RunContext) -> Outcome:
        return Outcome("expire", delay=self.delay)


@attrs.frozen
class EndIncomplete:
    """End the run "incomplete" after writing ``text``, with ``reason``."""

    reason: str = "max_completion_tokens"
    text: str = "The analysis was cut"
    delay: float = 0.05

    def outcome(self, ctx: RunContext) -> Outcome:
        return Outcome("incomplete", text=self.text, reason=self.reason, delay=self.delay)


@attrs.frozen
class StayInProgress:
    """Never finish (until cancelled, or expired at expires_at)."""

    def outcome(self, ctx: RunContext) -> Outcome:
        return Outcome("forever")


_WORD = re.compile(r"[a-z0-9]+")
_STOP = {
    "the",
    "and",
    "for",
    "this",
    "that",
    "with",
    "alert",
    "analyze",
    "server",
    "what",
    "which",
    "from",
    "are",
    "was",
    "has",
    "have",
    "should",
    "please",
    "about",
    "into",
}
_FIELD = re.compile(r"^\s*(action|severity)\s*:\s*([a-z_-]+)\s*$", re.I | re.M)


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _STOP}


def relevance(query: str, text: str) -> float:
    """How well ``text`` matches ``query``: the share of the query's words it holds, 0 to 1."""
    wanted = _words(query)
    return round(len(wanted & _words(text)) / len(wanted), 4) if wanted else 0.0


def _best_file(query: str, files: Sequence[KnowledgeFile]) -> KnowledgeFile | None:
    wanted = _words(query)
    scored = [(len(wanted & _words(f.text + " " + f.filename)), f) for f in files]
    scored = [s for s in scored if s[0] > 0]
    return max(scored, key=lambda s: s[0])[1] if scored else None


def _summary(text: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line and not _FIELD.match(line):
            return line
    return ""


def _first_step(text: str) -> str:
    for line in text.splitlines():
        match = re.match(r"^\s*(?:1\.|-|\*)\s+(.*)$", line)
        if match:
            return match.group(1).strip()
    return _summary(text)


def _as_json(hints: Mapping[str, Any], response_format: Mapping[str, Any]) -> str:
    """The answer as JSON: built from the schema (filled from ``hints``) or ``hints`` itself."""
    from .structured import value_from_schema

    if response_format.get("type") == "json_schema":
        value = value_from_schema(response_format.get("schema") or {}, hints)
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(hints, ensure_ascii=False)


@attrs.frozen
class Triage:
    """The default assistant: triage an alert into a JSON verdict from the knowledge base.

    The runbook whose words best match the alert (simple keyword overlap) decides the verdict:
    its ``Action:`` and ``Severity:`` lines, and its first line as the reason, cited with the
    service's 【n:m†file】 marker and a ``file_citation`` annotation. A question that is not
    an alert ("Which runbook applies?") gets a text answer grounded in the same way, using the
    whole thread to find the runbook.
    """

    delay: float = 0.05

    def outcome(self, ctx: RunContext) -> Outcome:
        is_alert = "alert" in ctx.prompt.lower() or not ctx.history
        query = ctx.prompt if is_alert else " ".join([ctx.prompt, *(t for _, t in ctx.history)])
        best = _best_file(query, ctx.files)
        if best is None:
            verdict = {
                "action": "investigate",
                "reason": "No runbook in the knowledge base matches this alert.",
                "severity": "warning",
            }
            text = json.dumps(verdict) if is_alert else "No runbook in the knowledge base matches."
            if ctx.response_format is not None:
                text = _as_json(verdict if is_alert else {"answer": text}, ctx.response_format)
            return Outcome("complete", text=text, delay=self.delay)
        marker = f"【4:{ctx.files.index(best)}†{best.filename}】"
        fields = {k.lower(): v.lower() for k, v in _FIELD.findall(best.text)}
        if is_alert:
            head = json.dumps(
                {
                    "action": fields.get("action", "investigate"),
                    "reason": f"{_summary(best.text)} (runbook {best.filename}){marker}",
                    "severity": fields.get("severity", "warning"),
                },
                ensure_ascii=False,
            )
            text = head
        else:
            text = (
                f"The runbook {best.filename} applies{marker}. First step: {_first_step(best.text)}"
            )
        if ctx.response_format is not None:
            hints = json.loads(text) if is_alert else {"answer": text, "reason": text}
            text = _as_json(hints, ctx.response_format)
        start = text.find(marker)
        if start < 0:
            return Outcome("complete", text=text, delay=self.delay, searched=(best,))
        annotation = {
            "type": "file_citation",
            "text": marker,
            "start_index": start,
            "end_index": start + len(marker),
            "file_citation": {"file_id": best.file_id},
        }
        return Outcome(
            "complete", text=text, annotations=(annotation,), delay=self.delay, searched=(best,)
        )
