"""The docs' runnable snippets run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _blocks(name: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (DOCS / name).read_text(), re.S)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_migration_offline_snippet_runs_on_both_wires(capsys: pytest.CaptureFixture[str]) -> None:
    """The 'without a key' snippet of docs/migration.md prints a reply from each API."""
    from assistant_bridge import AssistantSpec, ThreadSession

    snippet = _blocks("migration.md")[-1]
    spec = AssistantSpec(name="alert-triage", model="gpt-4o-mini")
    exec(snippet, {"spec": spec, "ThreadSession": ThreadSession})
    out = capsys.readouterr().out
    assert out.count("action") == 2
    assert out.startswith("assistants ")
    assert "\nresponses " in out


def test_testing_doc_first_snippet_runs() -> None:
    """The fake-transport example in docs/testing.md runs as written."""
    namespace: dict[str, object] = {}
    exec(_blocks("testing.md")[0], namespace)
    test = namespace["test_escalates_cpu_alerts"]
    assert callable(test)
    test()


def test_testing_doc_emulator_snippet_runs() -> None:
    """The emulator example in docs/testing.md runs as written."""
    exec(_blocks("testing.md")[1], {})


@pytest.mark.parametrize("index", range(4))
def test_tools_streaming_async_examples_run(index: int, capsys: pytest.CaptureFixture[str]) -> None:
    """Each example of docs/tools-streaming-async.md runs and prints something."""
    exec(_blocks("tools-streaming-async.md")[index], {})
    assert capsys.readouterr().out.strip()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_notebook_runs_top_to_bottom(capsys: pytest.CaptureFixture[str]) -> None:
    """docs/notebooks/alert-triage.ipynb: every code cell runs, in order, in one namespace."""
    import json
    import sys
    import types

    notebook = json.loads((DOCS / "notebooks" / "alert-triage.ipynb").read_text())
    module = types.ModuleType("alert_triage_notebook")  # a kernel's globals are a module's
    sys.modules[module.__name__] = module
    namespace = module.__dict__
    code = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    try:
        for source in code:
            exec(compile(source, "notebook", "exec"), namespace)
    finally:
        del sys.modules[module.__name__]
    out = capsys.readouterr().out
    assert "runbooks in vs_" in out
    assert namespace["reply"].parsed.action == "escalate"  # type: ignore[attr-defined]
    assert "investigate" in out
    assert "escalate" in out
