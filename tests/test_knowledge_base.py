"""KnowledgeBase: a named vector store kept equal to a folder, over loopback to the emulator."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import openai
import pytest

from assistant_bridge import ThreadSession
from assistant_bridge._cli.exit_codes import ExitCode, exit_code_for
from assistant_bridge._cli.main import main
from assistant_bridge.exceptions import ConfigurationError, TransportError
from assistant_bridge.knowledge import (
    MAX_FILE_BYTES,
    AsyncKnowledgeBase,
    FileRefusedError,
    IndexingFailedError,
    IndexingTimeoutError,
    KnowledgeBase,
    KnowledgeBaseError,
    RemoteFile,
    RemovalRefusedError,
    SyncBusyError,
    SyncProgress,
    sample_runbooks,
)
from assistant_bridge.knowledge._flow import STORE_KEY, choose_store
from assistant_bridge.knowledge._journal import JournalEntry, find_orphans
from assistant_bridge.knowledge._plan import (
    PATH_KEY,
    SHA_KEY,
    Collected,
    LocalFile,
    collect,
    plan_sync,
)
from assistant_bridge.testing import Emulator, FakeClock, Fault
from assistant_bridge.transports import AsyncOpenAITransport
from assistant_bridge.transports._vector_stores import (
    AsyncVectorStoreAPI,
    AttachFile,
    CreateStore,
    DeleteFile,
    DetachFile,
    ListStoreFiles,
    ListStores,
    UploadFile,
    VectorStoreAPI,
)

UPLOADS = ("files.create", "vector_stores.files.create")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The sample runbooks written to a folder."""
    for name, data in sample_runbooks().items():
        (tmp_path / name).write_bytes(data)
    return tmp_path


@pytest.fixture
def client(assistant_emulator: Emulator) -> Iterator[Any]:
    client = assistant_emulator.client()
    yield client
    client.close()


def uploads(emulator: Emulator) -> int:
    counts = emulator.counts()
    return sum(counts[route] for route in UPLOADS)


class TestSync:
    def test_first_sync_uploads_every_file_and_tags_it(
        self, assistant_emulator: Emulator, client: Any, folder: Path
    ) -> None:
        """A new store gets every file, each with its path and SHA-256 as attributes."""
        result = KnowledgeBase(client, "runbooks").sync(folder)
        assert result.summary() == "uploaded 5, unchanged 0, removed 0"
        store = assistant_emulator.store.vector_stores[result.store_id]
        assert store.name == "runbooks"
        assert len(store.file_ids) == 5
        tags = {f.attributes[PATH_KEY]: f.attributes[SHA_KEY] for f in store.files.values()}
        assert tags == {f.path: f.sha256 for f in collect(folder).files}

    def test_second_sync_of_an_unchanged_folder_uploads_nothing(
        self, assistant_emulator: Emulator, client: Any, folder: Path
    ) -> None:
        """Re-running on the same folder only reads: no upload, no attach, no delete."""
        first = KnowledgeBase(client, "runbooks").sync(folder)
        before = assistant_emulator.counts()
        second = KnowledgeBase(client, "runbooks").sync(folder)
        new = assistant_emulator.counts() - before
        assert second.store_id == first.store_id
        assert second.summary() == "uploaded 0, unchanged 5, removed 0"
        # the upload journal of the first sync is read once: its files are all in the store
        assert set(new) == {"vector_stores.list", "vector_stores.files.list", "files.list"}
        before = assistant_emulator.counts()
        KnowledgeBase(client, "runbooks").sync(folder)
        new = assistant_emulator.counts() - before
        assert set(new) == {"vector_stores.list", "vector_stores.files.list"}

    def test_deleted_file_is_removed_from_store_and_account(
        self, assistant_emulator: Emulator, client: Any, folder: Path
    ) -> None:
        """A file gone from the folder leaves the store, and its uploaded file is deleted."""
        kb = KnowledgeBase(client, "runbooks")
        first = kb.sync(folder)
        gone = next(f for f in kb.files(first.store_id) if f.path == "disk-full.md")
        (folder / "disk-full.md").unlink()
        second = kb.sync(folder)
        assert second.removed == ("disk-full.md",)
        assert second.summary() == "uploaded 0, unchanged 4, removed 1"
        assert gone.file_id not in assistant_emulator.store.vector_stores[first.store_id].file_ids
        assert gone.file_id not in assistant_emulator.store.files

    def test_changed_file_is_uploaded_again_and_the_old_copy_removed(
        self, assistant_emulator: Emulator, client: Any, folder: Path
    ) -> None:
        """Editing one file re-uploads that file only, and the stale copy goes."""
        kb = KnowledgeBase(client, "runbooks")
        kb.sync(folder)
        before = uploads(assistant_emulator)
        with (folder / "memory-leak.md").open("a") as handle:
            handle.write("\nAlso check the heap dump.\n")
        result = kb.sync(folder)
        assert (result.uploaded, result.replaced) == (("memory-leak.md",), ("memory-leak.md",))
        assert result.removed == ()
        assert result.summary() == "uploaded 1, unchanged 4, removed 0, replaced 1"
        assert uploads(assistant_emulator) - before == 2  # one upload, one attach
        held = kb.files(result.store_id)
        assert sorted(f.path or "" for f in held) == sorted(sample_runbooks())
        data = next(
            assistant_emulator.store.files[f.file_id].data
            for f in held
            if f.path == "memory-leak.md"
        )
        assert data.endswith(b"heap dump.\n")

    def test_file_added_by_hand_is_removed(
        self, assistant_emulator: Emulator, client: Any, folder: Path
    ) -> None:
        """The store holds exactly the folder: a file attached by someone else is detached,
        but not deleted from the account, since no sync uploaded it."""
        kb = KnowledgeBase(client, "runbooks")
        store_id = kb.sync(folder).store_id
        stranger = client.files.create(file=("notes.txt", b"x"), purpose="assistants").id
        stores = getattr(client, "vector_stores", None) or client.beta.vector_stores
        stores.files.create(vector_store_id=store_id, file_id=stranger)
        result = kb.sync(folder)
        assert result.removed == (stranger,)
        assert stranger not in assistant_emulator.store.vector_stores[store_id].file_ids
        assert stranger in assistant_emulator.store.files

    def test_mapping_source_and_transport_target(self, assistant_emulator: Emulator) -> None:
        """Contents by name work as a source, and a transport as the target."""
        with assistant_emulator.transport("responses") as transport:
            result = KnowledgeBase(transport, "kb").sync({"a.md": b"alpha", "b/c.md": b"gamma"})
        assert result.uploaded == ("a.md", "b/c.md")
        names = {f.filename for f in assistant_emulator.store.files.values()}
        assert names == {"a.md", "c.md"}

    def test_progress_reports_each_upload_then_indexing(self, client: Any, folder: Path) -> None:
        """The callback hears every upload in order, then indexing as it goes, to complete
        (the emulator indexes as the service does: files are in_progress for a moment)."""
        seen: list[SyncProgress] = []
        KnowledgeBase(client, "runbooks").sync(folder, progress=seen.append)
        steps = [(p.stage, p.done, p.total) for p in seen]
        assert steps[:5] == [("upload", n, 5) for n in range(1, 6)]
        assert steps[-1] == ("index", 5, 5)
        indexing = [done for stage, done, _ in steps[5:] if stage == "index"]
        assert indexing == sorted(indexing)
        assert seen[0].path == "cpu-saturation.md"

    def test_store_id_serves_a_file_search_assistant(
        self, assistant_emulator: Emulator, client: Any, folder: Path
    ) -> None:
        """The synced store grounds the assistant's verdict in its runbooks."""
        store_id = KnowledgeBase(client, "runbooks").sync(folder).store_id
        assistant_id = assistant_emulator.create_assistant(
            tools=[{"type": "file_search"}], vector_store_ids=[store_id]
        )
        with assistant_emulator.transport() as transport:
            reply = ThreadSession(transport, assistant_id).ask("Analyze this alert: disk full")
        assert "disk-full.md" in reply.text

    def test_delete_removes_store_and_uploaded_files(
        self, assistant_emulator: Emulator, client: Any, folder: Path
    ) -> None:
        """delete() leaves nothing of the knowledge base behind."""
        kb = KnowledgeBase(client, "runbooks")
        kb.sync(folder)
        assert kb.delete() is True
        assert assistant_emulator.store.vector_stores == {}
        assert assistant_emulator.store.files == {}
        assert kb.delete() is False

    def test_two_stores_with_the_name_is_an_error(self, client: Any, folder: Path) -> None:
        """An ambiguous name is reported with both ids, not guessed."""
        stores = getattr(client, "vector_stores", None) or client.beta.vector_stores
        stores.create(name="runbooks")
        stores.create(name="runbooks")
        with pytest.raises(KnowledgeBaseError, match="2 vector stores are named 'runbooks'"):
            KnowledgeBase(client, "runbooks").sync(folder)


