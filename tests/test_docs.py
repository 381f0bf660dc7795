"""Every example in README.md and docs/ is true: it runs, or (a fragment) it type-checks.

Python blocks of a page run in order in one namespace, like a script, against an emulator that
``OPENAI_API_KEY``/``OPENAI_BASE_URL`` point at (with an assistant ``asst_abc``), from a
folder holding ``examples/``. Test functions a page defines are then called. Shell blocks run
in bash the same way. Fragments, and the runnable blocks with them, are type-checked by mypy
from tests/typing/doc_examples, which must match the pages (see tests/docs_blocks.py).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import gc
import inspect
import json
import os
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
def docs_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """An emulator the environment points at, with asst_abc, and a folder with examples/."""
    with Emulator() as emulator:
        emulator.create_assistant(assistant_id="asst_abc", name="alert-triage (made by hand)")
        monkeypatch.setenv("OPENAI_API_KEY", "sk-emulator")
        monkeypatch.setenv("OPENAI_BASE_URL", emulator.base_url)
        for name in ("OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "ASSISTANT_BRIDGE_ASSISTANT_ID"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        (tmp_path / "examples").symlink_to(ROOT / "examples")
        monkeypatch.chdir(tmp_path)
        yield emulator


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("page", RUNNABLE, ids=_id)
def test_page_runs(page: Path, docs_world: Emulator) -> None:
    """Each runnable block of the page runs without error, in order."""
    module = types.ModuleType(f"doc_{typing_module_name(_id(page))}")
    sys.modules[module.__name__] = module  # attrs and typing look classes up by module
    try:
        for block in blocks(page):
            if block.kind == "run":
                _run_python(block, module.__dict__)
            elif block.kind == "shell":
                _run_shell(block)
        for name, value in list(module.__dict__.items()):
            if name.startswith("test_") and inspect.isfunction(value):
                _call_test(value)
    finally:
        del sys.modules[module.__name__]
        _close_what_the_page_opened(module.__dict__)


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


def _run_python(block: Block, namespace: dict[str, Any]) -> None:
    # Padded so that a traceback's line numbers are the page's; top-level ``await`` runs as
    # in a notebook cell.
    source = "\n" * (block.line - 1) + block.code
    code = compile(source, block.page, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, namespace)
    if inspect.iscoroutine(result):
        asyncio.run(result)


def _run_shell(block: Block) -> None:
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
