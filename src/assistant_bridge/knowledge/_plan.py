"""What a sync must do, decided without I/O: the local files, the store's files, the diff.

Each file we put in a store carries two attributes, its path in the knowledge base and the
SHA-256 of its content, so a later sync recognises it: same path and hash, unchanged; a path
with another hash, or one no longer present locally, is replaced or removed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import attrs

from assistant_bridge.knowledge._errors import KnowledgeBaseError

__all__ = [
    "PATH_KEY",
    "SHA_KEY",
    "LocalFile",
    "RemoteFile",
    "SyncPlan",
    "SyncProgress",
    "SyncResult",
    "collect",
    "indexing_state",
    "plan_sync",
]

#: Attribute keys on a vector store file: where it came from, and its content hash.
PATH_KEY = "assistant_bridge_path"
SHA_KEY = "assistant_bridge_sha256"
_MAX_ATTRIBUTE = 512

Source = str | Path | Iterable[str | Path] | Mapping[str, bytes]
"""A folder, some files, or file contents by name."""


@attrs.frozen
class LocalFile:
    """A file to hold in the store: its path in the knowledge base, content and hash."""

    path: str
    data: bytes = attrs.field(repr=False)
    sha256: str

    @classmethod
    def of(cls, path: str, data: bytes) -> LocalFile:
        """The file with its hash computed."""
        if len(path) > _MAX_ATTRIBUTE:
            msg = f"path {path[:40]!r}… is {len(path)} characters, over the API's 512."
            raise KnowledgeBaseError(msg)
        return cls(path, data, hashlib.sha256(data).hexdigest())

    @property
    def filename(self) -> str:
        """The name it is uploaded under (what citations show)."""
        return self.path.rsplit("/", 1)[-1]

    def attributes(self) -> dict[str, str]:
        """The attributes that let a later sync recognise it."""
        return {PATH_KEY: self.path, SHA_KEY: self.sha256}


@attrs.frozen
class RemoteFile:
    """A file in the store: its id, indexing status, and our attributes when it has them."""

    file_id: str
    status: str
    path: str | None = None
    sha256: str | None = None
    error: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RemoteFile:
        """From a vector store file object."""
        attributes = data.get("attributes") or {}
        error = data.get("last_error") or {}
        return cls(
            str(data["id"]),
            str(data.get("status") or "completed"),
            _str_or_none(attributes.get(PATH_KEY)),
            _str_or_none(attributes.get(SHA_KEY)),
            _str_or_none(error.get("message") if isinstance(error, Mapping) else error),
        )

    @property
    def ours(self) -> bool:
        """Whether a sync put it there (so the uploaded file may be deleted with it)."""
        return self.path is not None and self.sha256 is not None


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


@attrs.frozen
class SyncPlan:
    """Upload these, keep those, remove the rest."""

    upload: tuple[LocalFile, ...]
    unchanged: tuple[RemoteFile, ...]
    remove: tuple[RemoteFile, ...]


Stage = Literal["upload", "remove", "index"]


@attrs.frozen
class SyncProgress:
    """How far a sync is: ``done`` of ``total`` in ``stage``, and the file just handled."""

    stage: Stage
    done: int
    total: int
    path: str | None = None


@attrs.frozen
class SyncResult:
    """What a sync did, by path, and the store id to give ``FileSearch([...])``."""

    store_id: str
    name: str
    uploaded: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]

    def summary(self) -> str:
        """One line: ``uploaded N, unchanged N, removed N``."""
        return (
            f"uploaded {len(self.uploaded)}, unchanged {len(self.unchanged)}, "
            f"removed {len(self.removed)}"
        )


def collect(source: Source) -> tuple[LocalFile, ...]:
    """The files of a folder (recursively, hidden ones skipped), of a list of files, or of a
    mapping of names to contents, sorted by path."""
    if isinstance(source, Mapping):
        files = [LocalFile.of(str(name), bytes(data)) for name, data in source.items()]
    elif isinstance(source, (str, Path)):
        root = Path(source)
        if root.is_file():
            files = [_read(root, root.name)]
        elif root.is_dir():
            files = [
                _read(p, p.relative_to(root).as_posix())
                for p in sorted(root.rglob("*"))
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(root).parts)
            ]
        else:
            msg = f"{str(root)!r} is neither a folder nor a file."
            raise KnowledgeBaseError(msg)
    else:
        files = [_read(Path(p), Path(p).name) for p in source]
    by_path: dict[str, LocalFile] = {}
    for file in files:
        if file.path in by_path:
            msg = f"two files are named {file.path!r}; give each file a distinct name."
            raise KnowledgeBaseError(msg)
        by_path[file.path] = file
    return tuple(by_path[p] for p in sorted(by_path))


def _read(path: Path, name: str) -> LocalFile:
    try:
        return LocalFile.of(name, path.read_bytes())
    except OSError as exc:
        msg = f"cannot read {str(path)!r}: {exc.strerror or exc}."
        raise KnowledgeBaseError(msg) from None


def plan_sync(local: Iterable[LocalFile], remote: Iterable[RemoteFile]) -> SyncPlan:
    """Diff the local files against the store's: a file is unchanged when one of ours in the
    store has its path and hash; everything else in the store goes."""
    wanted = {f.path: f for f in local}
    unchanged: dict[str, RemoteFile] = {}
    remove: list[RemoteFile] = []
    for found in remote:
        match = wanted.get(found.path) if found.path is not None else None
        healthy = found.status in ("completed", "in_progress")
        if (
            match is not None
            and found.sha256 == match.sha256
            and healthy
            and match.path not in unchanged
        ):
            unchanged[match.path] = found
        else:
            remove.append(found)
    upload = tuple(f for p, f in wanted.items() if p not in unchanged)
    return SyncPlan(upload, tuple(unchanged[p] for p in sorted(unchanged)), tuple(remove))


def indexing_state(
    uploaded: Mapping[str, str], remote: Iterable[RemoteFile]
) -> tuple[list[str], dict[str, str]]:
    """Of the uploaded files (id to path): the paths still being indexed, and the paths that
    failed, each with the service's reason."""
    seen = {f.file_id: f for f in remote if f.file_id in uploaded}
    pending = [
        path
        for file_id, path in uploaded.items()
        if file_id not in seen or seen[file_id].status == "in_progress"
    ]
    failed = {
        uploaded[file_id]: found.error or found.status
        for file_id, found in seen.items()
        if found.status in ("failed", "cancelled")
    }
    return pending, failed
