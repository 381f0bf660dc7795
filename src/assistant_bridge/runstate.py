"""The run state table: what a session does at each run status, declared as data.

``RunStateMachine`` maps each of the nine statuses to a handler (``KeepWaiting``, ``Finish``,
``FinishIncomplete``, ``HandleRequiredAction``, ``RaiseError(make_error)``); ``DEFAULT_TABLE``
is the table a session uses unless given another, ``ACTIVE_STATUSES`` the statuses in which a
run still holds its thread, and ``run_failed`` ... ``unexpected_status`` the error makers the
default table raises with. See docs/state-machine.md.
"""

from assistant_bridge._runstate.table import (
    ACTIVE_STATUSES,
    DEFAULT_TABLE,
    Finish,
    FinishIncomplete,
    Handler,
    HandleRequiredAction,
    KeepWaiting,
    RaiseError,
    RunStateMachine,
    run_cancelled,
    run_expired,
    run_failed,
    unexpected_status,
)
from assistant_bridge._values.models import RunStatus

__all__ = [
    "ACTIVE_STATUSES",
    "DEFAULT_TABLE",
    "Finish",
    "FinishIncomplete",
    "HandleRequiredAction",
    "Handler",
    "KeepWaiting",
    "RaiseError",
    "RunStateMachine",
    "RunStatus",
    "run_cancelled",
    "run_expired",
    "run_failed",
    "unexpected_status",
]
