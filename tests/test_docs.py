"""Every example in README.md and docs/ is true: it runs, or (a fragment) it type-checks.

Python blocks of a page run in order in one namespace, like a script, against the emulator a
reader starts: ``assistant-bridge emulator --port 0`` in a subprocess, with the
``OPENAI_API_KEY``/``OPENAI_BASE_URL`` it prints exported, from a folder holding
``examples/``. Nothing is created on it by hand: a page defines its assistant in code. Test
functions a page defines are then called. Shell blocks run in bash the same way. A block's
output, where the page shows it (``<!-- output -->``), must be what it printed. Fragments,
and the runnable blocks with them, are type-checked by mypy from tests/typing/doc_examples,
which must match the pages (see tests/docs_blocks.py).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import gc
import inspect
import io
import json
import os
import re
import signal
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant_bridge.testing import Emulator
from tests.docs_blocks import (
    ROOT,
    TYPING_DIR,
    Block,
    blocks,
    pages,
    typing_module,
    typing_module_name,
)

RUNNABLE = [p for p in pages() if any(b.kind in ("run", "shell") for b in blocks(p))]


def _id(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


@pytest.fixture
def docs_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """What a reader has: `assistant-bridge emulator` running in another terminal, the variables
    it prints exported, the command on PATH, and a folder with examples/."""
    command = Path(sys.executable).with_name("assistant-bridge")
    with subprocess.Popen(
        [str(command), "emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")},
    ) as server:
        try:
            assert server.stdout is not None
            printed = [server.stdout.readline() for _ in range(3)]
            exports = dict(re.findall(r"export (OPENAI_\w+)=(\S+)", "".join(printed)))
            assert set(exports) == {"OPENAI_API_KEY", "OPENAI_BASE_URL"}, printed
            for name, value in exports.items():
                monkeypatch.setenv(name, value)
            for name in (
                "OPENAI_ORG_ID",
                "OPENAI_PROJECT_ID",
                "ASSISTANT_BRIDGE_ASSISTANT_ID",
                "ASSISTANT_BRIDGE_SPEC",
            ):
                monkeypatch.delenv(name, raising=False)
            path = f"{command.parent}{os.pathsep}{os.environ['PATH']}"
            monkeypatch.setenv("PATH", path)
            (tmp_path / "examples").symlink_to(ROOT / "examples")
            monkeypatch.chdir(tmp_path)
            yield exports
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("page", RUNNABLE, ids=_id)
def test_page_runs(page: Path, docs_world: dict[str, str]) -> None:
    """Each runnable block of the page runs without error, in order, and prints what the page
    shows it printing."""
    module = types.ModuleType(f"doc_{typing_module_name(_id(page))}")
    sys.modules[module.__name__] = module  # attrs and typing look classes up by module
    printed: str | None = None
    try:
        for block in blocks(page):
            if block.kind == "run":
                printed = _run_python(block, module.__dict__)
            elif block.kind == "shell":
                printed = _run_shell(block)
            elif block.kind == "output":
                assert printed is not None, f"{block.page}:{block.line}: output of no block"
                _same_output(block, printed)
        for name, value in list(module.__dict__.items()):
            if name.startswith("test_") and inspect.isfunction(value):
                _call_test(value)
    finally:
        del sys.modules[module.__name__]
        _close_what_the_page_opened(module.__dict__)


def _same_output(block: Block, printed: str) -> None:
    """The page's output block is what the block above it printed (``…``: any text in a
    line)."""
    pattern = "".join(
        "[^\n]*" if part == "…" else re.escape(part) for part in re.split("(…)", block.code)
    )
    assert re.fullmatch(pattern, printed), (
        f"{block.page}:{block.line}: the page shows\n{block.code}\nbut the block printed\n{printed}"
    )


def _close_what_the_page_opened(namespace: dict[str, Any]) -> None:
    """Pages, like short scripts, leave their transports and clients open; close them here so
    their sockets are not left for the garbage collector (a ResourceWarning in a later test)."""
    import openai

    from assistant_bridge.transports import AsyncClientTransport, ClientTransport

    for value in list(namespace.values()):
        value = getattr(value, "_transport", value)  # a session's transport
        with contextlib.suppress(Exception):
            if isinstance(value, (ClientTransport, openai.OpenAI)):
                value.close()
            elif isinstance(value, AsyncClientTransport):
                asyncio.run(value.aclose())
            elif isinstance(value, openai.AsyncOpenAI):
                asyncio.run(value.close())
    gc.collect()


def _run_python(block: Block, namespace: dict[str, Any]) -> str:
    """Run the block; what it printed (also passed on to the real stdout)."""
    # Padded so that a traceback's line numbers are the page's; top-level ``await`` runs as
    # in a notebook cell.
    source = "\n" * (block.line - 1) + block.code
    code = compile(source, block.page, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = eval(code, namespace)
        if inspect.iscoroutine(result):
            asyncio.run(result)
    sys.stdout.write(printed.getvalue())
    return printed.getvalue()


def _run_shell(block: Block) -> str:
    """Run the block in bash; what it printed on stdout."""
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, (
        f"{block.page}:{block.line} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    )
    return done.stdout


def _call_test(function: Any) -> None:
    """Call a test function a page defines, giving it the fixtures it names."""
    with Emulator() as emulator:
        fixtures = {"assistant_emulator": emulator}
        names = inspect.signature(function).parameters
        missing = set(names) - set(fixtures)
        assert not missing, f"{function.__name__} wants fixtures the docs test lacks: {missing}"
        function(**{name: fixtures[name] for name in names})


class TestBlocks:
    def test_every_python_and_shell_block_is_run_or_checked(self) -> None:
        """Every fence names a language the test knows, so each code block is run or checked."""
        unknown = [
            f"{b.page}:{b.line}" for page in pages() for b in blocks(page) if b.kind == "unknown"
        ]
        assert not unknown, "fences without a known language (add one, e.g. ```text)"

    def test_typing_modules_match_the_pages(self) -> None:
        """tests/typing/doc_examples holds exactly the pages' Python blocks, as they are now."""
        expected = {
            f"{typing_module_name(_id(p))}.py": text
            for p in pages()
            if (text := typing_module(p)) is not None
        }
        actual = {
            f.name: f.read_text(encoding="utf-8")
            for f in TYPING_DIR.glob("*.py")
            if f.name != "__init__.py"
        }
        assert actual == expected, "stale: run `python -m tests.docs_blocks` and commit"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_notebook_runs_top_to_bottom(capsys: pytest.CaptureFixture[str]) -> None:
    """docs/notebooks/alert-triage.ipynb: every code cell runs, in order, top-level ``await``
    included, in one namespace, as a kernel would (CI also runs it in a real kernel)."""
    notebook = json.loads((ROOT / "docs" / "notebooks" / "alert-triage.ipynb").read_text())
    module = types.ModuleType("alert_triage_notebook")
    sys.modules[module.__name__] = module
    cells = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    imports = [line for cell in cells for line in cell.splitlines() if "import" in line]
    assert not [line for line in imports if "._" in line], "the notebook imports private names"
    try:
        asyncio.run(_run_cells(cells, module.__dict__))
    finally:
        del sys.modules[module.__name__]
    out = capsys.readouterr().out
    assert "runbooks in vs_" in out
    assert module.__dict__["reply"].parsed.action == "escalate"
    assert "investigate" in out
    assert "escalate" in out


async def _run_cells(cells: list[str], namespace: dict[str, Any]) -> None:
    for number, source in enumerate(cells, 1):
        code = compile(
            source, f"notebook cell {number}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        )
        result = eval(code, namespace)
        if inspect.iscoroutine(result):
            await result
