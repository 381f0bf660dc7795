"""The upload journal: what a sync is about to upload, written down before it is sent.

A sync that is killed while an upload's answer is pending cannot know the file's id, and the
file stays in the account unless someone finds it (so does the first copy of an upload a client
retried). So each upload is journalled before it is sent (path, file name, SHA-256, size,
time), with its id once the answer comes. The next sync (or ``kb delete``) of the same store on
this machine reads the entries under its lock: an account file of purpose ``assistants`` that
the store does not hold and that matches exactly one entry (its id, or its name and size and a
creation time within the upload's window), that entry matching no other file, is an orphan and
is deleted; a file no entry matches is never touched. Then the entries are dropped. The journal
is local: a sync killed on another machine leaves its orphans to that machine.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from assistant_bridge.knowledge._errors import KnowledgeBaseError

__all__ = ["Journal", "JournalEntry", "find_orphans"]

#: Seconds the server's clock may differ from ours when matching an upload's time.
CLOCK_SKEW = 300.0
#: The slowest upload rate (bytes per second) a journalled upload is assumed to have had.
_SLOWEST_RATE = 100_000


@attrs.frozen
class JournalEntry:
    """One upload: written before it is sent; ``file_id`` once the answer came."""

    entry_id: str
    path: str
    filename: str
    sha256: str
    size: int
    time: float
    file_id: str | None = None

    @classmethod
    def new(cls, path: str, filename: str, sha256: str, size: int, time: float) -> JournalEntry:
        return cls(uuid.uuid4().hex, path, filename, sha256, size, time)

    def matches(self, found: Mapping[str, Any]) -> bool:
        """Whether account file ``found`` may be this upload: its id, or its name and size,
        created between the journalling and the slowest possible end of the upload."""
        if found.get("purpose", "assistants") != "assistants":
            return False
        if self.file_id is not None and found.get("id") == self.file_id:
            return True
        created = found.get("created_at")
        if not isinstance(created, (int, float)):
            return False
        latest = self.time + CLOCK_SKEW + 3600 + self.size / _SLOWEST_RATE
        return (
            found.get("filename") == self.filename
            and found.get("bytes") == self.size
            and self.time - CLOCK_SKEW <= created <= latest
        )


def find_orphans(
    entries: Sequence[JournalEntry], files: Iterable[Mapping[str, Any]], held: Iterable[str]
) -> list[str]:
    """The ids of account ``files`` to delete as orphans: each matches exactly one entry,
    which matches no other file, and the store does not hold it (``held``)."""
    in_store = set(held)
    loose = [f for f in files if str(f.get("id")) not in in_store]
    matched = {e.entry_id: [str(f["id"]) for f in loose if e.matches(f)] for e in entries}
    claims: dict[str, int] = {}
    for ids in matched.values():
        for file_id in ids:
            claims[file_id] = claims.get(file_id, 0) + 1
    return sorted({ids[0] for ids in matched.values() if len(ids) == 1 and claims[ids[0]] == 1})


class Journal:
    """The entries of one store's journal file, saved whole (write, sync, rename) on every
    change, so a crash leaves either the old or the new journal, never half of one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, JournalEntry] = {}
        self._loaded = False

    def __repr__(self) -> str:
        return f"<Journal({str(self.path)!r}, entries={len(self.entries())})>"

    def entries(self) -> list[JournalEntry]:
        """What is left of earlier uploads (and this sync's, until they are settled)."""
        if not self._loaded:
            self._entries = {e.entry_id: e for e in self._load()}
            self._loaded = True
        return list(self._entries.values())

    def _load(self) -> list[JournalEntry]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError as exc:
            msg = f"cannot read the upload journal {str(self.path)!r}: {exc.strerror or exc}."
            raise KnowledgeBaseError(msg) from None
        try:
            rows = json.loads(text)
            return [JournalEntry(**row) for row in rows]
        except (ValueError, TypeError):
            msg = (
                f"the upload journal {str(self.path)!r} is not one this library wrote; move it "
                "away to go on (files it names may then stay in the account)."
            )
            raise KnowledgeBaseError(msg) from None

    def add(self, entry: JournalEntry) -> JournalEntry:
        """Write down an upload about to be sent."""
        self.entries()
        self._entries[entry.entry_id] = entry
        self._save()
        return entry

    def uploaded(self, entry: JournalEntry, file_id: str) -> JournalEntry:
        """Note the id the upload's answer gave."""
        done = attrs.evolve(entry, file_id=file_id)
        self._entries[entry.entry_id] = done
        self._save()
        return done

    def settle(self, *entries: JournalEntry) -> None:
        """Drop entries whose file is in the store, deleted, or known never to have arrived."""
        self.entries()
        changed = False
        for entry in entries:
            changed |= self._entries.pop(entry.entry_id, None) is not None
        if changed:
            self._save()

    def _save(self) -> None:
        rows = [attrs.asdict(e) for e in self._entries.values()]
        try:
            if not rows:
                self.path.unlink(missing_ok=True)
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(rows, stream)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self.path)
        except OSError as exc:
            msg = (
                f"cannot write the upload journal {str(self.path)!r}: {exc.strerror or exc}; "
                "set ASSISTANT_BRIDGE_STATE_DIR (or state_dir=) to a writable folder."
            )
            raise KnowledgeBaseError(msg) from None
