"""Fidelity: the emulator's JSON and event streams against payloads the real service sent.

Reference payloads come from the v2 recordings in cassettes/real/ (openai-dotnet, 2025-09 to
2026-06). For every object type both produce, each field of the real object must exist in the
emulator's, with the same JSON type where neither is null. Event streams must go through the
same event names in the same order, for a plain run, a tool-call run and its continuation.
"""

from __future__ import annotations

import functools
import json
import time
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from assistant_bridge.testing import Emulator, RequestTools, SayText
from assistant_bridge.testing._emulator.exchanges import sse_events

REAL = Path(__file__).resolve().parent.parent / "cassettes" / "real"
V2_SOURCES = "openai__openai-dotnet__*.yaml"
# Recorded with an older API version: its messages still carry v1's `file_ids`.
NOT_V2 = {"openai__openai-dotnet__BasicMessageOperationsWork.yaml"}

Objects = dict[str, list[dict[str, Any]]]


def _walk(value: Any, found: Objects) -> None:
    if isinstance(value, dict):
        kind = value.get("object")
        if isinstance(kind, str) and kind != "list":
            found[kind].append(value)
        for child in value.values():
            _walk(child, found)
    elif isinstance(value, list):
        for child in value:
            _walk(child, found)


_events = sse_events


@functools.cache
def real_payloads() -> tuple[Objects, dict[str, list[str]]]:
    """Real objects by type, and real event-name sequences by recording."""
    objects: Objects = defaultdict(list)
    streams: dict[str, list[str]] = {}
    for path in sorted(REAL.glob(V2_SOURCES)):
        if path.name in NOT_V2:
            continue
        for n, interaction in enumerate(yaml.safe_load(path.read_text())["interactions"]):
            body = interaction["response"]["body"]["string"]
            if not isinstance(body, str) or not body:
                continue
            if body.startswith("event:"):
                events = _events(body)
                streams[f"{path.stem}#{n}"] = [e for e, _ in events]
                for _, data in events:
                    _walk(data, objects)
            else:
                try:
                    _walk(json.loads(body), objects)
                except ValueError:
                    continue
    return objects, streams


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def _collapse(names: list[str]) -> list[str]:
    return [n for i, n in enumerate(names) if i == 0 or names[i - 1] != n]


@pytest.fixture(scope="module")
def emulated() -> Iterator[tuple[Objects, dict[str, list[str]]]]:
    """Drive the emulator through every object type and the three stream shapes."""
    objects: Objects = defaultdict(list)
    streams: dict[str, list[str]] = {}
    with Emulator() as emu:

        def call(
            method: str,
            path: str,
            body: Any = None,
            raw: bytes | None = None,
            content_type: str = "application/json",
        ) -> str:
            data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
            request = urllib.request.Request(
                emu.base_url + path,
                data,
                {
                    "authorization": "Bearer sk-emulator",
                    "content-type": content_type,
                    "openai-beta": "assistants=v2",
                },
                method=method,
            )
            with urllib.request.urlopen(request, timeout=10) as answer:
                text = answer.read().decode()
            if text.startswith("event:"):
                events = _events(text)
                streams[f"{method} {path} #{len(streams)}"] = [e for e, _ in events]
                for _, payload in events:
                    _walk(payload, objects)
            else:
                _walk(json.loads(text), objects)
            return text

        boundary = "b0undary"
        multipart = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n'
            f'assistants\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="cpu.md"\r\nContent-Type: text/plain\r\n\r\nCPU at 100% runbook\r\n'
            f"--{boundary}--\r\n"
        ).encode()
        file_id = json.loads(
            call(
                "POST",
                "/files",
                raw=multipart,
                content_type=f"multipart/form-data; boundary={boundary}",
            )
        )["id"]
        store = json.loads(call("POST", "/vector_stores", {"name": "kb"}))["id"]
        call("POST", f"/vector_stores/{store}/files", {"file_id": file_id})
        call("POST", f"/vector_stores/{store}/file_batches", {"file_ids": [file_id]})
        call("GET", f"/vector_stores/{store}/files")
        call("DELETE", f"/vector_stores/{store}/files/{file_id}")
        assistant = json.loads(
            call(
                "POST",
                "/assistants",
                {
                    "model": "gpt-4o",
                    "tools": [{"type": "file_search"}],
                    "tool_resources": {"file_search": {"vector_store_ids": [store]}},
                },
            )
        )["id"]
        call(
            "DELETE",
            "/assistants/" + json.loads(call("POST", "/assistants", {"model": "gpt-4o"}))["id"],
        )
        thread = json.loads(
            call(
                "POST",
                "/threads",
                {"messages": [{"role": "user", "content": "Hello there, assistant!"}]},
            )
        )["id"]
        emu.script(SayText("Hello! How can I help?"), times=1)
        call("POST", f"/threads/{thread}/runs", {"assistant_id": assistant, "stream": True})
        run_id = emu.runs_of(thread)[0]
        call("GET", f"/threads/{thread}/runs/{run_id}")
        call("GET", f"/threads/{thread}/messages")
        call("GET", f"/threads/{thread}/runs/{run_id}/steps")
        emu.script(RequestTools([("get_current_weather", {})], then="Wear a hat."), times=1)
        first = call(
            "POST",
            "/threads/runs",
            {
                "assistant_id": assistant,
                "stream": True,
                "thread": {"messages": [{"role": "user", "content": "What to wear?"}]},
            },
        )
        run = _events(first)[-2][1]
        call_id = run["required_action"]["submit_tool_outputs"]["tool_calls"][0]["id"]
        call(
            "POST",
            f"/threads/{run['thread_id']}/runs/{run['id']}/submit_tool_outputs",
            {"tool_outputs": [{"tool_call_id": call_id, "output": "sunny"}], "stream": True},
        )
        searched = json.loads(
            call("POST", "/vector_stores", {"name": "kb2", "file_ids": [file_id]})
        )["id"]
        # Only indexed files are searched, as by the service: wait as create_and_poll does.
        while json.loads(call("GET", f"/vector_stores/{searched}"))["status"] != "completed":
            time.sleep(0.005)
        searcher = json.loads(
            call(
                "POST",
                "/assistants",
                {
                    "model": "gpt-4o",
                    "tools": [{"type": "file_search"}],
                    "tool_resources": {"file_search": {"vector_store_ids": [searched]}},
                },
            )
        )["id"]
        call(
            "POST",
            "/threads/runs?include[]=step_details.tool_calls[*].file_search.results[*].content",
            {
                "assistant_id": searcher,
                "stream": True,
                "thread": {"messages": [{"role": "user", "content": "Alert: CPU at 100%"}]},
            },
        )
        emu.script(SayText("Once upon a time, a server slept well."), times=1)
        started = call(
            "POST",
            "/responses",
            {"model": "gpt-4.1-mini", "background": True, "input": "A story.", "stream": True},
        )
        response_id = _events(started)[0][1]["response"]["id"]
        call("GET", f"/responses/{response_id}?stream=true&starting_after=1")
        yield objects, streams


