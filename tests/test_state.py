"""The run state table: exhaustive, replaceable, sans-I/O."""

from __future__ import annotations

import pytest

from assistant_bridge import (
    DEFAULT_TABLE,
    Finish,
    FinishIncomplete,
    HandleRequiredAction,
    KeepWaiting,
    RaiseError,
    RunStateMachine,
    RunStatus,
)
from assistant_bridge.exceptions import ConfigurationError

API_STATUSES = {
    "queued",
    "in_progress",
    "requires_action",
    "cancelling",
    "cancelled",
    "failed",
    "completed",
    "incomplete",
    "expired",
}


class TestRunStatus:
    def test_exactly_the_nine_api_statuses(self) -> None:
        """RunStatus lists the nine statuses of the Assistants API and nothing else."""
        assert {s.value for s in RunStatus} == API_STATUSES

    def test_parse_keeps_unknown_status_as_text(self) -> None:
        """A status from a newer server survives as its string."""
        assert RunStatus.parse("completed") is RunStatus.COMPLETED
        assert RunStatus.parse("paused") == "paused"
        assert not isinstance(RunStatus.parse("paused"), RunStatus)


class TestTable:
    def test_default_table_covers_exactly_the_nine_statuses(self) -> None:
        """Every API status has exactly one handler; no other key exists."""
        assert {s.value for s in DEFAULT_TABLE} == API_STATUSES
        assert set(RunStateMachine().table) == set(RunStatus)

    @pytest.mark.parametrize(
        ("status", "handler"),
        [
            ("queued", KeepWaiting),
            ("in_progress", KeepWaiting),
            ("cancelling", KeepWaiting),
            ("requires_action", HandleRequiredAction),
            ("completed", Finish),
            ("incomplete", FinishIncomplete),
            ("failed", RaiseError),
            ("cancelled", RaiseError),
            ("expired", RaiseError),
        ],
    )
    def test_default_decisions(self, status: str, handler: type) -> None:
        """Each status maps to the strategy the design asks for."""
        assert isinstance(RunStateMachine().decide(RunStatus(status)), handler)

    def test_unknown_status_keeps_waiting_by_default(self) -> None:
        """A status this version does not know waits (until the deadline) by default."""
        machine = RunStateMachine()
        assert isinstance(machine.decide("paused"), KeepWaiting)
        assert not machine.is_known("paused")

    def test_table_missing_a_status_is_refused(self) -> None:
        """A hand-written table must be exhaustive; the error names what is missing."""
        table = {k: v for k, v in DEFAULT_TABLE.items() if k != RunStatus.EXPIRED}
        with pytest.raises(ConfigurationError, match="expired"):
            RunStateMachine(table=table)

    def test_with_handler_replaces_one_entry_without_touching_the_original(self) -> None:
        """with_handler returns a new machine; the default is unchanged."""
        base = RunStateMachine()
        custom = base.with_handler("cancelling", Finish())
        assert isinstance(custom.decide(RunStatus.CANCELLING), Finish)
        assert isinstance(base.decide(RunStatus.CANCELLING), KeepWaiting)

    def test_with_handler_refuses_a_non_status(self) -> None:
        """Only the nine statuses can be keys; unknown ones go to `unknown=`."""
        with pytest.raises(ConfigurationError, match="not a run status"):
            RunStateMachine().with_handler("paused", Finish())

    def test_table_is_read_only(self) -> None:
        """The machine's table cannot be mutated in place."""
        machine = RunStateMachine()
        with pytest.raises(TypeError):
            machine.table[RunStatus.QUEUED] = Finish()  # type: ignore[index]


class TestGeneratedDocs:
    def test_the_docs_table_is_the_code_table(self) -> None:
        """docs/state-machine.md shows the table the code has (regenerate it on a change)."""
        from pathlib import Path

        text = (Path(__file__).parents[1] / "docs" / "state-machine.md").read_text()
        start = text.index("-->\n", text.index("<!-- state-table")) + 4
        end = text.index("<!-- /state-table -->")
        assert text[start:end] == RunStateMachine().markdown()

    def test_the_table_is_read_only(self) -> None:
        """DEFAULT_TABLE cannot be changed in place; a changed copy makes a new machine."""
        with pytest.raises(TypeError):
            DEFAULT_TABLE[RunStatus.FAILED] = KeepWaiting()  # type: ignore[index]
        changed = RunStateMachine().with_handler("failed", KeepWaiting())
        assert isinstance(changed.decide("failed"), KeepWaiting)
        assert isinstance(RunStateMachine().decide("failed"), RaiseError)

    def test_decide_takes_strings(self) -> None:
        """decide('failed') is the failed handler, not the unknown one."""
        machine = RunStateMachine()
        assert machine.decide("failed") == machine.decide(RunStatus.FAILED)
        assert machine.is_active("queued")
        assert not machine.is_active("completed")
        assert machine.is_active("a_new_status")
