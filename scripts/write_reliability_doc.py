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

from tests.fault_matrix import CANCEL_GRACE, RETRY, TIMEOUT, cases, run_case  # noqa: E402

HEAD = """# Reliability

Alert triage runs unattended. An ask must not hang, must not do anything twice, must not leave
a thread locked, and must say exactly what went wrong.

## What the library does

- **One retry layer.** The transports build their `openai` clients with `max_retries=0`;
  the session retries 429, 408, 409, 5xx and connection errors itself, with exponential
  backoff and jitter (`RetryPolicy`), honouring `Retry-After` and `retry-after-ms`, and never
  past the ask's deadline. A client you pass in is used through
  `client.with_options(max_retries=0)`, so retries never multiply.
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
- **Deadlines that clean up.** On timeout, on Ctrl-C, on a cancelled asyncio task or a stream
  closed early, the run is cancelled and the cancel confirmed (`cancel_confirmed` on the error).
- **Resume.** `ThreadSession(..., thread_id=...).resume(run_id)` re-attaches to a run.
- **Streams.** A stream that breaks, errors or stays silent past `stall_timeout` falls back to
  polling the same run.

## The fault matrix

Every fault the emulator can inject, at every phase of an ask, on both wires; run in CI by
`tests/test_fault_matrix.py`, and printed here by `scripts/write_reliability_doc.py`. Each case
runs in a fresh emulator with a {timeout:g} s deadline, a {grace:g} s cancel grace and
`{retry}`. "Outcome" is what the ask ended with: `reply`, or the typed error it raised. Every
case was checked to end within its deadline, with no duplicate message or run and no run left
active ("checks").

| wire | phase | fault | outcome | seconds | checks |
|---|---|---|---|---|---|
"""


def main() -> None:
    rows = []
    for case in cases():
        cell = run_case(*case)
        checks = "ok" if not cell.problems else "; ".join(cell.problems)
        rows.append(
            f"| {cell.api} | {cell.phase} | {cell.fault} | {cell.outcome} | "
            f"{cell.seconds:.2f} | {checks} |"
        )
    text = HEAD.format(timeout=TIMEOUT, grace=CANCEL_GRACE, retry=RETRY) + "\n".join(rows) + "\n"
    text += """
Where a phase does not exist on a wire it is left out: the Responses API has no separate
message listing (the reply comes with the response).

## Bad input

Refused before anything is sent, each with a `ConfigurationError` naming the problem: an
empty or over-long prompt (256,000 characters), malformed assistant, thread or run ids,
metadata beyond the API's limits (15 pairs for a run, as the library uses one; keys up to 64,
values up to 512 characters), a bad timeout, an unknown JSON Schema keyword. Replies are checked
by the parsers: no JSON where JSON is required (`ParseError`, keeping the text), JSON nested
deeper than `max_depth` or longer than `max_chars`, a schema mismatch (`SchemaValidationError`
with the failing path).

## Secrets

The API key never appears in a repr, a log record (DEBUG included), an exception or a cassette:
`tests/test_secrets.py` runs scenarios with a canary key, including the fault matrix's failure
kinds, and checks all of them; cassettes are written with `authorization`,
`openai-organization` and `openai-project` filtered.
"""
    (ROOT / "docs" / "reliability.md").write_text(text)
    print(f"wrote docs/reliability.md: {len(rows)} cases")


if __name__ == "__main__":
    main()
