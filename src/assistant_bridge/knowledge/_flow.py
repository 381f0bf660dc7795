"""Every decision of a sync, written once, as generators that yield the operations to perform.

A flow (``plan_flow``, ``sync_flow``, ``delete_flow``) yields operation values
(:mod:`assistant_bridge.transports._vector_stores`'s, and :class:`Sleep`) and is sent each
answer, or thrown the error performing it raised. :func:`drive` runs a flow with a sync
performer, :func:`drive_async` awaits an async one: that is all that differs between
``KnowledgeBase`` and ``AsyncKnowledgeBase`` (h11's sans-I/O way: the machine decides, the
caller does the I/O). Local state (the lock, the upload journal) is touched by the flows
directly: it is a few small writes on this machine.

The guarantees, in the order a sync keeps them:

1. one sync of a store at a time on this machine (:class:`MachineLock`, within the deadline);
2. a listing that cannot be read raises before anything is created or changed;
3. a plan that removes all, or most, of the store raises unless removal is allowed;
4. orphans of an interrupted sync (uploads the journal names) are deleted, nothing else;
5. a store is created only when none exists, and right after creating it a second listing
   converges on one store of the name (the smallest ``(created_at, id)``; ours is deleted when
   another wins);
6. every upload is journalled before it is sent; a changed file's old copies are detached and
   deleted only once the new copy is indexed; a new copy that fails to index is removed and
   the old one stays.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from typing import Any, TypeVar

import attrs

from assistant_bridge.exceptions import NotFoundError, TransportError
from assistant_bridge.knowledge._errors import (
    FileRefusedError,
    IndexingFailedError,
    IndexingTimeoutError,
    KnowledgeBaseError,
    RemovalRefusedError,
    SyncBusyError,
)
from assistant_bridge.knowledge._journal import Journal, JournalEntry, find_orphans
from assistant_bridge.knowledge._lock import MachineLock
from assistant_bridge.knowledge._plan import (
    Collected,
    LocalFile,
    RemoteFile,
    SyncPlan,
    SyncProgress,
    SyncResult,
    indexing_state,
    plan_sync,
)
from assistant_bridge.transports._vector_stores import (
    AttachFile,
    CreateStore,
    DeleteFile,
    DeleteStore,
    DetachFile,
    ListFiles,
    ListStoreFiles,
    ListStores,
    StoreOperation,
    UploadFile,
)

__all__ = [
    "STORE_KEY",
    "Context",
    "Sleep",
    "delete_flow",
    "drive",
    "drive_async",
    "find_flow",
    "plan_flow",
    "sync_flow",
]

#: Metadata key marking a vector store this library syncs; its value is the store's name.
STORE_KEY = "assistant_bridge_kb"
#: Statuses the service answers for a request that names a file it refused.
_REFUSED = frozenset({400, 413, 415, 422})
_LOCK_RETRY = 0.05

R = TypeVar("R")


@attrs.frozen
class Sleep:
    """Wait this many seconds (the performer's sleep: ``time.sleep`` or ``asyncio.sleep``)."""

    seconds: float


Step = StoreOperation | Sleep
Flow = Generator[Step, Any, R]


@attrs.frozen
class Context:
    """What every flow of one knowledge base needs besides the operations' answers."""

    name: str
    lock: MachineLock
    journal: Journal
    clock: Callable[[], float]
    wall: Callable[[], float]
    poll_interval: float
    progress: Callable[[SyncProgress], None] = lambda _p: None


# -- running a flow -------------------------------------------------------------------------
def drive(flow: Flow[R], perform: Callable[[Step], Any]) -> R:
    """Run ``flow``, performing each step with ``perform``; its return value."""
    try:
        step = next(flow)
        while True:
            try:
                answer = perform(step)
            except BaseException as exc:  # the flow decides; it re-raises what it cannot use
                step = flow.throw(exc)
            else:
                step = flow.send(answer)
    except StopIteration as stop:
        result: R = stop.value
        return result


async def drive_async(flow: Flow[R], perform: Callable[[Step], Awaitable[Any]]) -> R:
    """Run ``flow``, awaiting each step from ``perform``; its return value."""
    try:
        step = next(flow)
        while True:
            try:
                answer = await perform(step)
            except BaseException as exc:  # the flow decides; it re-raises what it cannot use
                step = flow.throw(exc)
            else:
                step = flow.send(answer)
    except StopIteration as stop:
        result: R = stop.value
        return result


# -- the store ------------------------------------------------------------------------------
def _order(store: Mapping[str, Any]) -> tuple[float, str]:
    created = store.get("created_at")
    return (created if isinstance(created, (int, float)) else float("inf"), str(store["id"]))


def choose_store(
    name: str, stores: Sequence[Mapping[str, Any]]
) -> tuple[Mapping[str, Any] | None, list[Mapping[str, Any]]]:
    """The store named ``name`` to sync, and the duplicates this library made of it.

    Of the stores this library made (``STORE_KEY`` in their metadata), the one with the
    smallest ``(created_at, id)`` wins, as every concurrent sync decides alike; a store of the
    name made by someone else is used only when it is the only one.
    """
    named = [s for s in stores if s.get("name") == name and "id" in s]
    ours = sorted(
        (s for s in named if (s.get("metadata") or {}).get(STORE_KEY) == name), key=_order
    )
    if ours:
        return ours[0], ours[1:]
    if len(named) > 1:
        ids = ", ".join(str(s["id"]) for s in named)
        msg = (
            f"{len(named)} vector stores are named {name!r} ({ids}) and none was made by this "
            "library; delete the extra ones or pick another name."
        )
        raise KnowledgeBaseError(msg)
    return (named[0] if named else None), []


def find_flow(context: Context) -> Flow[str | None]:
    """The id of the store to sync, or None when there is none."""
    keeper, _ = choose_store(context.name, (yield ListStores()))
    return None if keeper is None else str(keeper["id"])


def _create(context: Context) -> Flow[str]:
    """Create the store, then converge: when a concurrent sync made one too, the smallest
    ``(created_at, id)`` stays and ours is deleted if it is not that one."""
    created = yield CreateStore(context.name, {STORE_KEY: context.name})
    mine = str(created["id"])
    keeper, _ = choose_store(context.name, (yield ListStores()))
    if keeper is None or str(keeper["id"]) == mine:
        return mine
    yield from _gone(DeleteStore(mine))
    return str(keeper["id"])


def _gone(operation: StoreOperation) -> Flow[None]:
    """Delete something; already gone is as good."""
    try:
        yield operation
    except NotFoundError:
        return


def _drop_store(store_id: str) -> Flow[int]:
    """Delete a store and the files a sync uploaded to it; how many files."""
    try:
        rows = yield ListStoreFiles(store_id)
    except NotFoundError:
        return 0
    files = [RemoteFile.from_json(r) for r in rows]
    for found in files:
        if found.ours:
            yield from _gone(DeleteFile(found.file_id))
    yield from _gone(DeleteStore(store_id))
    return len(files)


def _lock(context: Context, deadline: float) -> Flow[None]:
    while not context.lock.try_acquire():
        left = deadline - context.clock()
        if left <= 0:
            msg = (
                f"Another sync of {context.name!r} is running on this machine (it holds "
                f"{str(context.lock.path)!r}); try again once it has finished."
            )
            raise SyncBusyError(msg)
        yield Sleep(min(_LOCK_RETRY, left))


# -- reading: the plan ------------------------------------------------------------------------
def _orphans(context: Context, held: Sequence[str]) -> Flow[list[str]]:
    entries = context.journal.entries()
    if not entries:
        return []
    files = yield ListFiles("assistants")
    return find_orphans(entries, files, held)


def _read(context: Context, collected: Collected) -> Flow[tuple[SyncPlan, list[Mapping[str, Any]]]]:
    stores = yield ListStores()
    keeper, extras = choose_store(context.name, stores)
    remote: list[RemoteFile] = []
    if keeper is not None:
        remote = [RemoteFile.from_json(r) for r in (yield ListStoreFiles(str(keeper["id"])))]
    orphans = yield from _orphans(context, [f.file_id for f in remote])
    store_id = None if keeper is None else str(keeper["id"])
    return plan_sync(context.name, store_id, collected, remote, orphans), extras


def plan_flow(context: Context, collected: Collected) -> Flow[SyncPlan]:
    """What a sync would do; reads only."""
    plan, _ = yield from _read(context, collected)
    return plan


# -- writing: the sync ------------------------------------------------------------------------
def sync_flow(
    context: Context, collected: Collected, *, timeout: float, allow_removal: bool
) -> Flow[SyncResult]:
    """Plan, check the plan, apply it; ``timeout`` bounds each wait (for another sync's lock,
    for indexing once the uploads are sent)."""
    yield from _lock(context, context.clock() + timeout)
    try:
        plan, extras = yield from _read(context, collected)
        refused = plan.removal_refused()
        if refused is not None and not allow_removal:
            raise RemovalRefusedError(refused)
        return (yield from _apply(context, plan, extras, timeout))
    finally:
        context.lock.release()


def _apply(
    context: Context,
    plan: SyncPlan,
    extras: Sequence[Mapping[str, Any]],
    timeout: float,
) -> Flow[SyncResult]:
    for extra in extras:
        yield from _drop_store(str(extra["id"]))
    for file_id in plan.orphans:
        yield from _gone(DeleteFile(file_id))
    context.journal.settle(*context.journal.entries())
    store_id = plan.store_id if plan.store_id is not None else (yield from _create(context))

    sends = plan.sends
    uploaded: dict[str, str] = {}
    for done, file in enumerate(sends, 1):
        uploaded[(yield from _upload(context, store_id, file))] = file.path
        context.progress(SyncProgress("upload", done, len(sends), file.path))
    leaving = (*plan.remove, *plan.redundant)
    for done, found in enumerate(leaving, 1):
        yield from _remove(store_id, found.file_id, delete=found.ours)
        context.progress(SyncProgress("remove", done, len(leaving), found.name))

    deadline = context.clock() + timeout
    pending, failed = yield from _wait(context, store_id, uploaded, deadline)
    failed_ids = {i for i, path in uploaded.items() if path in failed}
    for file_id in failed_ids:  # the new copy goes; the old one, if any, stays
        yield from _remove(store_id, file_id, delete=True)
    for replacement in plan.replace:
        if replacement.new.path not in pending and replacement.new.path not in failed:
            for old in replacement.old:
                yield from _remove(store_id, old.file_id, delete=old.ours)
    if failed:
        reasons = "; ".join(f"{path}: {why}" for path, why in sorted(failed.items()))
        kept = " (their old copies stay in the store)" if plan.replace else ""
        msg = f"The service could not index {len(failed)} file(s){kept}: {reasons}."
        raise IndexingFailedError(msg, store_id=store_id, failed=failed)
    if pending:
        msg = (
            f"{len(pending)} file(s) of {context.name!r} were still being indexed after "
            f"{timeout:g} s ({', '.join(pending[:5])}); the service goes on: sync "
            "again later (nothing is uploaded twice), or raise the timeout."
        )
        raise IndexingTimeoutError(msg, store_id=store_id, pending=pending)
    return SyncResult(
        store_id,
        context.name,
        tuple(f.path for f in sends),
        tuple(f.name for f in plan.unchanged),
        tuple(f.name for f in plan.remove),
        tuple(r.new.path for r in plan.replace),
        plan.skipped,
        plan.orphans,
    )


def _refused(file: LocalFile, exc: TransportError, doing: str) -> FileRefusedError:
    return FileRefusedError(f"The service refused {doing} {file.path}: {exc}", path=file.path)


def _upload(context: Context, store_id: str, file: LocalFile) -> Flow[str]:
    """Journal, upload and attach one file; its id. The entry stays until the next sync (or
    ``kb delete``) has looked for orphans: an upload a client retried leaves a copy only the
    entry's name, size and time can find."""
    entry = context.journal.add(
        JournalEntry.new(file.path, file.filename, file.sha256, file.size, context.wall())
    )
    try:
        file_id = str((yield UploadFile(file.filename, file.size, file.open)))
    except TransportError as exc:
        if exc.status_code in _REFUSED:
            raise _refused(file, exc, "the upload of") from None
        raise
    context.journal.uploaded(entry, file_id)
    try:
        yield AttachFile(store_id, file_id, file.attributes())
    except TransportError as exc:
        if exc.status_code in _REFUSED:
            yield from _gone(DeleteFile(file_id))
            raise _refused(file, exc, "adding to the store") from None
        raise
    return file_id


def _remove(store_id: str, file_id: str, *, delete: bool) -> Flow[None]:
    """Detach a file; with ``delete`` (a sync uploaded it), delete it from the account too."""
    yield from _gone(DetachFile(store_id, file_id))
    if delete:
        yield from _gone(DeleteFile(file_id))


def _wait(
    context: Context, store_id: str, uploaded: dict[str, str], deadline: float
) -> Flow[tuple[list[str], dict[str, str]]]:
    """Poll the store until the uploads are indexed or failed, or the deadline passes; the
    paths still pending and the paths that failed (with the reason)."""
    if not uploaded:
        return [], {}
    while True:
        rows = yield ListStoreFiles(store_id)
        pending, failed = indexing_state(uploaded, [RemoteFile.from_json(r) for r in rows])
        context.progress(SyncProgress("index", len(uploaded) - len(pending), len(uploaded)))
        left = deadline - context.clock()
        if not pending or left <= 0:
            return pending, failed
        yield Sleep(min(context.poll_interval, left))


# -- deleting ---------------------------------------------------------------------------------
def delete_flow(context: Context, *, timeout: float) -> Flow[bool]:
    """Delete the store (and any duplicate of it this library made), the files syncs
    uploaded to it, and the orphans the journal names; False when there was no store."""
    yield from _lock(context, context.clock() + timeout)
    try:
        keeper, extras = choose_store(context.name, (yield ListStores()))
        for store in [s for s in (keeper, *extras) if s is not None]:
            yield from _drop_store(str(store["id"]))
        for file_id in (yield from _orphans(context, [])):
            yield from _gone(DeleteFile(file_id))
        context.journal.settle(*context.journal.entries())
        return keeper is not None
    finally:
        context.lock.release()
