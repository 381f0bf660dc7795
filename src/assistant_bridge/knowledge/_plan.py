"""What a sync must do, decided without I/O: the local files, the store's files, the diff.

Each file we put in a store carries two attributes, its path in the knowledge base and the
SHA-256 of its content, so a later sync recognises it: same path and hash, unchanged; a path
with another hash is replaced (the new copy first); a path no longer present locally, or a file
no sync put there, is removed. Files ``file_search`` would refuse are skipped, each with the
reason, before anything is sent.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Literal

import attrs

from assistant_bridge.knowledge._errors import KnowledgeBaseError

__all__ = [
    "FILE_SEARCH_EXTENSIONS",
    "MAX_FILE_BYTES",
    "PATH_KEY",
    "SHA_KEY",
    "Collected",
    "LocalFile",
    "RemoteFile",
    "Replacement",
    "Skipped",
    "SyncPlan",
    "SyncProgress",
    "SyncResult",
    "collect",
    "indexing_state",
    "plan_sync",
    "size_text",
]

#: Attribute keys on a vector store file: where it came from, and its content hash.
PATH_KEY = "assistant_bridge_path"
SHA_KEY = "assistant_bridge_sha256"
_MAX_ATTRIBUTE = 512

#: The largest file the service takes for ``file_search`` (512 MB).
MAX_FILE_BYTES = 512 * 1024 * 1024

#: The extensions ``file_search`` accepts (OpenAI's "supported files" table); the service
#: refuses a vector store file of any other type.
FILE_SEARCH_EXTENSIONS = frozenset(
    {
        ".c",
        ".cpp",
        ".cs",
        ".css",
        ".doc",
        ".docx",
        ".go",
        ".html",
        ".java",
        ".js",
        ".json",
        ".md",
        ".pdf",
        ".php",
        ".pptx",
        ".py",
        ".rb",
        ".sh",
        ".tex",
        ".ts",
        ".txt",
    }
)

_CHUNK = 1024 * 1024

Source = str | Path | Iterable[str | Path] | Mapping[str, bytes]
"""A folder, some files, or file contents by name."""


def size_text(size: int) -> str:
    """``512 B``, ``1.2 KB``, ``3.4 MB``: a size for people, in units of 1024 (the units the
    service's "512 MB" limit is in)."""
    amount = float(size)
    for unit in ("B", "KB", "MB"):
        if amount < 1024:
            return f"{size} B" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} GB"


@attrs.frozen
class LocalFile:
    """A file to hold in the store: its path in the knowledge base, size and hash, and where
    its content is (a file on disk, read as it is uploaded, or bytes given in memory)."""

    path: str
    size: int
    sha256: str
    origin: Path | None = attrs.field(default=None, repr=False)
    data: bytes | None = attrs.field(default=None, repr=False, eq=False)

    @classmethod
    def of(cls, path: str, data: bytes) -> LocalFile:
        """A file given in memory, with its hash computed."""
        _check_path(path)
        return cls(path, len(data), hashlib.sha256(data).hexdigest(), data=bytes(data))

    @classmethod
    def on_disk(cls, path: str, origin: Path) -> LocalFile:
        """A file on disk, hashed a chunk at a time (memory stays flat whatever its size)."""
        _check_path(path)
        digest = hashlib.sha256()
        size = 0
        try:
            with origin.open("rb") as stream:
                while chunk := stream.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
        except OSError as exc:
            msg = f"cannot read {str(origin)!r}: {exc.strerror or exc}."
            raise KnowledgeBaseError(msg) from None
        return cls(path, size, digest.hexdigest(), origin=origin)

    def open(self) -> IO[bytes]:
        """Its content as a binary stream, for the upload to read as it sends."""
        if self.origin is not None:
            return self.origin.open("rb")
        return io.BytesIO(self.data or b"")

    @property
    def filename(self) -> str:
        """The name it is uploaded under (what citations show)."""
        return self.path.rsplit("/", 1)[-1]

    def attributes(self) -> dict[str, str]:
        """The attributes that let a later sync recognise it."""
        return {PATH_KEY: self.path, SHA_KEY: self.sha256}


def _check_path(path: str) -> None:
    if len(path) > _MAX_ATTRIBUTE:
        msg = f"path {path[:40]!r}… is {len(path)} characters, over the API's 512."
        raise KnowledgeBaseError(msg)


