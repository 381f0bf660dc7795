"""The fault matrix (tests/fault_matrix.py) in CI: every case ends well, on both wires, sync and
async. Each case has its own emulator, and most of a case is waiting, so the cases of a wire
and mode run a few at a time; a failure names every cell that went wrong."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .fault_matrix import (
    HOSTILE_GRACE,
    HOSTILE_MARGIN,
    HOSTILE_TIMEOUT,
    MODES,
    case_id,
    cases,
    hostile_cases,
    not_applicable,
    run_case,
    run_hostile,
)

CASES = cases()
AT_ONCE = 4


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("api", ["assistants", "responses"])
def test_every_case_ends_in_a_reply_or_a_typed_error(api: str, mode: str) -> None:
    """A reply or a typed error, within the deadline, no duplicate, no run left active."""
    mine = [case for case in CASES if case[0] == api]
    with ThreadPoolExecutor(AT_ONCE) as pool:
        cells = list(pool.map(lambda case: run_case(*case, mode=mode), mine))
    wrong = [
        f"{mode} {case_id(case)}: {cell.outcome}: {cell.problems}"
        for case, cell in zip(mine, cells, strict=True)
        if cell.problems
    ]
    assert len(cells) == len(mine)
    assert wrong == []


def test_reliability_doc_shows_every_case() -> None:
    """docs/reliability.md (written by scripts/write_reliability_doc.py) lists every case."""
    doc = (Path(__file__).resolve().parent.parent / "docs" / "reliability.md").read_text()
    missing = [
        case_id(c)
        for c in CASES
        if f"| {case_id(c).split('/', 1)[1].replace('/', ' | ')} |" not in doc
    ]
    assert not missing, missing


HOSTILE_CASES = hostile_cases()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("api", ["assistants", "responses"])
def test_a_hostile_server_cannot_hang_strand_or_leak(api: str, mode: str) -> None:
    """Behind the hostile proxy every applicable cell ends typed within timeout +
    cancel_grace + 0.5 s, leaves no run active, names its run, and holds no key."""
    mine = [case for case in HOSTILE_CASES if case[0] == api]
    with ThreadPoolExecutor(AT_ONCE) as pool:
        cells = list(pool.map(lambda case: run_hostile(*case, mode=mode), mine))
    ran = [cell for cell in cells if cell.na is None]
    wrong = [
        f"{mode} {cell.api}/{cell.operation}/{cell.case}: {cell.outcome}: {cell.problems}"
        f" ({cell.detail})"
        for cell in ran
        if cell.problems
    ]
    assert len(ran) >= 20
    assert wrong == []
    assert max(cell.seconds for cell in ran) <= HOSTILE_TIMEOUT + HOSTILE_GRACE + HOSTILE_MARGIN


def test_every_hostile_cell_is_run_or_says_why_not() -> None:
    """Each (case, operation, wire) either runs or is n/a with a reason, and the doc lists it."""
    doc = (Path(__file__).resolve().parent.parent / "docs" / "reliability.md").read_text()
    for api, operation, case in HOSTILE_CASES:
        why = not_applicable(case, operation, api)
        assert why is None or len(why) > 20
        assert f"| {api} | {operation} | {case} |" in doc, (api, operation, case)
