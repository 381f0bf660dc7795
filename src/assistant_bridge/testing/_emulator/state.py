"""What every handler of the emulator shares: the store, the lock, the models, the scripted
behaviours and the Responses state. The handler classes build on it in one line
(files, run events, assistants, response flow, responses, then the gate)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from .behaviours import Behaviour, Outcome
from .models import Models
from .response_records import ConversationRecord, ResponseRecord
from .store import Store

__all__ = ["AppState", "Script"]


@attrs.define
class Script:
    """A behaviour queued for runs, for ``times`` of them (None: for good)."""

    behaviour: Behaviour
    times: int | None


class AppState:
    """The emulator's state and the scripting every API's runs follow."""

    store: Store
    lock: threading.RLock
    models: Models
    default: Behaviour
    poll_after_ms: int | None
    scripts: dict[str, list[Script]]
    conversations: dict[str, ConversationRecord]
    responses: dict[str, ResponseRecord]
    pending_calls: dict[str, tuple[Callable[[Sequence[str]], Outcome], str]]
    conversation_locks: bool

    def _init_state(
        self, store: Store, models: Models, default: Behaviour, poll_after_ms: int | None
    ) -> None:
        self.store = store
        self.models = models
        self.default = default
        self.poll_after_ms = poll_after_ms
        self.lock = threading.RLock()
        self.scripts = {}
        self.conversations = {}
        self.responses = {}
        self.pending_calls = {}
        self.conversation_locks = True

    def script(self, key: str, behaviour: Behaviour, times: int | None) -> None:
        """Queue ``behaviour`` for runs on ``key`` (a thread, an assistant, or ``"*"``)."""
        with self.lock:
            self.scripts.setdefault(key, []).append(Script(behaviour, times))

    def _behaviour_for(self, thread_id: str, assistant_id: str) -> Behaviour:
        for key in (thread_id, assistant_id, "*"):
            queue = self.scripts.get(key)
            while queue:
                entry = queue[0]
                if entry.times is None:
                    return entry.behaviour
                entry.times -= 1
                if entry.times <= 0:
                    queue.pop(0)
                return entry.behaviour
        return self.default

    @staticmethod
    def _metadata(body: Mapping[str, Any]) -> dict[str, str]:
        """The metadata sent (its limits are checked by the schemas, for every route)."""
        return dict(body.get("metadata") or {})
