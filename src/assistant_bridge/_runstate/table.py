"""The run state machine, declared as data.

Rules of this module (after h11's ``_state.py``):

* Every decision about what a run's status means lives in :data:`DEFAULT_ROWS`, a read-only
  mapping from each of the nine :class:`RunStatus` values to a handler strategy and an "active"
  flag. The table is exhaustive: a machine whose table misses a status, or names one that does
  not exist, is refused. No other module compares statuses: they ask a machine.
* The machine is sans-I/O. :meth:`RunStateMachine.decide` only answers "what now?"; the
  session's flow (:mod:`assistant_bridge._session.follow`) turns the answer into operations,
  and a driver performs them.
* A status this version does not know (a newer server) gets the ``unknown`` handler: by
  default keep waiting until the deadline, with one warning per ask.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, cast

import attrs

from assistant_bridge._values.models import Run, RunStatus
from assistant_bridge._values.value import Value
from assistant_bridge.exceptions import (
    ConfigurationError,
    RunCancelledError,
    RunError,
    RunExpiredError,
    RunFailedError,
    UnexpectedStatusError,
)

__all__ = [
    "ACTIVE_STATUSES",
    "DEFAULT_MACHINE",
    "DEFAULT_ROWS",
    "DEFAULT_TABLE",
    "Finish",
    "FinishIncomplete",
    "HandleRequiredAction",
    "Handler",
    "KeepWaiting",
    "RaiseError",
    "Row",
    "RunStateMachine",
]


@attrs.frozen(repr=False)
class KeepWaiting(Value):
    """The run is still working: wait, then look again (until the deadline)."""


@attrs.frozen(repr=False)
class Finish(Value):
    """The run is done: collect its messages and build the reply."""


@attrs.frozen(repr=False)
class FinishIncomplete(Value):
    """The run stopped early: collect what it wrote and raise RunIncompleteError with it."""


@attrs.frozen(repr=False)
class HandleRequiredAction(Value):
    """The run waits for tool outputs: run the tool handler, or cancel and raise."""


@attrs.frozen(repr=False)
class RaiseError(Value):
    """The run ended without a reply: raise the error ``factory`` builds from it."""

    factory: Callable[[Run], RunError]


Handler = KeepWaiting | Finish | FinishIncomplete | HandleRequiredAction | RaiseError


def _status_text(run: Run) -> str:
    return str(run.status)


def run_failed(run: Run) -> RunError:
    """RunFailedError from a run's last_error."""
    code = run.last_error.code if run.last_error else None
    text = run.last_error.message if run.last_error else None
    hint = (
        "it is worth retrying later"
        if code in {"server_error", "rate_limit_exceeded"}
        else "check the prompt and the assistant's configuration"
    )
    msg = (
        f"Run {run.id} on thread {run.thread_id} failed with {code or 'no error code'}: "
        f"{text or 'the server gave no message'}; {hint}."
    )
    return RunFailedError(
        msg, thread_id=run.thread_id, run_id=run.id, code=code, error_message=text
    )


def run_cancelled(run: Run) -> RunError:
    """RunCancelledError: someone else cancelled the run."""
    msg = (
        f"Run {run.id} on thread {run.thread_id} was cancelled before it finished; "
        "ask again to start a new run."
    )
    return RunCancelledError(msg, thread_id=run.thread_id, run_id=run.id, status="cancelled")


def run_expired(run: Run) -> RunError:
    """RunExpiredError: the run waited too long (usually for tool outputs)."""
    msg = (
        f"Run {run.id} on thread {run.thread_id} expired before it finished (runs expire when "
        "tool outputs are not submitted in time); ask again to start a new run."
    )
    return RunExpiredError(msg, thread_id=run.thread_id, run_id=run.id, status="expired")


def unexpected_status(run: Run) -> RunError:
    """UnexpectedStatusError, for statuses a custom table chooses to refuse."""
    msg = (
        f"Run {run.id} on thread {run.thread_id} reached status {_status_text(run)!r}, which "
        "this state table refuses; update assistant_bridge or give the status a handler."
    )
    return UnexpectedStatusError(
        msg, thread_id=run.thread_id, run_id=run.id, status=_status_text(run)
    )


@attrs.frozen(repr=False)
class Row(Value):
    """One line of the table: what to do at a status, and whether the run still holds its
    thread there (an active run must be waited for or cancelled before the next one)."""

    handler: Handler
    active: bool


