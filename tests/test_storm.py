"""The alert storm, CI-sized, on each registry backend: 4 worker processes with async keyed
sessions drain 300 alerts over 30 incidents against the emulator (with latency), while two
workers are killed with SIGKILL and one is stopped past its lease.

Checked from the emulator's records: one thread per incident, no two runs of a thread
overlapping and no active-run conflict answered, every alert answered exactly once (one run
each, the same run on every delivery), no run left active; the killed workers' runs resumed
within the lease's TTL plus one poll; the stopped worker's lease refused when it woke. Runs
are polled, then streamed (what a keyed ask does by default).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant_bridge.testing import Emulator, SayText

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture
def storm() -> Iterator[Any]:
    sys.path.insert(0, str(BENCH))
    try:
        import _storm

        yield _storm
    finally:
        sys.path.remove(str(BENCH))


@pytest.mark.parametrize("wait", ["poll", "stream"])
def test_storm_with_killed_and_stopped_workers(storm: Any, registry_url: str, wait: str) -> None:
    config = storm.StormConfig(
        wait=wait,
        workers=4,
        alerts=300,
        incidents=30,
        registry_url=registry_url,
        ttl=2.0,
        run_delay=0.05,
        queue_delay=0.02,
        kill=2,
        stop=True,
        deadline=120,
    )
    with Emulator(api_key=storm.API_KEY, default=SayText("triaged", delay=0.05)) as emu:
        emu.store.queue_delay = config.queue_delay
        result = storm.run_storm(config, emu)
    assert result.errors == []
    assert result.missing == 0  # every alert answered...
    assert set(result.runs_per_alert.values()) == {1}  # ...by exactly one run
    assert len(result.runs_per_alert) == config.alerts
    assert result.inconsistent == 0  # a delivery again got the same run back
    assert set(result.threads_per_incident.values()) == {1}
    assert len(result.threads_per_incident) == config.incidents
    assert result.overlaps == 0
    assert result.conflicts == 0
    assert result.unfinished_runs == 0
    assert result.active_left == 0
    # Two workers were killed mid-storm: their alerts came again and their runs were resumed
    # within the TTL and one poll of the claim (plus a second of slack for a loaded machine).
    assert result.redelivered_after_kill
    assert result.slowest_recovery is not None
    assert result.slowest_recovery <= config.ttl + 0.25 + 1.0
    # The stopped worker woke to a lost lease: refused, it started nothing more (one run per
    # alert above), and its alerts were delivered again.
    assert result.stopped_pid is not None
    assert result.lost_by_stopped >= 1


def test_the_bench_script_runs_and_prints_its_tables() -> None:
    """bench/storm.py runs as documented (briefly here) and prints before, after and cost."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "bench/storm.py", "--workers", "3", "--alerts", "40", "--incidents",
         "4", "--stores", "sqlite", "--scaling", "1", "--scaling-alerts", "10"],
        cwd=BENCH.parent, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    before = next(line for line in lines if line.startswith("before (local)"))
    after = next(line for line in lines if line.startswith("after (sqlite)"))
    assert after.split()[3:9] == ["1.00", "0", "0", "0", "0", "0"]  # no conflict, no duplicate
    assert float(before.split()[2]) > 0
    assert any(line.startswith("sqlite") for line in lines)  # the registry's cost per ask
