"""The run state machine, declared as data.

Rules of this module (after h11's ``_state.py``):

* Every decision about what a run's status means lives in :data:`DEFAULT_TABLE`, a mapping from
  each of the nine :class:`RunStatus` values to a handler strategy. The table is exhaustive:
  a machine whose table misses a status, or names one that does not exist, is refused.
* The machine is sans-I/O. :meth:`RunStateMachine.decide` only answers "what now?"; the
  session flow (:mod:`._flow`) turns the answer into operations, and a driver performs them.
* A status this version does not know (a newer server) gets the ``unknown`` handler: by
  default keep waiting until the deadline, with one warning per ask.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

import attrs

from assistant_bridge._values.models import Run, RunStatus
from assistant_bridge.exceptions import (
    ConfigurationError,
    RunCancelledError,
    RunError,
    RunExpiredError,
    RunFailedError,
    UnexpectedStatusError,
)

__all__ = [
    "DEFAULT_TABLE",
    "Finish",
    "FinishIncomplete",
    "HandleRequiredAction",
    "Handler",
    "KeepWaiting",
    "RaiseError",
    "RunStateMachine",
]


@attrs.frozen
class KeepWaiting:
    """The run is still working: wait, then look again (until the deadline)."""


@attrs.frozen
class Finish:
    """The run is done: collect its messages and build the reply."""


@attrs.frozen
class FinishIncomplete:
    """The run stopped early: collect what it wrote and raise RunIncompleteError with it."""


@attrs.frozen
class HandleRequiredAction:
    """The run waits for tool outputs: run the tool handler, or cancel and raise."""


@attrs.frozen
class RaiseError:
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


DEFAULT_TABLE: Mapping[RunStatus, Handler] = {
    RunStatus.QUEUED: KeepWaiting(),
    RunStatus.IN_PROGRESS: KeepWaiting(),
    RunStatus.CANCELLING: KeepWaiting(),
    RunStatus.REQUIRES_ACTION: HandleRequiredAction(),
    RunStatus.COMPLETED: Finish(),
    RunStatus.INCOMPLETE: FinishIncomplete(),
    RunStatus.FAILED: RaiseError(run_failed),
    RunStatus.CANCELLED: RaiseError(run_cancelled),
    RunStatus.EXPIRED: RaiseError(run_expired),
}
"""What each status means by default."""


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


def _frozen_table(table: Mapping[RunStatus, Handler]) -> Mapping[RunStatus, Handler]:
    return MappingProxyType(dict(table))


@attrs.frozen
class RunStateMachine:
    """Maps a run's status to what the session does next. Replace the table or one entry."""

    table: Mapping[RunStatus, Handler] = attrs.field(
        default=DEFAULT_TABLE, validator=_check_table, converter=_frozen_table
    )
    unknown: Handler = KeepWaiting()

    def decide(self, status: RunStatus | str) -> Handler:
        """The handler for ``status``; the ``unknown`` handler for a status not in the API."""
        if isinstance(status, RunStatus):
            return self.table[status]
        return self.unknown

    def is_known(self, status: RunStatus | str) -> bool:
        """True for the nine statuses of the API."""
        return isinstance(status, RunStatus)

    def with_handler(self, status: RunStatus | str, handler: Handler) -> RunStateMachine:
        """A copy whose ``status`` entry is ``handler``."""
        key = RunStatus.parse(status) if isinstance(status, str) else status
        if not isinstance(key, RunStatus):
            msg = (
                f"{status!r} is not a run status; use one of {[str(s) for s in RunStatus]}, "
                "or set `unknown=` for statuses this version does not know."
            )
            raise ConfigurationError(msg)
        return attrs.evolve(self, table={**self.table, key: handler})
