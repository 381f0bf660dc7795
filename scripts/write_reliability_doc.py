"""Run the fault matrix (tests/fault_matrix.py) and write its outcome into docs/reliability.md.

Run from the project root: ``python scripts/write_reliability_doc.py``.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.simplefilter("ignore", DeprecationWarning)

from tests.fault_matrix import (  # noqa: E402
    CANCEL_GRACE,
    HOSTILE_GRACE,
    HOSTILE_MARGIN,
    HOSTILE_TIMEOUT,
    MARGIN,
    MODES,
    RETRY,
    SHORT_TIMEOUT,
    TIMEOUT,
    HostileCell,
    cases,
    hostile_cases,
    run_case,
    run_hostile,
)

HEAD = """# Reliability

Alert triage runs unattended. An ask must not hang, must not do anything twice, must not leave
a thread locked, and must say exactly what went wrong.

## What the library does

- **One retry layer.** The transports build their `openai` clients with `max_retries=0`;
  the session retries 429, 408, 409, 5xx and connection errors itself, with exponential
  backoff and jitter (`RetryPolicy`), honouring `Retry-After` and `retry-after-ms`, and never
  past the ask's deadline. A client you pass in is used through
  `client.with_options(max_retries=0)`, so retries never multiply.
- **Unsent requests are repeated.** A request that certainly never reached the server (the
  connection was refused, the host name did not resolve, the TLS handshake failed, or no
  connection opened in time; matched on both `httpx` and `httpx2`) raises
  `UnsentRequestError` (`unsent=True`), whose message says so. Nothing was done, so the
  session repeats it like a 429, writes included (the first ask's create-and-run too), within
  the deadline. A reset, a read timeout or a 5xx may have reached the server and stays
  ambiguous.
- **No duplicates.** Every run the session starts carries a mark in its metadata
  (`assistant_bridge_ask`). A start whose failure may have reached the server (a reset
  connection, a timeout, a 5xx) is not simply repeated: the thread's runs are searched for the
  mark first, and a run found is followed instead. Where there is nothing to search (a new
  thread, or the Responses API, which cannot list a conversation's responses), the error is
  raised with a note that it was not repeated. Tool outputs whose submission failed that way
  are only sent again when the run still waits for them. Reads (polls, listings) and cancels
  are simply retried.
- **Active runs.** `on_active_run="wait"` (default) waits for another run on the thread to end,
  within the deadline; `"cancel"` cancels it; `"raise"` raises `ActiveRunError`. Sessions in one
  process that share a thread queue up behind one lock.
- **One deadline per ask.** `ask(timeout=T)` returns or raises within `T + cancel_grace` and a
  small margin, whatever the server does. The deadline starts when `ask` is called, so it
  covers waiting behind other asks on the session or thread, every request (connect, read, and
  the whole of a stream, however many keep-alive comments it sends), retries and their
  backoff, and the tools (a `ToolRegistry` gives each call at most what is left of the ask).
- **Nothing left running.** Whenever an ask ends without the run's reply (any library error, a
  `ToolError`, Ctrl-C, a cancelled asyncio task, a stream closed early), the run is cancelled,
  the cancel retried within `cancel_grace` (each try gets a third of it, so a hanging cancel is
  tried again), and the error carries `thread_id`, `run_id` and `cancel_confirmed`. In async
  code the cleanup is shielded from a second cancellation.
- **First asks.** A new thread's first ask is one request (create-and-run). If its answer is
  lost there is no thread to look it up on, so the error says exactly that; pass
  `first_ask="safe"` to create the thread first (two requests), so a lost start is found by its
  mark like any follow-up. On the Responses wire the conversation is made first anyway: if the
  response then fails, the error names the conversation and the session keeps it (no empty
  conversation is left behind), and a failure that surely did not start a response is retried
  on it.
- **Tool rounds are known by their call ids.** After an ambiguous failure of a submission, the
  outputs are sent again only if the run still waits for those very calls.
- **Resume.** `ThreadSession(..., thread_id=...).resume(run_id)` re-attaches to a run.
- **Streams.** A stream that breaks, errors or stays silent past `stall_timeout` falls back to
  polling the same run.

## The fault matrix

Every fault the emulator can inject, at every phase of an ask, on both wires, with the sync and
the async session; run in CI by `tests/test_fault_matrix.py`, and printed here by
`scripts/write_reliability_doc.py`. Each case runs in a fresh emulator with a {timeout:g} s
deadline ({short:g} s for a hanging request and for the cancel phase, where the run never ends),
a {grace:g} s cancel grace and `{retry}`. "Outcome" is what the ask ended with: `reply`, or the
typed error it raised. Every case was checked to end within its deadline plus the grace and a
{margin:g} s margin, with no duplicate message or run and no run left active ("checks").

| wire | mode | phase | fault | outcome | seconds | checks |
|---|---|---|---|---|---|---|
"""


def main() -> None:
    rows = []
    for case in cases():
        for mode in MODES:
            cell = run_case(*case, mode=mode)
            checks = "ok" if not cell.problems else "; ".join(cell.problems)
            rows.append(
                f"| {cell.api} | {cell.mode} | {cell.phase} | {cell.fault} | {cell.outcome} | "
                f"{cell.seconds:.2f} | {checks} |"
            )
    head = HEAD.format(
        timeout=TIMEOUT, short=SHORT_TIMEOUT, grace=CANCEL_GRACE, margin=MARGIN, retry=RETRY
    )
    text = head + "\n".join(rows) + "\n"
    text += """
Where a phase does not exist on a wire it is left out: the Responses API has no separate
message listing (the reply comes with the response).

## Bad input

Refused before anything is sent, with `InvalidArgumentError` (a `ValueError`) or
`ArgumentTypeError` (a `TypeError`), both `ConfigurationError`s naming the argument in
`.argument`: ids not matched whole (a trailing newline, `/`, `..`, a space, another kind's id),
an empty prompt, one over 256,000 characters, or one UTF-8 cannot encode (a lone surrogate),
a non-finite, negative or absurd (over 1,000,000 s, `10**400`) value for any duration
(`timeout`, `cancel_grace`, `stall_timeout`, poll intervals, retry waits, tool timeouts),
metadata beyond the API's limits (15 pairs for a run, as the library uses one; keys up to 64,
values up to 512 characters), any option of the wrong type (`instructions=123`,
`cancel_grace="5"`, `model=""`), and unknown keywords, named by the public method
(`ThreadSession.ask() got an unexpected keyword argument 'time_out'`). `tests/test_arguments.py`
checks each, and a property test feeds random values to every public argument of the sessions,
sync and async, asking and streaming: each example ends in a reply or in one of these errors
before any request. An unknown JSON Schema keyword is refused too. Replies are checked
by the parsers: no JSON where JSON is required (`ParseError`, keeping the text), JSON nested
deeper than `max_depth` or longer than `max_chars`, a schema mismatch (`SchemaValidationError`
with the failing path).

## Secrets

The API key never appears in a repr, a log record (DEBUG included), an exception or a cassette:
`tests/test_secrets.py` runs scenarios with a canary key, including the fault matrix's failure
kinds, and checks all of them. `tests/test_redaction.py` has a server echo the key in every
field of its error body (message, `code`, `param`, the request-id header), for every status,
on both wires, sync and async: every field of the error and every log line stays clean.
No error keeps openai's exception (which carries the request, whose header holds the key) as
its `__cause__` or its `__context__`; `tests/key_graph.py` walks everything reachable from an
error (cause, context, args, every attribute: requests, responses, bodies, headers), and the
hostile cells above and `tests/test_key_graph.py` find the key nowhere. A key in the base URL's
userinfo (`https://gw:sk-...@host/v1`) is masked in reprs, log lines and the CLI's warnings.

Cassettes you record yourself stay clean with `assistant_bridge.testing.vcr_config()`: it
leaves the credential headers out and masks keys (the one in `OPENAI_API_KEY`, any you name,
and anything shaped like a key or a bearer token) in URIs, bodies and headers, the same on
playback, so a recording of a 401 that echoes the key keeps none of it
(`tests/test_key_graph.py` records one). The project's own cassettes use it.

```python
import vcr

from assistant_bridge.testing import vcr_config

recorder = vcr.VCR(record_mode="none", **vcr_config())
```
"""
    text = text.replace("\n## Bad input\n", hostile_section() + "\n## Bad input\n", 1)
    (ROOT / "docs" / "reliability.md").write_text(text)
    print(f"wrote docs/reliability.md: {len(rows)} cases")


HOSTILE_HEAD = """
## A hostile server

The same invariants hold when the server itself misbehaves after the run has started:
`tests/hostile_proxy.py` sits between the session and the emulator, passes the requests on
(so the run starts, the cancel or the tool outputs arrive) and spoils one answer: a body that
trickles one byte every 0.3 s, a stream that trickles, a stream that sends only `: ping`
comments or nothing after its headers, a 200 that is an HTML page or JSON cut short, a stream
that ends cleanly in the middle of an event, a redirect to another host that answers a thread
object, and Responses' `400 conversation_locked`. Each is tried on each operation of an ask
(the run's start on a thread that exists, a poll, a streamed start, the cancel, the tool
outputs), on both wires, sync and async, with a {timeout:g} s deadline and a {grace:g} s
cancel grace. Each cell must end typed within timeout + cancel grace + {margin:g} s, leave no
run active, name its thread and run (and whether the cancel was confirmed), and hold the key
nowhere: `tests/key_graph.py` walks `__cause__`, `__context__`, `args` and every attribute of
the error (requests, responses, bodies, headers).

What makes it hold:

- **One bound, across the whole body.** A read timeout bounds each read, not the body: the
  transports read every answer and every stream chunk by chunk and give it up once the ask's
  time is spent (`APIConnectionError` for a body, `StreamInterruptedError` for a stream).
- **Typed, whatever arrives.** A body that is not JSON, or an object of another type than the
  operation returns (checked where each answer is decoded: a run poll must return that run of
  that thread), raises `MalformedResponseError`; a stream that ends mid-event or sends an
  unreadable event is interrupted (and the run polled).
- **Found and cancelled.** When the answer that would carry the run's id is lost, silent or
  unreadable, the session finds the run by the ask's mark (Assistants) or takes the id from the
  create answer or the first stream event (Responses), cancels it within the grace, and the
  error carries `thread_id`, `run_id` and `cancel_confirmed`. **On Responses, when no id ever
  arrived** (a streamed start whose first event never came, a create answer lost whole), the
  response cannot be found (a conversation's responses cannot be listed): the error carries
  the conversation id, `run_id=None` and `cancel_confirmed=False`, and the response may still
  run until it ends; the next ask on that conversation waits for it (`conversation_locked`).
- **`conversation_locked`** is `ActiveRunError` and follows `on_active_run`: `"wait"` tries
  again within the deadline, `"raise"` raises it, and `"cancel"` cancels only a response whose
  id is known (otherwise it waits).

{summary}

| wire | operation | case | sync | async | checks |
|---|---|---|---|---|---|
"""


def _summary(cells: list[HostileCell]) -> str:
    ran = [c for c in cells if c.na is None]
    worst = max(ran, key=lambda c: c.overshoot)
    untyped = sum(c.outcome.startswith("UNTYPED") for c in ran)
    active = sum(any(p.startswith("runs left active") for p in c.problems) for c in ran)
    unreachable = sum(c.unreachable for c in ran)
    keys = sum(any(p.startswith("key reachable") for p in c.problems) for c in ran)
    return (
        f"Over the {len(ran)} cells run ({len(cells) - len(ran)} n/a): worst overshoot past "
        f"timeout + cancel grace {worst.overshoot:+.2f} s ({worst.api} {worst.mode} "
        f"{worst.operation}, {worst.case}); runs left active {active} (and {unreachable} "
        "responses left running where no response id ever arrived, on Responses, as said "
        f"above); errors not typed {untyped}; key occurrences found by the walk {keys}."
    )


def hostile_section() -> str:
    cells: list[HostileCell] = []
    rows = []
    for api, operation, case in hostile_cases():
        pair = [run_hostile(api, operation, case, mode=mode) for mode in MODES]
        cells += pair
        if pair[0].na is not None:
            rows.append(f"| {api} | {operation} | {case} | n/a | n/a | {pair[0].na} |")
            continue
        shown = [f"{c.outcome} {c.seconds:.2f} s" for c in pair]
        problems = sorted({p for c in pair for p in c.problems})
        rows.append(
            f"| {api} | {operation} | {case} | {shown[0]} | {shown[1]} | "
            f"{'; '.join(problems) if problems else 'ok'} |"
        )
    head = HOSTILE_HEAD.format(
        timeout=HOSTILE_TIMEOUT,
        grace=HOSTILE_GRACE,
        margin=HOSTILE_MARGIN,
        summary=_summary(cells),
    )
    return head + "\n".join(rows) + "\n"


if __name__ == "__main__":
    main()
