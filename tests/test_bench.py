"""The bench scripts keep working: each runs as documented, briefly, and prints its table.

These check that the scripts run and measure what they say; the figures themselves are in
docs/performance.md, measured by the scripts, never asserted here.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=BENCH.parent, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture
def serve_module() -> object:
    sys.path.insert(0, str(BENCH))
    try:
        import _serve

        yield _serve
    finally:
        sys.path.remove(str(BENCH))


def test_prompt_tags_script_the_run(serve_module: object) -> None:
    """A prompt's [work=], [tools] and [q=] tags set the run and record when it will end."""
    from assistant_bridge.testing import RunContext

    mod = serve_module
    ctx = RunContext("[q=k1] [work=2.5] [tools] x", (), (), None, "run_1", "thread_1")
    before = time.monotonic()
    outcome = mod.Timed().outcome(ctx)  # type: ignore[attr-defined]
    assert (outcome.kind, outcome.delay) == ("tools", 1.25)
    final = outcome.then(["db-1: ok"])
    assert (final.kind, final.delay) == ("complete", 1.25)
    assert before + 1.25 <= mod.ENDS["k1"] <= time.monotonic() + 1.25 + 0.01  # type: ignore[attr-defined]
    assert mod.tags("plain") == (None, 0.05, False)  # type: ignore[attr-defined]


def test_flows_script_prints_its_tables() -> None:
    """bench/flows.py runs a flow against its own server process and counts its requests."""
    out = run("bench/flows.py", "--per-kind", "1", "--high", "0.3", "--only", "async")
    assert "added latency measured from server-side run ends" in out
    row = next(line for line in out.splitlines() if line.startswith("| assistant_bridge async"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "1.0"  # a new thread: one streamed request
    assert cells[-1] == "0"  # no errors


def test_import_time_script_reports_the_budget() -> None:
    """bench/import_time.py times whole processes and says whether each start-up target is
    met, and that --help loads neither openai nor the emulator."""
    out = run("bench/import_time.py", "--repeat", "1")
    assert "| `import openai` |" in out
    assert "target: the first import at most 50 ms over openai:" in out
    assert "target: `assistant-bridge --help` under 40% of openai:" in out
    assert "  assistant-bridge --help: none\n" in out


def test_kb_sync_script_prints_its_table() -> None:
    """bench/kb_sync.py uploads one file four ways, each in its own process, and prints the
    peak memory of each next to the plain openai upload."""
    out = run("bench/kb_sync.py", "--mb", "16")
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line]
    assert [r.split("|")[1].strip() for r in rows[1:]] == [
        "KnowledgeBase.sync (streamed)",
        "openai files.create(open(...))",
        "openai files.create(Path)",
        "read whole, then upload (before)",
    ]
    whole = float(rows[3].split("|")[4])
    streamed = float(rows[1].split("|")[4])
    assert whole >= 12  # reading the file whole shows in its peak: the measure measures
    assert streamed < whole / 2
