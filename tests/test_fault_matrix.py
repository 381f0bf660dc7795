"""The fault matrix (tests/fault_matrix.py) in CI: every case ends well, on both wires."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .fault_matrix import MODES, case_id, cases, run_case

CASES = cases()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_case_ends_in_a_reply_or_a_typed_error(case: Any, mode: str) -> None:
    """A reply or a typed error, within the deadline, no duplicate, no run left active."""
    cell = run_case(*case, mode=mode)
    assert cell.problems == (), f"{mode} {case_id(case)}: {cell.outcome}: {cell.problems}"


def test_reliability_doc_shows_every_case() -> None:
    """docs/reliability.md (written by scripts/write_reliability_doc.py) lists every case."""
    doc = (Path(__file__).resolve().parent.parent / "docs" / "reliability.md").read_text()
    missing = [
        case_id(c)
        for c in CASES
        if f"| {case_id(c).split('/', 1)[1].replace('/', ' | ')} |" not in doc
    ]
    assert not missing, missing
