"""KnowledgeBase: a named vector store kept equal to a folder, over loopback to the emulator."""

from __future__ import annotations

import argparse
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant_bridge import ThreadSession
from assistant_bridge._cli.kb import add_parser, run_kb
from assistant_bridge.exceptions import ConfigurationError
from assistant_bridge.knowledge import (
    IndexingFailedError,
    IndexingTimeoutError,
    KnowledgeBase,
    KnowledgeBaseError,
    RemoteFile,
    SyncProgress,
    sample_runbooks,
)
from assistant_bridge.knowledge._plan import PATH_KEY, SHA_KEY, LocalFile, collect, plan_sync
from assistant_bridge.testing import Emulator, FakeClock

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
        assert tags == {f.path: f.sha256 for f in collect(folder)}

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
        assert (result.uploaded, result.removed) == (("memory-leak.md",), ("memory-leak.md",))
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


class TestWaiting:
    def test_deadline_raises_with_the_pending_files(self, client: Any) -> None:
        """Indexing that outlasts the timeout raises IndexingTimeoutError naming the files."""
        clock = FakeClock()
        kb = KnowledgeBase(client, "kb", poll_interval=2.0, clock=clock.now, sleep=clock.sleep)
        kb.files = lambda store_id: [RemoteFile("x", "in_progress")]  # type: ignore[method-assign]
        with pytest.raises(IndexingTimeoutError, match=r"still being indexed after 5 s") as info:
            kb.sync({"a.md": b"alpha"}, timeout=5)
        assert info.value.pending == ("a.md",)
        assert clock.now() == pytest.approx(5.0)

    def test_indexing_finishes_within_the_deadline(self, client: Any) -> None:
        """Files in progress are polled until they complete, reporting progress."""
        clock = FakeClock()
        kb = KnowledgeBase(client, "kb", poll_interval=1.0, clock=clock.now, sleep=clock.sleep)
        real_files = kb.files
        polls = iter(["in_progress", "in_progress", "completed"])

        def files(store_id: str) -> list[RemoteFile]:
            found = real_files(store_id)
            status = next(polls, "completed")
            return [RemoteFile(f.file_id, status, f.path, f.sha256) for f in found]

        kb.files = files  # type: ignore[method-assign]
        seen: list[SyncProgress] = []
        kb.sync({"a.md": b"alpha"}, timeout=30, progress=seen.append)
        assert [(p.stage, p.done) for p in seen if p.stage == "index"] == [
            ("index", 0),
            ("index", 0),
            ("index", 1),
        ]
        assert clock.now() == pytest.approx(2.0)

    def test_failed_indexing_raises_with_the_reason(self, client: Any) -> None:
        """A file the service could not index is reported with its last_error."""
        kb = KnowledgeBase(client, "kb")
        real_files = kb.files

        def files(store_id: str) -> list[RemoteFile]:
            return [
                RemoteFile(f.file_id, "failed", f.path, f.sha256, "unsupported file")
                for f in real_files(store_id)
            ]

        kb.files = files  # type: ignore[method-assign]
        with pytest.raises(IndexingFailedError, match=r"a\.bin: unsupported file") as info:
            kb.sync({"a.bin": b"\x00"})
        assert info.value.failed == {"a.bin": "unsupported file"}

    def test_slow_server_past_the_deadline_over_loopback(self, client: Any) -> None:
        """With real time, files still in progress past the timeout end the wait."""
        kb = KnowledgeBase(client, "kb", poll_interval=0.05)
        real_files = kb.files
        kb.files = lambda s: [  # type: ignore[method-assign]
            RemoteFile(f.file_id, "in_progress", f.path, f.sha256) for f in real_files(s)
        ]
        with pytest.raises(IndexingTimeoutError):
            kb.sync({"a.md": b"alpha"}, timeout=0.2)


class TestPlan:
    def test_plan_keeps_matching_hash_and_replaces_the_rest(self) -> None:
        """Same path and hash: unchanged; other hash, unknown path or foreign file: removed."""
        a, b = LocalFile.of("a.md", b"A"), LocalFile.of("b.md", b"B")
        remote = [
            RemoteFile("f1", "completed", "a.md", a.sha256),
            RemoteFile("f2", "completed", "b.md", "stale"),
            RemoteFile("f3", "completed", "gone.md", "x"),
            RemoteFile("f4", "completed"),
            RemoteFile("f5", "completed", "a.md", a.sha256),  # a duplicate of f1
        ]
        plan = plan_sync([a, b], remote)
        assert [f.path for f in plan.upload] == ["b.md"]
        assert [f.file_id for f in plan.unchanged] == ["f1"]
        assert [f.file_id for f in plan.remove] == ["f2", "f3", "f4", "f5"]

    def test_failed_copy_is_uploaded_again(self) -> None:
        """A file whose earlier indexing failed does not count as unchanged."""
        a = LocalFile.of("a.md", b"A")
        plan = plan_sync([a], [RemoteFile("f1", "failed", "a.md", a.sha256)])
        assert (len(plan.upload), len(plan.remove)) == (1, 1)

    def test_collect_skips_hidden_files_and_walks_subfolders(self, tmp_path: Path) -> None:
        """Paths are relative and POSIX; dotfiles and dot-folders are left out."""
        (tmp_path / "sub").mkdir()
        (tmp_path / ".git").mkdir()
        (tmp_path / "sub" / "x.md").write_text("x")
        (tmp_path / ".hidden").write_text("h")
        (tmp_path / ".git" / "config").write_text("c")
        assert [f.path for f in collect(tmp_path)] == ["sub/x.md"]

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

    def test_bad_name_and_timeout_are_configuration_errors(self, client: Any) -> None:
        """An empty name or a non-positive timeout is refused before any request."""
        with pytest.raises(ConfigurationError, match="name of 1 to 256"):
            KnowledgeBase(client, "")
        with pytest.raises(ConfigurationError, match="timeout must be a positive"):
            KnowledgeBase(client, "kb").sync({"a": b"a"}, timeout=0)


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
        parser = argparse.ArgumentParser(prog="assistant-bridge")
        add_parser(parser.add_subparsers(dest="command", required=True))
        out, err = io.StringIO(), err or io.StringIO()
        code = run_kb(parser.parse_args(argv), out, err)
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
        from assistant_bridge._cli.main import main

        out, err = io.StringIO(), io.StringIO()
        code = main(["kb", "sync", str(tmp_path / "nope"), "--store", "kb"], out=out, err=err)
        assert out.getvalue() == ""
        assert err.getvalue().startswith(f"assistant-bridge: {ExitCode(code).kind}: ")
        assert code != 0
        assert len(err.getvalue().splitlines()) == 1

    def test_delete(self, assistant_emulator: Emulator, folder: Path) -> None:
        """kb delete removes the store and its files, and says when there was none."""
        self.run(["kb", "sync", str(folder), "--store", "kb"])
        assert self.run(["kb", "delete", "--store", "kb"])[1] == "deleted 'kb'\n"
        assert assistant_emulator.store.files == {}
        assert self.run(["kb", "delete", "--store", "kb"])[1] == "no store 'kb'\n"


def test_docs_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """docs/knowledge-base.md: its Python example runs and prints what its comments say."""
    text = (Path(__file__).parent.parent / "docs" / "knowledge-base.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 1
    exec(blocks[0], {})
    assert capsys.readouterr().out.splitlines() == [
        "uploaded 5, unchanged 0, removed 0",
        "uploaded 0, unchanged 5, removed 0",
        "escalate",
    ]


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