class Stubbed(VectorStoreAPI):
    """The real calls over loopback, each recorded with its answer; ``hook`` may rewrite an
    answer or raise instead (a fault), after the call was made."""

    def __init__(self, client: Any, hook: Hook | None = None) -> None:
        super().__init__(client)
        self.hook = hook
        self.log: list[tuple[Any, Any]] = []

    def perform(self, operation: Any) -> Any:
        answer = super().perform(operation)
        if self.hook is not None:
            answer = self.hook(operation, answer)
        self.log.append((operation, answer))
        return answer


Hook = Callable[[Any, Any], Any]


def rows_where(test: Callable[[dict[str, Any]], bool], **changes: Any) -> Hook:
    """A hook changing the store-file rows that pass ``test`` (the others as they are)."""

    def hook(operation: Any, answer: Any) -> Any:
        if isinstance(operation, ListStoreFiles):
            return [{**row, **changes} if test(row) else row for row in answer]
        return answer

    return hook


def account(emulator: Emulator) -> set[str]:
    """The ids of every uploaded file of the emulator's account."""
    return set(emulator.store.files)


def held(emulator: Emulator, store_id: str) -> set[str]:
    return set(emulator.store.vector_stores[store_id].file_ids)


WRITES = {
    "files.create",
    "files.delete",
    "vector_stores.create",
    "vector_stores.delete",
    "vector_stores.files.create",
    "vector_stores.files.delete",
}


def writes(emulator: Emulator) -> int:
    return sum(n for route, n in emulator.counts().items() if route in WRITES)


class TestWaiting:
    def test_deadline_raises_with_the_pending_files(self, client: Any) -> None:
        """Indexing that outlasts the timeout raises IndexingTimeoutError naming the files."""
        clock = FakeClock()
        api = Stubbed(client, rows_where(lambda row: True, status="in_progress"))
        kb = KnowledgeBase(api, "kb", poll_interval=2.0, clock=clock.now, sleep=clock.sleep)
        with pytest.raises(IndexingTimeoutError, match=r"still being indexed after 5 s") as info:
            kb.sync({"a.md": b"alpha"}, timeout=5)
        assert info.value.pending == ("a.md",)
        assert clock.now() == pytest.approx(5.0)

    def test_indexing_finishes_within_the_deadline(self, client: Any) -> None:
        """Files in progress are polled until they complete, reporting progress."""
        clock = FakeClock()
        polls = iter(["in_progress", "in_progress", "completed"])

        def hook(operation: Any, answer: Any) -> Any:
            if isinstance(operation, ListStoreFiles):
                status = next(polls, "completed")
                return [{**row, "status": status} for row in answer]
            return answer

        kb = KnowledgeBase(
            Stubbed(client, hook), "kb", poll_interval=1.0, clock=clock.now, sleep=clock.sleep
        )
        seen: list[SyncProgress] = []
        kb.sync({"a.md": b"alpha"}, timeout=30, progress=seen.append)
        assert [(p.stage, p.done) for p in seen if p.stage == "index"] == [
            ("index", 0),
            ("index", 0),
            ("index", 1),
        ]
        assert clock.now() == pytest.approx(2.0)

    def test_failed_indexing_raises_with_the_reason_and_removes_the_copy(
        self, assistant_emulator: Emulator, client: Any
    ) -> None:
        """A file the service could not index is reported with its last_error, and the
        unindexed copy leaves the store and the account (the next sync tries again)."""
        failing = rows_where(
            lambda row: True, status="failed", last_error={"message": "unsupported file"}
        )
        kb = KnowledgeBase(Stubbed(client, failing), "kb")
        with pytest.raises(IndexingFailedError, match=r"a\.md: unsupported file") as info:
            kb.sync({"a.md": b"\x00"})
        assert info.value.failed == {"a.md": "unsupported file"}
        assert held(assistant_emulator, info.value.store_id) == set()
        assert account(assistant_emulator) == set()

    def test_slow_server_past_the_deadline_over_loopback(self, client: Any) -> None:
        """With real time, files still in progress past the timeout end the wait."""
        api = Stubbed(client, rows_where(lambda row: True, status="in_progress"))
        kb = KnowledgeBase(api, "kb", poll_interval=0.05)
        with pytest.raises(IndexingTimeoutError):
            kb.sync({"a.md": b"alpha"}, timeout=0.2)