@attrs.frozen
class Skipped:
    """A file left out of the sync, and why (the service would refuse it, or it is hidden)."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def refusal(path: str, size: int) -> str | None:
    """Why the service would refuse this file for ``file_search``, or None when it would not."""
    extension = os.path.splitext(path)[1].lower()
    if extension not in FILE_SEARCH_EXTENSIONS:
        kind = f"{extension} files" if extension else "a file without an extension"
        return f"file_search does not accept {kind}"
    if size > MAX_FILE_BYTES:
        return f"{size_text(size)}, over the 512 MB file_search takes per file"
    if size == 0:
        return "empty: there is nothing to index"
    return None


@attrs.frozen
class Collected:
    """The files a source gives, sorted by path, and the ones left out with the reason."""

    files: tuple[LocalFile, ...]
    skipped: tuple[Skipped, ...] = ()


def collect(source: Source) -> Collected:
    """The files of a folder (recursively; hidden files and folders left out), of a list of
    files, or of a mapping of names to contents, sorted by path; files ``file_search`` would
    refuse (type, size, empty) are skipped with the reason."""
    skipped: list[Skipped] = []
    found: list[tuple[str, Path | bytes]] = []
    if isinstance(source, Mapping):
        found = [(str(name), bytes(data)) for name, data in source.items()]
    elif isinstance(source, (str, Path)):
        root = Path(source)
        if root.is_file():
            found = [(root.name, root)]
        elif root.is_dir():
            found = _walk(root, skipped)
        else:
            msg = f"{str(root)!r} is neither a folder nor a file."
            raise KnowledgeBaseError(msg)
    else:
        for item in source:
            path = Path(item)
            if not path.is_file():
                msg = f"{str(path)!r} is not a file."
                raise KnowledgeBaseError(msg)
            found.append((path.name, path))
    names = [name for name, _ in found]
    for name in names:
        if names.count(name) > 1:
            msg = f"two files are named {name!r}; give each file a distinct name."
            raise KnowledgeBaseError(msg)
    files: list[LocalFile] = []
    for name, where in sorted(found, key=lambda pair: pair[0]):
        size = len(where) if isinstance(where, bytes) else _size(where)
        why = refusal(name, size)
        if why is not None:
            skipped.append(Skipped(name, why))
        elif isinstance(where, bytes):
            files.append(LocalFile.of(name, where))
        else:
            files.append(LocalFile.on_disk(name, where))
    return Collected(tuple(files), tuple(sorted(skipped, key=lambda s: s.path)))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        msg = f"cannot read {str(path)!r}: {exc.strerror or exc}."
        raise KnowledgeBaseError(msg) from None


def _walk(root: Path, skipped: list[Skipped]) -> list[tuple[str, Path | bytes]]:
    """The regular files under ``root``; a hidden file or folder is skipped whole (one entry,
    never walked into)."""
    found: list[tuple[str, Path | bytes]] = []
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        for name in sorted(dirs):
            if name.startswith("."):
                skipped.append(Skipped((here / name).relative_to(root).as_posix() + "/", "hidden"))
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = here / name
            relative = path.relative_to(root).as_posix()
            if name.startswith("."):
                skipped.append(Skipped(relative, "hidden"))
            elif not path.is_file():
                skipped.append(Skipped(relative, "not a regular file"))
            else:
                found.append((relative, path))
    return found


@attrs.frozen
class RemoteFile:
    """A file in the store: its id, indexing status, size, and our attributes when it has
    them."""

    file_id: str
    status: str
    path: str | None = None
    sha256: str | None = None
    error: str | None = None
    size: int = 0

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RemoteFile:
        """From a vector store file object."""
        attributes = data.get("attributes") or {}
        error = data.get("last_error") or {}
        size = data.get("usage_bytes")
        return cls(
            str(data["id"]),
            str(data.get("status") or "completed"),
            _str_or_none(attributes.get(PATH_KEY)),
            _str_or_none(attributes.get(SHA_KEY)),
            _str_or_none(error.get("message") if isinstance(error, Mapping) else error),
            size if isinstance(size, int) else 0,
        )

    @property
    def ours(self) -> bool:
        """Whether a sync put it there (so the uploaded file may be deleted with it)."""
        return self.path is not None and self.sha256 is not None

    @property
    def name(self) -> str:
        """Its path in the knowledge base, or its id when no sync put it there."""
        return self.path or self.file_id


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


@attrs.frozen
class Replacement:
    """A changed file: the new copy to upload, and the old copies it replaces once indexed."""

    new: LocalFile
    old: tuple[RemoteFile, ...]


@attrs.frozen
class SyncPlan:
    """What a sync of store ``name`` would do, and what it would leave alone.

    ``upload`` are new paths, ``replace`` changed ones, ``remove`` files gone from the source
    (or put in the store by hand), ``redundant`` extra copies of unchanged files, ``orphans``
    files an interrupted sync uploaded but never added to the store (ids, deleted from the
    account). ``held`` is how many files the store holds now; ``store_id`` is None when the
    store does not exist yet.
    """

    name: str
    store_id: str | None
    held: int
    upload: tuple[LocalFile, ...] = ()
    replace: tuple[Replacement, ...] = ()
    unchanged: tuple[RemoteFile, ...] = ()
    remove: tuple[RemoteFile, ...] = ()
    redundant: tuple[RemoteFile, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    orphans: tuple[str, ...] = ()

    @property
    def sends(self) -> tuple[LocalFile, ...]:
        """Every file to upload, new or changed, by path."""
        both = (*self.upload, *(r.new for r in self.replace))
        return tuple(sorted(both, key=lambda f: f.path))

    def removal_refused(self) -> str | None:
        """Why applying it needs ``allow_removal`` (one line saying how to go on), or None.

        It does when it would remove every file of the store, or more than half of a store of
        more than 4 files: what an emptied folder, a wrong path or a bad checkout look like.
        A changed file's old copy is replaced, not removed, and does not count.
        """
        count = len(self.remove)
        if not count or not (count == self.held or (self.held > 4 and count > self.held / 2)):
            return None
        names = ", ".join(f.name for f in self.remove[:3]) + (", …" if count > 3 else "")
        return (
            f"Syncing {self.name!r} would remove {count} of the {self.held} files in its store "
            f"({names}); nothing was changed. Check the source folder, or allow the removal "
            "(--allow-removal, or allow_removal=True)."
        )

    def lines(self) -> list[str]:
        """One line per change, with names and sizes, then one per skipped file."""
        out = [f"create   vector store {self.name!r}"] if self.store_id is None else []
        out += [f"upload   {f.path} ({size_text(f.size)})" for f in self.upload]
        for r in self.replace:
            was = ", ".join(size_text(o.size) for o in r.old)
            out.append(f"replace  {r.new.path} ({size_text(r.new.size)}, was {was})")
        for f in self.remove:
            whose = "" if f.ours else ", added by hand: detached, not deleted"
            out.append(f"remove   {f.name} ({size_text(f.size)}{whose})")
        out += [f"remove   {f.name} (an extra copy)" for f in self.redundant]
        out += [f"delete   {file_id} (uploaded by an interrupted sync)" for file_id in self.orphans]
        out += [f"skip     {s}" for s in self.skipped]
        return out

    def summary(self) -> str:
        """One line of counts, as :meth:`SyncResult.summary` says them."""
        return _summary(
            len(self.sends), len(self.unchanged), len(self.remove), len(self.replace),
            len(self.skipped),
        )  # fmt: skip


def _summary(uploaded: int, unchanged: int, removed: int, replaced: int, skipped: int) -> str:
    line = f"uploaded {uploaded}, unchanged {unchanged}, removed {removed}"
    if replaced:
        line += f", replaced {replaced}"
    if skipped:
        line += f", skipped {skipped}"
    return line


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
    """What a sync did, by path, and the store id to give ``FileSearch([...])``.

    ``uploaded`` holds every path sent (new or changed), ``replaced`` the changed ones among
    them, ``removed`` what left the store (a changed file's old copy is not counted), and
    ``skipped`` the files left out, each with the reason.
    """

    store_id: str
    name: str
    uploaded: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]
    replaced: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    orphans: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line: ``uploaded N, unchanged N, removed N``, then ``replaced N`` and
        ``skipped N`` when there are any."""
        return _summary(
            len(self.uploaded), len(self.unchanged), len(self.removed), len(self.replaced),
            len(self.skipped),
        )  # fmt: skip


def plan_sync(
    name: str,
    store_id: str | None,
    collected: Collected,
    remote: Sequence[RemoteFile],
    orphans: Sequence[str] = (),
) -> SyncPlan:
    """Diff the local files against the store's: a file is unchanged when one of ours in the
    store has its path and hash (and is indexed or being indexed); a local path whose store
    copies all differ is replaced; everything else in the store is removed, except the copies
    of files skipped this time (they stay as they were)."""
    wanted = {f.path: f for f in collected.files}
    keep = {s.path for s in collected.skipped}
    unchanged: dict[str, RemoteFile] = {}
    stale: dict[str, list[RemoteFile]] = {}
    remove: list[RemoteFile] = []
    redundant: list[RemoteFile] = []
    for found in remote:
        match = wanted.get(found.path) if found.path is not None else None
        healthy = found.status in ("completed", "in_progress")
        if match is not None and found.sha256 == match.sha256 and healthy:
            if match.path in unchanged:
                redundant.append(found)
            else:
                unchanged[match.path] = found
        elif match is not None:
            stale.setdefault(match.path, []).append(found)
        elif found.path is not None and found.path in keep and found.ours:
            continue
        else:
            remove.append(found)
    for path, copies in stale.items():
        if path in unchanged:
            redundant += copies
    upload = tuple(f for p, f in wanted.items() if p not in unchanged and p not in stale)
    replace = tuple(
        Replacement(wanted[p], tuple(copies))
        for p, copies in sorted(stale.items())
        if p not in unchanged
    )
    return SyncPlan(
        name,
        store_id,
        len(remote),
        upload,
        replace,
        tuple(unchanged[p] for p in sorted(unchanged)),
        tuple(remove),
        tuple(redundant),
        collected.skipped,
        tuple(orphans),
    )


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
