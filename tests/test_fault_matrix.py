"""The fault matrix (tests/fault_matrix.py) in CI: every case ends well, on both wires, sync and
async. Each case has its own emulator, and most of a case is waiting, so the cases of a wire
and mode run a few at a time; a failure names every cell that went wrong."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .fault_matrix import MODES, case_id, cases, run_case

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