class TestReplacement:
    """A changed file: the store never lacks it (issue 21, part 2)."""

    @staticmethod
    def change(folder: Path) -> None:
        with (folder / "memory-leak.md").open("a") as handle:
            handle.write("\nAlso check the heap dump.\n")

    def test_old_copy_leaves_only_after_the_new_one_is_indexed(
        self, client: Any, folder: Path
    ) -> None:
        """Upload, attach, a listing showing the new copy completed, and only then the old
        copy is detached and deleted."""
        kb = KnowledgeBase(client, "runbooks")
        store_id = kb.sync(folder).store_id
        old = next(f.file_id for f in kb.files(store_id) if f.path == "memory-leak.md")
        self.change(folder)
        api = Stubbed(client)
        KnowledgeBase(api, "runbooks").sync(folder)
        ops = [op for op, _ in api.log]
        new = next(answer for op, answer in api.log if isinstance(op, UploadFile))
        attach = ops.index(AttachFile(store_id, new, ANY_ATTRIBUTES))
        indexed = next(
            i
            for i, (op, answer) in enumerate(api.log)
            if isinstance(op, ListStoreFiles)
            and i > attach
            and any(r["id"] == new and r["status"] == "completed" for r in answer)
        )
        assert attach < indexed < ops.index(DetachFile(store_id, old)) < ops.index(DeleteFile(old))

    def test_failed_indexing_keeps_the_old_copy(
        self, assistant_emulator: Emulator, client: Any, folder: Path
    ) -> None:
        """When the new copy cannot be indexed it is removed, the old copy stays, and the
        error names the file."""
        kb = KnowledgeBase(client, "runbooks")
        store_id = kb.sync(folder).store_id
        before = held(assistant_emulator, store_id)
        self.change(folder)
        failing = rows_where(
            lambda row: row["id"] not in before,
            status="failed",
            last_error={"message": "The file could not be parsed."},
        )
        with pytest.raises(IndexingFailedError, match=r"memory-leak\.md: The file could not"):
            KnowledgeBase(Stubbed(client, failing), "runbooks").sync(folder)
        assert held(assistant_emulator, store_id) == before
        assert account(assistant_emulator) == before

    def test_timeout_keeps_both_copies_and_the_next_sync_settles(
        self, assistant_emulator: Emulator, client: Any, folder: Path
    ) -> None:
        """Past the deadline the old copy is still there beside the new one; the next sync
        keeps the new one, removes the old, and uploads nothing."""
        kb = KnowledgeBase(client, "runbooks")
        store_id = kb.sync(folder).store_id
        before = held(assistant_emulator, store_id)
        self.change(folder)
        clock = FakeClock()
        slow = Stubbed(
            client, rows_where(lambda row: row["id"] not in before, status="in_progress")
        )
        with pytest.raises(IndexingTimeoutError):
            KnowledgeBase(slow, "runbooks", clock=clock.now, sleep=clock.sleep).sync(
                folder, timeout=3
            )
        assert len(held(assistant_emulator, store_id)) == 6
        again = kb.sync(folder)
        assert again.summary() == "uploaded 0, unchanged 5, removed 0"
        assert len(held(assistant_emulator, store_id)) == 5
        assert account(assistant_emulator) == held(assistant_emulator, store_id)


class _Any:
    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return 0


ANY_ATTRIBUTES: Any = _Any()


class TestPlanAndGuard:
    """Sync is a plan, then an apply; a plan that empties the store needs a yes (part 1)."""

    def test_plan_names_every_change_with_sizes_and_changes_nothing(
        self, assistant_emulator: Emulator, client: Any, folder: Path
    ) -> None:
        """plan() lists the upload, replacement, removal and skip, and only reads."""
        kb = KnowledgeBase(client, "runbooks")
        store_id = kb.sync(folder).store_id
        (folder / "memory-leak.md").write_text("# Memory leak\nRestart the pod.\n")
        (folder / "disk-full.md").unlink()
        (folder / "new.md").write_text("# New\n")
        (folder / "logo.png").write_bytes(b"\x89PNG")
        before, files = writes(assistant_emulator), held(assistant_emulator, store_id)
        plan = kb.plan(folder)
        assert [f.path for f in plan.upload] == ["new.md"]
        assert [r.new.path for r in plan.replace] == ["memory-leak.md"]
        assert [f.name for f in plan.remove] == ["disk-full.md"]
        assert [str(s) for s in plan.skipped] == [
            "logo.png: file_search does not accept .png files"
        ]
        lines = plan.lines()
        assert "upload   new.md (6 B)" in lines
        assert any(line.startswith("replace  memory-leak.md (31 B, was ") for line in lines)
        assert any(line.startswith("remove   disk-full.md (") for line in lines)
        assert plan.summary() == "uploaded 2, unchanged 3, removed 1, replaced 1, skipped 1"
        assert (writes(assistant_emulator), held(assistant_emulator, store_id)) == (before, files)

    def test_empty_folder_onto_a_store_changes_nothing_and_says_how_to_go_on(
        self, assistant_emulator: Emulator, client: Any, tmp_path: Path
    ) -> None:
        """Emptying a store of 3 files is refused with one line (a ConfigurationError, so
        exit 3); with allow_removal it goes through."""
        kb = KnowledgeBase(client, "kb")
        store_id = kb.sync({"a.md": b"a", "b.md": b"b", "c.md": b"c"}).store_id
        empty = tmp_path / "empty"
        empty.mkdir()
        before = writes(assistant_emulator)
        with pytest.raises(RemovalRefusedError) as info:
            kb.sync(empty)
        message = str(info.value)
        assert "\n" not in message
        assert "would remove 3 of the 3 files" in message
        assert "--allow-removal" in message
        assert "allow_removal=True" in message
        assert isinstance(info.value, ConfigurationError)
        assert exit_code_for(info.value) == ExitCode.CONFIGURATION == 3
        assert writes(assistant_emulator) == before
        assert len(held(assistant_emulator, store_id)) == 3
        result = kb.sync(empty, allow_removal=True)
        assert result.summary() == "uploaded 0, unchanged 0, removed 3"
        assert held(assistant_emulator, store_id) == set()
        assert account(assistant_emulator) == set()

    def test_folder_of_hidden_files_is_an_empty_folder(self, client: Any, tmp_path: Path) -> None:
        """Only dotfiles: the hidden entries are listed as skipped, and emptying is refused."""
        kb = KnowledgeBase(client, "kb")
        kb.sync({"a.md": b"a", "b.md": b"b", "c.md": b"c"})
        (tmp_path / ".git").mkdir()
        (tmp_path / ".git" / "config").write_text("x")
        (tmp_path / ".notes.md").write_text("x")
        plan = kb.plan(tmp_path)
        assert [str(s) for s in plan.skipped] == [".git/: hidden", ".notes.md: hidden"]
        with pytest.raises(RemovalRefusedError):
            kb.sync(tmp_path)

    @pytest.mark.parametrize(
        ("store", "removed", "refused"),
        [(1, 1, True), (3, 3, True), (3, 2, False), (4, 3, False), (4, 4, True), (5, 2, False),
         (5, 3, True), (10, 5, False), (10, 6, True)],
    )  # fmt: skip
    def test_the_removal_threshold(self, store: int, removed: int, refused: bool) -> None:
        """All of a store, or more than half of a store of more than 4 files, needs a yes;
        replacing a changed file is not a removal."""
        remote = [RemoteFile(f"f{i}", "completed", f"{i}.md", "h") for i in range(store)]
        local = [LocalFile.of(f"{i}.md", b"changed") for i in range(removed, store)]
        plan = plan_sync("kb", "vs_1", Collected(tuple(local)), remote)
        assert len(plan.remove) == removed
        assert len(plan.replace) == store - removed
        assert (plan.removal_refused() is not None) is refused