DEFAULT_ROWS: Mapping[RunStatus, Row] = MappingProxyType(
    {
        RunStatus.QUEUED: Row(KeepWaiting(), active=True),
        RunStatus.IN_PROGRESS: Row(KeepWaiting(), active=True),
        RunStatus.CANCELLING: Row(KeepWaiting(), active=True),
        RunStatus.REQUIRES_ACTION: Row(HandleRequiredAction(), active=True),
        RunStatus.COMPLETED: Row(Finish(), active=False),
        RunStatus.INCOMPLETE: Row(FinishIncomplete(), active=False),
        RunStatus.FAILED: Row(RaiseError(run_failed), active=False),
        RunStatus.CANCELLED: Row(RaiseError(run_cancelled), active=False),
        RunStatus.EXPIRED: Row(RaiseError(run_expired), active=False),
    }
)
"""The table: each of the nine statuses, its handler and whether it is active. Read-only."""

DEFAULT_TABLE: Mapping[RunStatus, Handler] = MappingProxyType(
    {status: row.handler for status, row in DEFAULT_ROWS.items()}
)
"""The handler column of :data:`DEFAULT_ROWS`, read-only; pass a changed copy to
:class:`RunStateMachine` (or use :meth:`RunStateMachine.with_handler`)."""

ACTIVE_STATUSES = frozenset(status for status, row in DEFAULT_ROWS.items() if row.active)
"""The "active" column of the table: a run here holds its thread."""


def _check_table(_instance: object, _attribute: object, table: Mapping[RunStatus, Handler]) -> None:
    keys = set(table)
    missing = sorted(set(RunStatus) - keys)
    extra = sorted(str(k) for k in keys if not isinstance(k, RunStatus))
    if missing or extra:
        msg = (
            "A RunStateMachine table must map each of the nine run statuses to a handler; "
            f"missing: {[str(m) for m in missing]}, not statuses: {extra}. "
            "Start from DEFAULT_TABLE or use RunStateMachine().with_handler(status, handler)."
        )
        raise ConfigurationError(msg)
    for status, handler in table.items():
        if not isinstance(handler, Handler):
            msg = f"The handler for {str(status)!r} must be a Handler, got {handler!r}."
            raise ConfigurationError(msg)


def _frozen_table(table: Mapping[Any, Handler]) -> Mapping[RunStatus | str, Handler]:
    return MappingProxyType({_key(k): v for k, v in dict(table).items()})


def _key(status: object) -> RunStatus | str:
    return RunStatus.parse(status) if isinstance(status, str) else cast(RunStatus, status)


@attrs.frozen(repr=False)
class RunStateMachine(Value):
    """Maps a run's status to what the session does next, and tells which statuses are
    active. Replace the table or one entry (:meth:`with_handler`); the table is read-only."""

    table: Mapping[RunStatus, Handler] = attrs.field(
        default=DEFAULT_TABLE, converter=_frozen_table, validator=_check_table
    )
    unknown: Handler = KeepWaiting()

    def decide(self, status: RunStatus | str) -> Handler:
        """The handler for ``status`` (a RunStatus or its string); the ``unknown`` handler for
        a status not in the API."""
        key = _key(status)
        if isinstance(key, RunStatus):
            return self.table[key]
        return self.unknown

    def is_known(self, status: RunStatus | str) -> bool:
        """True for the nine statuses of the API."""
        return isinstance(_key(status), RunStatus)

    def is_active(self, status: RunStatus | str) -> bool:
        """True while a run in ``status`` holds its thread; an unknown status counts as
        active, so it is waited for (or cancelled) rather than abandoned."""
        key = _key(status)
        return DEFAULT_ROWS[key].active if isinstance(key, RunStatus) else True

    def with_handler(self, status: RunStatus | str, handler: Handler) -> RunStateMachine:
        """A new machine whose ``status`` entry is ``handler``; this one is unchanged."""
        key = _key(status)
        if not isinstance(key, RunStatus):
            msg = (
                f"{status!r} is not a run status; use one of {[str(s) for s in RunStatus]}, "
                "or set `unknown=` for statuses this version does not know."
            )
            raise ConfigurationError(msg)
        return attrs.evolve(self, table={**self.table, key: handler})

    def markdown(self) -> str:
        """The table as Markdown: status, active, handler, and what the handler does."""
        lines = ["| status | active | handler | what happens |", "|---|---|---|---|"]
        for status in RunStatus:
            handler = self.decide(status)
            what = type(handler).__doc__ or ""
            name = type(handler).__name__
            if isinstance(handler, RaiseError):
                name = f"RaiseError({getattr(handler.factory, '__name__', 'factory')})"
                what = (handler.factory.__doc__ or what).strip()
            active = "yes" if self.is_active(status) else "no"
            lines.append(f"| `{status}` | {active} | `{name}` | {what.strip()} |")
        unknown = type(self.unknown).__name__
        lines.append(
            f"| any other | yes | `{unknown}` | {(type(self.unknown).__doc__ or '').strip()} |"
        )
        return "\n".join(lines) + "\n"


DEFAULT_MACHINE = RunStateMachine()
"""The machine every session uses unless given another."""