REFERENCE_TYPES = [
    "assistant",
    "assistant.deleted",
    "thread",
    "thread.message",
    "thread.message.delta",
    "thread.run",
    "thread.run.step",
    "thread.run.step.delta",
    "file",
    "vector_store",
    "vector_store.file",
    "vector_store.file_batch",
    "vector_store.file.deleted",
]


class TestObjects:
    def test_reference_has_every_type(self) -> None:
        """The real recordings hold an example of each type we compare."""
        real, _ = real_payloads()
        assert set(REFERENCE_TYPES) <= set(real)

    @pytest.mark.parametrize("kind", REFERENCE_TYPES)
    def test_fields_and_types_match_the_real_service(
        self, kind: str, emulated: tuple[Objects, dict[str, list[str]]]
    ) -> None:
        """No field the real service sends is missing, and none has another JSON type."""
        real, _ = real_payloads()
        ours = emulated[0].get(kind)
        assert ours, f"the emulator produced no {kind}"
        assert not compare(kind, real[kind], ours)


def compare(kind: str, real: list[dict[str, Any]], ours: list[dict[str, Any]]) -> list[str]:
    """Fields the real payloads of ``kind`` have that ours lack, or carry with a JSON type the
    real service never sent for that field (some fields take two: ``"auto"`` or an object)."""
    kinds: dict[str, set[str]] = defaultdict(set)
    for theirs in real:
        for field, value in theirs.items():
            if value is not None:
                kinds[field].add(_kind(value))
            else:
                kinds.setdefault(field, set())
    problems = set()
    for field, allowed in kinds.items():
        for mine in ours:
            if field not in mine:
                problems.add(f"{kind}.{field} missing")
            elif mine[field] is not None and allowed and _kind(mine[field]) not in allowed:
                problems.add(f"{kind}.{field}: {_kind(mine[field])}, real {sorted(allowed)}")
    return sorted(problems)


class TestStreams:
    def _real(self, name: str) -> list[str]:
        _, streams = real_payloads()
        return next(_collapse(s) for key, s in streams.items() if key.startswith(name))

    def _ours(self, emulated: tuple[Objects, dict[str, list[str]]], start: str) -> list[str]:
        return next(_collapse(s) for key, s in emulated[1].items() if key.startswith(start))

    def test_plain_run_stream(self, emulated: tuple[Objects, dict[str, list[str]]]) -> None:
        """A streamed run goes through the real event names, in order."""
        real = self._real("openai__openai-dotnet__StreamingRunWorks")
        assert self._ours(emulated, "POST /threads/thread_") == real

    def test_background_response_stream_and_resume(
        self, emulated: tuple[Objects, dict[str, list[str]]]
    ) -> None:
        """A background response streams, and resumes after event 1, like the real one."""
        _, streams = real_payloads()
        real = [_collapse(s) for k, s in streams.items() if "CanStreamBackgroundResponses" in k]
        ours = [_collapse(s) for k, s in emulated[1].items() if "/responses" in k]
        assert ours == real

    def test_file_search_stream(self, emulated: tuple[Objects, dict[str, list[str]]]) -> None:
        """A run that searches streams its file_search step (created, in_progress, delta,
        completed) before the message, as the real one does."""
        real = self._real("openai__openai-dotnet__FileSearchStreamingWorks")
        ours = next(_collapse(s) for k, s in emulated[1].items() if "include[]" in k)
        start = "thread.run.in_progress"  # before it, create-and-run adds thread.created
        assert ours[ours.index(start) :] == real[real.index(start) :]

    def test_tool_call_streams(self, emulated: tuple[Objects, dict[str, list[str]]]) -> None:
        """create-and-run up to requires_action, then the submit stream, as recorded."""
        _, streams = real_payloads()
        real = [_collapse(s) for k, s in streams.items() if "StreamingToolCall" in k]
        ours = [
            _collapse(s)
            for k, s in emulated[1].items()
            if k.startswith(("POST /threads/runs", "POST /threads/thread_"))
            and ("submit_tool_outputs" in k or k.startswith("POST /threads/runs "))
            and "include[]" not in k
        ]
        assert ours == real