class TestOneStore:
    """One store per name, however many syncs run (part 3)."""

    def test_two_syncs_at_once_on_one_machine(
        self, assistant_emulator: Emulator, client: Any, folder: Path
    ) -> None:
        """The lock serializes them: one store, each file once, nothing left over."""
        results: list[Any] = []

        def sync() -> None:
            results.append(KnowledgeBase(client, "runbooks").sync(folder))

        threads = [threading.Thread(target=sync) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(results) == 2
        assert sorted(r.summary() for r in results) == [
            "uploaded 0, unchanged 5, removed 0",
            "uploaded 5, unchanged 0, removed 0",
        ]
        (store_id,) = assistant_emulator.store.vector_stores
        assert len(held(assistant_emulator, store_id)) == 5
        assert account(assistant_emulator) == held(assistant_emulator, store_id)

    def test_two_machines_creating_the_store_at_once_converge(
        self,
        assistant_emulator: Emulator,
        client: Any,
        folder: Path,
        tmp_path_factory: pytest.TempPathFactory,
    ) -> None:
        """Two syncs that each create the store (no shared lock) see both right after, keep
        the smallest (created_at, id), and the other one's store is deleted."""
        barrier = threading.Barrier(2, timeout=30)

        def racing() -> Hook:
            listed = [0]

            def hook(operation: Any, answer: Any) -> Any:
                if isinstance(operation, ListStores):
                    listed[0] += 1
                    if listed[0] == 1:
                        barrier.wait()  # both found no store before either creates one
                elif isinstance(operation, CreateStore):
                    barrier.wait()  # both stores exist before either looks again
                return answer

            return hook

        ids: list[str] = []
        machines = tmp_path_factory.mktemp("machines")

        def sync(machine: str) -> None:
            api = Stubbed(client, racing())
            kb = KnowledgeBase(api, "runbooks", state_dir=machines / machine)
            ids.append(kb.sync(folder).store_id)

        threads = [threading.Thread(target=sync, args=(m,)) for m in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(ids) == 2
        assert ids[0] == ids[1]
        assert list(assistant_emulator.store.vector_stores) == [ids[0]]
        # both uploaded every file; the next sync keeps one copy of each
        again = KnowledgeBase(client, "runbooks").sync(folder)
        assert again.summary() == "uploaded 0, unchanged 5, removed 0"
        assert len(held(assistant_emulator, ids[0])) == 5
        assert account(assistant_emulator) == held(assistant_emulator, ids[0])

    def test_a_leftover_duplicate_is_merged_away(
        self, assistant_emulator: Emulator, client: Any, folder: Path
    ) -> None:
        """Two stores this library made under one name (from an older version, say): the
        sync keeps one, deletes the other with its synced files, and leaves one store."""
        KnowledgeBase(client, "runbooks").sync(folder)
        stores = getattr(client, "vector_stores", None) or client.beta.vector_stores
        stores.create(name="runbooks", metadata={STORE_KEY: "runbooks"})
        result = KnowledgeBase(client, "runbooks").sync(folder)
        assert list(assistant_emulator.store.vector_stores) == [result.store_id]
        assert len(held(assistant_emulator, result.store_id)) == 5
        assert account(assistant_emulator) == held(assistant_emulator, result.store_id)

    def test_a_held_lock_bounds_the_wait(
        self, assistant_emulator: Emulator, client: Any, tmp_path: Path
    ) -> None:
        """While another sync of the store holds the lock, a sync waits up to its timeout,
        then raises SyncBusyError having sent nothing."""
        kb = KnowledgeBase(client, "kb", state_dir=tmp_path)
        other = kb._context().lock
        assert other.try_acquire()
        try:
            started = time.monotonic()
            with pytest.raises(SyncBusyError, match="Another sync of 'kb' is running"):
                kb.sync({"a.md": b"a"}, timeout=0.3)
            assert 0.3 <= time.monotonic() - started < 2
            assert assistant_emulator.counts() == {}
        finally:
            other.release()
        assert kb.sync({"a.md": b"a"}).uploaded == ("a.md",)

    def test_an_unwritable_state_folder_says_how_to_go_on(
        self, client: Any, tmp_path: Path
    ) -> None:
        """The lock and journal need a folder; a file in its place is a clear error."""
        (tmp_path / "kb").write_text("not a folder")
        with pytest.raises(KnowledgeBaseError, match="ASSISTANT_BRIDGE_STATE_DIR"):
            KnowledgeBase(client, "kb", state_dir=tmp_path).sync({"a.md": b"a"})

    def test_the_oldest_store_wins_and_ties_go_to_the_smaller_id(self) -> None:
        """choose_store orders ours by (created_at, id); someone else's store is used only
        when it is the only one of the name."""
        mark = {STORE_KEY: "kb"}
        stores = [
            {"id": "vs_b", "name": "kb", "created_at": 5, "metadata": mark},
            {"id": "vs_a", "name": "kb", "created_at": 5, "metadata": mark},
            {"id": "vs_0", "name": "kb", "created_at": 9, "metadata": mark},
            {"id": "vs_x", "name": "kb", "created_at": 1, "metadata": {}},
        ]
        keeper, extras = choose_store("kb", stores)
        assert keeper is not None
        assert keeper["id"] == "vs_a"
        assert [s["id"] for s in extras] == ["vs_b", "vs_0"]
        foreign = [{"id": "vs_x", "name": "kb", "created_at": 1}]
        assert choose_store("kb", foreign)[0] == foreign[0]
        with pytest.raises(KnowledgeBaseError, match="2 vector stores are named 'kb'"):
            choose_store("kb", foreign * 2)

    @pytest.mark.parametrize(
        ("content_type", "body"),
        [("text/html", b"<html><body>Sign in</body></html>"), ("application/json", b'{"data": [')],
    )
    def test_a_listing_that_is_not_json_creates_nothing(
        self, content_type: str, body: bytes, folder: Path
    ) -> None:
        """An HTML page or broken JSON in answer to the listing is a typed TransportError,
        not "no stores": nothing is created or uploaded."""
        with answering(content_type, body) as (base_url, seen):
            client = openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=0)
            with pytest.raises(TransportError, match=r"GET /vector_stores is .*not the JSON"):
                KnowledgeBase(client, "runbooks").sync(folder)
            client.close()
        assert seen == ["GET /v1/vector_stores?limit=100&order=asc"]


@contextlib.contextmanager
def answering(content_type: str, body: bytes) -> Iterator[tuple[str, list[str]]]:
    """A loopback server answering every request 200 with ``body``: a proxy's page."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(f"GET {self.path}")
            self.send_response(200)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_DELETE = do_GET

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class TestOrphans:
    """Nothing orphaned: uploads are journalled before they are sent (part 4)."""

    @staticmethod
    def killed_at_upload(n: int) -> Hook:
        """The n-th upload reaches the server, then the process is interrupted before the
        answer is read (as a kill while the answer is pending)."""
        count = [0]

        def hook(operation: Any, answer: Any) -> Any:
            if isinstance(operation, UploadFile):
                count[0] += 1
                if count[0] == n:
                    raise KeyboardInterrupt
            return answer

        return hook

    def test_killed_upload_is_deleted_by_the_next_sync(
        self, assistant_emulator: Emulator, client: Any, folder: Path
    ) -> None:
        """The third upload's answer is lost; the rerun deletes that file, nothing else."""
        with pytest.raises(KeyboardInterrupt):
            KnowledgeBase(Stubbed(client, self.killed_at_upload(3)), "runbooks").sync(folder)
        (store_id,) = assistant_emulator.store.vector_stores
        assert (len(account(assistant_emulator)), len(held(assistant_emulator, store_id))) == (3, 2)
        orphan = (account(assistant_emulator) - held(assistant_emulator, store_id)).pop()
        plan = KnowledgeBase(client, "runbooks").plan(folder)
        assert plan.orphans == (orphan,)
        assert f"delete   {orphan} (uploaded by an interrupted sync)" in plan.lines()
        result = KnowledgeBase(client, "runbooks").sync(folder)
        assert result.orphans == (orphan,)
        assert orphan not in account(assistant_emulator)
        assert account(assistant_emulator) == held(assistant_emulator, store_id)
        assert len(held(assistant_emulator, store_id)) == 5

    def test_kb_delete_leaves_nothing_after_a_killed_sync(
        self, assistant_emulator: Emulator, client: Any, folder: Path
    ) -> None:
        """sync killed mid-upload, rerun, killed again, then delete: the account is empty."""
        for n in (3, 1):
            with pytest.raises(KeyboardInterrupt):
                KnowledgeBase(Stubbed(client, self.killed_at_upload(n)), "runbooks").sync(folder)
        assert KnowledgeBase(client, "runbooks").delete() is True
        assert assistant_emulator.store.vector_stores == {}
        assert account(assistant_emulator) == set()

    def test_a_retried_upload_leaves_no_copy(
        self, assistant_emulator: Emulator, folder: Path
    ) -> None:
        """The connection drops after the server stored an upload and the client sends it
        again: the first copy is found by the journal at the next sync."""
        client = assistant_emulator.client(max_retries=1)
        assistant_emulator.inject(Fault.reset_after(), "files.create", nth=2)
        store_id = KnowledgeBase(client, "runbooks").sync(folder).store_id
        assert len(account(assistant_emulator)) == 6
        KnowledgeBase(client, "runbooks").sync(folder)
        assert account(assistant_emulator) == held(assistant_emulator, store_id)
        client.close()

    def test_files_it_did_not_upload_are_never_touched(
        self, assistant_emulator: Emulator, client: Any, folder: Path
    ) -> None:
        """Hand-uploaded files, even of the same name, stay; only the journalled one goes."""
        with pytest.raises(KeyboardInterrupt):
            KnowledgeBase(Stubbed(client, self.killed_at_upload(1)), "runbooks").sync(folder)
        orphan = set(account(assistant_emulator))
        other = client.files.create(file=("cpu-saturation.md", b"mine"), purpose="assistants")
        notes = client.files.create(file=("notes.md", b"notes"), purpose="assistants")
        KnowledgeBase(client, "runbooks").sync(folder)
        assert not orphan & account(assistant_emulator)
        assert {other.id, notes.id} <= account(assistant_emulator)

    def test_an_ambiguous_match_deletes_nothing(self) -> None:
        """A file matching two entries, or an entry matching two files, is left alone."""
        one = JournalEntry.new("a/x.md", "x.md", "h", 10, 1000.0)
        two = JournalEntry.new("b/x.md", "x.md", "h2", 10, 1000.0)
        file = {"id": "file-1", "filename": "x.md", "bytes": 10, "created_at": 1001}
        twin = {**file, "id": "file-2"}
        assert find_orphans([one], [file], []) == ["file-1"]
        assert find_orphans([one, two], [file], []) == []
        assert find_orphans([one], [file, twin], []) == []
        assert find_orphans([one], [file], ["file-1"]) == []
        assert find_orphans([one], [{**file, "bytes": 11}], []) == []
        assert find_orphans([one], [{**file, "created_at": 1000 + 86400}], []) == []
        assert find_orphans([one], [{**file, "purpose": "batch"}], []) == []


class TestFiles:
    """Files the service would refuse are skipped, named, before anything is sent (part 5)."""

    def test_refused_files_are_skipped_with_the_reason(
        self, assistant_emulator: Emulator, client: Any, tmp_path: Path
    ) -> None:
        (tmp_path / "runbook.md").write_text("# Runbook\n")
        (tmp_path / "tool").write_bytes(b"\x7fELF" + b"\x00" * 17_000)
        (tmp_path / "blob.bin").write_bytes(b"\x00\x01")
        (tmp_path / "diagram.PNG").write_bytes(b"\x89PNG")
        (tmp_path / "empty.txt").write_bytes(b"")
        with (tmp_path / "huge.txt").open("wb") as handle:  # sparse: nothing is written
            handle.truncate(MAX_FILE_BYTES + 1024 * 1024)
        result = KnowledgeBase(client, "kb").sync(tmp_path)
        assert result.uploaded == ("runbook.md",)
        assert [str(s) for s in result.skipped] == [
            "blob.bin: file_search does not accept .bin files",
            "diagram.PNG: file_search does not accept .png files",
            "empty.txt: empty: there is nothing to index",
            "huge.txt: 513.0 MB, over the 512 MB file_search takes per file",
            "tool: file_search does not accept a file without an extension",
        ]
        assert result.summary() == "uploaded 1, unchanged 0, removed 0, skipped 5"
        names = {f.filename for f in assistant_emulator.store.files.values()}
        assert names == {"runbook.md"}

    def test_a_skipped_file_keeps_its_earlier_copy(
        self, assistant_emulator: Emulator, client: Any, tmp_path: Path
    ) -> None:
        """A file that became unsendable is neither re-sent nor removed."""
        for name in ("a.md", "b.md", "c.md"):
            (tmp_path / name).write_text(name)
        kb = KnowledgeBase(client, "kb")
        store_id = kb.sync(tmp_path).store_id
        (tmp_path / "a.md").write_bytes(b"")
        result = kb.sync(tmp_path)
        assert result.summary() == "uploaded 0, unchanged 2, removed 0, skipped 1"
        assert len(held(assistant_emulator, store_id)) == 3

    def test_disk_files_are_hashed_and_sent_from_disk(
        self, assistant_emulator: Emulator, client: Any, tmp_path: Path
    ) -> None:
        """A file on disk is not held in memory: it is hashed in chunks and streamed, and
        the server gets it byte for byte."""
        data = bytes(range(256)) * 12_000  # 3 MB
        (tmp_path / "big.txt").write_bytes(data)
        (local,) = collect(tmp_path).files
        assert local.data is None
        assert local.size == len(data)
        assert local.sha256 == hashlib.sha256(data).hexdigest()
        KnowledgeBase(client, "kb").sync(tmp_path)
        (record,) = assistant_emulator.store.files.values()
        assert record.data == data

    def test_a_refused_upload_names_the_file(
        self, assistant_emulator: Emulator, client: Any
    ) -> None:
        """When the service still refuses a file, the error says which."""
        assistant_emulator.inject(Fault.http(400), "files.create", nth=2)
        with pytest.raises(
            FileRefusedError, match=r"The service refused the upload of b\.md"
        ) as info:
            KnowledgeBase(client, "kb").sync({"a.md": b"a", "b.md": b"b"})
        assert info.value.path == "b.md"


class TestAsync:
    """AsyncKnowledgeBase: the same flows, awaited (part 9)."""

    @pytest.fixture
    def aclient(self, assistant_emulator: Emulator) -> Any:
        return openai.AsyncOpenAI(
            base_url=assistant_emulator.base_url, api_key=assistant_emulator.api_key or "sk-any"
        )

    def test_sync_twice_then_delete(
        self, assistant_emulator: Emulator, aclient: Any, folder: Path
    ) -> None:
        """The async twin uploads, recognises unchanged files, plans alike, and deletes."""

        async def main() -> tuple[str, str, list[str], list[str], bool]:
            kb = AsyncKnowledgeBase(aclient, "runbooks")
            first = await kb.sync(folder)
            second = await kb.sync(folder)
            (folder / "disk-full.md").unlink()
            plan = await kb.plan(folder)
            twin = KnowledgeBase(assistant_emulator.client(), "runbooks").plan(folder)
            deleted = await kb.delete()
            await aclient.close()
            return first.summary(), second.summary(), plan.lines(), twin.lines(), deleted

        first, second, lines, twin, deleted = asyncio.run(main())
        assert first == "uploaded 5, unchanged 0, removed 0"
        assert second == "uploaded 0, unchanged 5, removed 0"
        assert lines == twin
        assert lines[0].startswith("remove   disk-full.md")
        assert deleted
        assert account(assistant_emulator) == set()

    def test_guard_and_failed_indexing_hold_as_in_sync(
        self, assistant_emulator: Emulator, aclient: Any, tmp_path: Path
    ) -> None:
        """Emptying is refused; a changed file whose new copy fails keeps its old copy."""

        class Failing(AsyncVectorStoreAPI):
            def __init__(self, client: Any, keep: set[str]) -> None:
                super().__init__(client)
                self.keep = keep

            async def perform(self, operation: Any) -> Any:
                answer = await super().perform(operation)
                if isinstance(operation, ListStoreFiles):
                    return [
                        r if r["id"] in self.keep else {**r, "status": "failed"} for r in answer
                    ]
                return answer

        async def main() -> None:
            kb = AsyncKnowledgeBase(aclient, "kb")
            store_id = (await kb.sync({"a.md": b"a", "b.md": b"b"})).store_id
            with pytest.raises(RemovalRefusedError):
                await kb.sync(tmp_path)
            before = held(assistant_emulator, store_id)
            with pytest.raises(IndexingFailedError, match=r"a\.md"):
                await AsyncKnowledgeBase(Failing(aclient, before), "kb").sync(
                    {"a.md": b"A", "b.md": b"b"}
                )
            assert held(assistant_emulator, store_id) == before
            assert account(assistant_emulator) == before
            await aclient.close()

        asyncio.run(main())

    def test_concurrent_syncs_on_one_loop_make_one_store(
        self, assistant_emulator: Emulator, aclient: Any, folder: Path
    ) -> None:
        """Two syncs gathered on one loop wait for each other's lock without blocking it."""

        async def main() -> list[str]:
            results = await asyncio.gather(
                AsyncKnowledgeBase(aclient, "runbooks").sync(folder),
                AsyncKnowledgeBase(aclient, "runbooks").sync(folder),
            )
            await aclient.close()
            return sorted(r.summary() for r in results)

        assert asyncio.run(main()) == [
            "uploaded 0, unchanged 5, removed 0",
            "uploaded 5, unchanged 0, removed 0",
        ]
        (store_id,) = assistant_emulator.store.vector_stores
        assert account(assistant_emulator) == held(assistant_emulator, store_id)

    def test_an_async_transport_is_a_target(
        self, assistant_emulator: Emulator, folder: Path
    ) -> None:
        """An AsyncOpenAITransport serves as the async twin's target, as a transport does
        the sync one's."""

        async def main() -> str:
            async with AsyncOpenAITransport(
                assistant_emulator.api_key or "sk-any", base_url=assistant_emulator.base_url
            ) as transport:
                return (await AsyncKnowledgeBase(transport, "kb").sync(folder)).summary()

        assert asyncio.run(main()) == "uploaded 5, unchanged 0, removed 0"

    def test_each_twin_refuses_the_other_kind_of_client(
        self, assistant_emulator: Emulator, aclient: Any, client: Any
    ) -> None:
        """A sync client for the async twin, or the reverse, is a ConfigurationError."""
        with pytest.raises(ConfigurationError, match="AsyncKnowledgeBase needs an async"):
            AsyncKnowledgeBase(client, "kb")
        with pytest.raises(ConfigurationError, match="an async one goes to AsyncKnowledgeBase"):
            KnowledgeBase(aclient, "kb")
        asyncio.run(aclient.close())


class TestPlan:
    def test_plan_keeps_matching_hash_and_replaces_the_rest(self) -> None:
        """Same path and hash: unchanged; other hash: replaced; unknown path or foreign file:
        removed; a second copy of an unchanged file: redundant."""
        a, b = LocalFile.of("a.md", b"A"), LocalFile.of("b.md", b"B")
        remote = [
            RemoteFile("f1", "completed", "a.md", a.sha256),
            RemoteFile("f2", "completed", "b.md", "stale"),
            RemoteFile("f3", "completed", "gone.md", "x"),
            RemoteFile("f4", "completed"),
            RemoteFile("f5", "completed", "a.md", a.sha256),  # a duplicate of f1
        ]
        plan = plan_sync("kb", "vs_1", Collected((a, b)), remote)
        assert plan.upload == ()
        assert [(r.new.path, [o.file_id for o in r.old]) for r in plan.replace] == [
            ("b.md", ["f2"])
        ]
        assert [f.file_id for f in plan.unchanged] == ["f1"]
        assert [f.file_id for f in plan.remove] == ["f3", "f4"]
        assert [f.file_id for f in plan.redundant] == ["f5"]

    def test_failed_copy_is_uploaded_again(self) -> None:
        """A file whose earlier indexing failed does not count as unchanged."""
        a = LocalFile.of("a.md", b"A")
        plan = plan_sync(
            "kb", "vs_1", Collected((a,)), [RemoteFile("f1", "failed", "a.md", a.sha256)]
        )
        assert [r.new.path for r in plan.replace] == ["a.md"]
        assert plan.remove == ()

    def test_collect_skips_hidden_files_and_walks_subfolders(self, tmp_path: Path) -> None:
        """Paths are relative and POSIX; dotfiles and dot-folders are left out, and said."""
        (tmp_path / "sub").mkdir()
        (tmp_path / ".git").mkdir()
        (tmp_path / "sub" / "x.md").write_text("x")
        (tmp_path / ".hidden").write_text("h")
        (tmp_path / ".git" / "config").write_text("c")
        collected = collect(tmp_path)
        assert [f.path for f in collected.files] == ["sub/x.md"]
        assert [s.path for s in collected.skipped] == [".git/", ".hidden"]

    def test_collect_refuses_duplicate_names_and_missing_paths(self, tmp_path: Path) -> None:
        """Two files with one name, or a path that does not exist, are clear errors."""
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        (tmp_path / "a" / "x.md").write_text("1")
        (tmp_path / "b" / "x.md").write_text("2")
        with pytest.raises(KnowledgeBaseError, match=r"two files are named 'x\.md'"):
            collect([tmp_path / "a" / "x.md", tmp_path / "b" / "x.md"])
        with pytest.raises(KnowledgeBaseError, match="neither a folder nor a file"):
            collect(tmp_path / "nope")

    @pytest.mark.parametrize("timeout", [0, -1, float("inf"), float("nan")])
    def test_bad_name_and_timeout_are_configuration_errors(
        self, client: Any, timeout: float
    ) -> None:
        """An empty name or a timeout that is not finite and positive is refused before any
        request."""
        with pytest.raises(ConfigurationError, match="name of 1 to 256"):
            KnowledgeBase(client, "")
        with pytest.raises(ConfigurationError, match="timeout must be a finite, positive"):
            KnowledgeBase(client, "kb").sync({"a.md": b"a"}, timeout=timeout)


def test_sample_runbooks_are_public_and_markdown() -> None:
    """The bundled runbooks are reachable from a public module, sorted by name."""
    runbooks = sample_runbooks()
    assert list(runbooks) == sorted(runbooks)
    assert "cpu-saturation.md" in runbooks
    assert all(data.startswith(b"#") for data in runbooks.values())


class TestCommand:
    """``assistant-bridge kb``, through its own parser (main.py hooks it in)."""

    @staticmethod
    def run(argv: list[str], err: io.StringIO | None = None) -> tuple[int, str, str]:
        out, err = io.StringIO(), err or io.StringIO()
        code = main(argv, out, err)  # the command as users run it: one error contract
        return code, out.getvalue(), err.getvalue()

    @pytest.fixture(autouse=True)
    def _env(self, assistant_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("OPENAI_API_KEY", assistant_emulator.api_key or "sk-any")
        monkeypatch.setenv("OPENAI_BASE_URL", assistant_emulator.base_url)

    def test_sync_twice_prints_the_summary_and_uploads_once(
        self, assistant_emulator: Emulator, folder: Path
    ) -> None:
        """The summary line counts uploads; the second run uploads nothing."""
        code, out, err = self.run(["kb", "sync", str(folder), "--store", "runbooks"])
        assert (code, err) == (0, "")
        assert out.splitlines()[0] == "uploaded 5, unchanged 0, removed 0"
        before = uploads(assistant_emulator)
        code, out, _ = self.run(["kb", "sync", str(folder), "--store", "runbooks"])
        assert out.splitlines()[0] == "uploaded 0, unchanged 5, removed 0"
        assert uploads(assistant_emulator) == before
        assert "vs_" in out.splitlines()[1]

    def test_progress_bar_only_on_a_terminal(self, folder: Path) -> None:
        """On a TTY, stderr shows a redrawn bar ending in a newline."""

        class Terminal(io.StringIO):
            def isatty(self) -> bool:
                return True

        code, _, err = self.run(["kb", "sync", str(folder), "--store", "kb"], err=Terminal())
        assert code == 0
        assert err.count("\r") >= 6  # five uploads, then indexing (once or more)
        assert "index  [########################] 5/5" in err
        assert err.endswith("\n")

    def test_errors_are_one_line_with_the_commands_exit_code(self, tmp_path: Path) -> None:
        """A missing folder is reported as every command reports: one `assistant-bridge: KIND:`
        line on stderr and that kind's exit code (docs/cli.md)."""
        from assistant_bridge._cli.exit_codes import ExitCode

        out, err = io.StringIO(), io.StringIO()
        code = main(["kb", "sync", str(tmp_path / "nope"), "--store", "kb"], out=out, err=err)
        assert out.getvalue() == ""
        assert err.getvalue().startswith(f"assistant-bridge: {ExitCode(code).kind}: ")
        assert code != 0
        assert len(err.getvalue().splitlines()) == 1

    def test_dry_run_prints_the_plan_and_changes_nothing(
        self, assistant_emulator: Emulator, folder: Path
    ) -> None:
        """--dry-run prints each change with its size, the skips, and the counts; no write."""
        self.run(["kb", "sync", str(folder), "--store", "kb"])
        (folder / "disk-full.md").unlink()
        (folder / "photo.png").write_bytes(b"png")
        before = writes(assistant_emulator)
        code, out, err = self.run(["kb", "sync", str(folder), "--store", "kb", "--dry-run"])
        assert (code, err) == (0, "")
        lines = out.splitlines()
        assert lines[0].startswith("remove   disk-full.md (")
        assert lines[1] == "skip     photo.png: file_search does not accept .png files"
        assert lines[2] == "would do: uploaded 0, unchanged 4, removed 1, skipped 1"
        assert writes(assistant_emulator) == before

    def test_emptying_needs_allow_removal(
        self, assistant_emulator: Emulator, folder: Path, tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        """An empty folder onto a full store is refused on one line, exit 3 (configuration),
        changing nothing; --allow-removal goes on."""
        from assistant_bridge._cli.main import main

        self.run(["kb", "sync", str(folder), "--store", "kb"])
        empty = tmp_path_factory.mktemp("empty")
        before = writes(assistant_emulator)
        out, err = io.StringIO(), io.StringIO()
        code = main(["kb", "sync", str(empty), "--store", "kb"], out=out, err=err)
        assert (code, out.getvalue()) == (3, "")
        assert err.getvalue() == (
            "assistant-bridge: configuration: Syncing 'kb' would remove 5 of the 5 files in its "
            "store (cpu-saturation.md, disk-full.md, incident-2024-03-cpu.md, …); nothing "
            "was changed. Check the source folder, or allow the removal (--allow-removal, or "
            "allow_removal=True).\n"
        )
        assert writes(assistant_emulator) == before
        code, out, _ = self.run(["kb", "sync", str(empty), "--store", "kb", "--allow-removal"])
        assert code == 0
        assert out.splitlines()[0] == "uploaded 0, unchanged 0, removed 5"

    def test_skipped_files_are_listed_after_the_summary(self, folder: Path) -> None:
        """Each file left out is named with the reason."""
        (folder / "tool").write_bytes(b"\x7fELF")
        code, out, _ = self.run(["kb", "sync", str(folder), "--store", "kb"])
        assert code == 0
        assert out.splitlines()[0] == "uploaded 5, unchanged 0, removed 0, skipped 1"
        assert out.splitlines()[2] == (
            "skipped tool: file_search does not accept a file without an extension"
        )

    def test_delete(self, assistant_emulator: Emulator, folder: Path) -> None:
        """kb delete removes the store and its files, and says when there was none."""
        self.run(["kb", "sync", str(folder), "--store", "kb"])
        assert self.run(["kb", "delete", "--store", "kb"])[1] == "deleted 'kb'\n"
        assert assistant_emulator.store.files == {}
        assert self.run(["kb", "delete", "--store", "kb"])[1] == "no store 'kb'\n"


def test_docs_examples_print_what_the_page_says(capsys: pytest.CaptureFixture[str]) -> None:
    """docs/knowledge-base.md: its Python examples run in order and print what their
    comments say (tests/test_docs.py runs its shell block against the emulator)."""
    text = (Path(__file__).parent.parent / "docs" / "knowledge-base.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 3
    namespace: dict[str, Any] = {}
    for block in blocks:
        exec(block, namespace)
    assert capsys.readouterr().out.splitlines() == [
        "uploaded 5, unchanged 0, removed 0",
        "uploaded 0, unchanged 5, removed 0",
        "escalate",
        "upload   d.md (4 B)",
        "replace  a.md (12 B, was 4 B)",
        "remove   c.md (4 B)",
        "skip     e.png: file_search does not accept .png files",
        "uploaded 2, unchanged 1, removed 1, replaced 1, skipped 1",
        "Syncing 'notes' would remove 3 of the 3 files in its",
        "uploaded 0, unchanged 0, removed 3",
        "uploaded 5, unchanged 0, removed 0",
    ]


def test_docs_shell_example_prints_what_the_page_shows(
    assistant_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/knowledge-base.md: the command-line session prints the output block below it
    (but for the store's id)."""
    text = (Path(__file__).parent.parent / "docs" / "knowledge-base.md").read_text()
    script, shown = re.findall(r"```bash\n(.*?)```\n\n```text\n(.*?)```", text, re.S)[0]
    monkeypatch.setenv("OPENAI_API_KEY", assistant_emulator.api_key or "sk-any")
    monkeypatch.setenv("OPENAI_BASE_URL", assistant_emulator.base_url)
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert re.sub(r"vs_\w+", "vs_abc123", done.stdout) == shown
    refusal = re.findall(r"exit status 3.*?```text\n(.*?)```", text, re.S)[0]
    assert done.stderr == refusal


def test_public_names_and_layers() -> None:
    """knowledge's __all__ names exist, its errors are AssistantBridgeErrors, and neither it
    nor the Keep integration imports openai (only transports/ may)."""
    import assistant_bridge.integrations.keep as keep_integration
    import assistant_bridge.knowledge as knowledge
    from assistant_bridge.exceptions import AssistantBridgeError

    for module in (knowledge, keep_integration):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
    for error in (KnowledgeBaseError, IndexingTimeoutError, IndexingFailedError):
        assert issubclass(error, AssistantBridgeError)
    src = Path(knowledge.__file__).parent.parent
    for folder in ("knowledge", "integrations"):
        for path in (src / folder).rglob("*.py"):
            text = path.read_text()
            assert "import openai" not in text, path
            assert "from openai" not in text, path
