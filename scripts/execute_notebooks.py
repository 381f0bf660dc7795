"""Run every notebook under docs/notebooks in a real Jupyter kernel; fail on any error.

CI runs this (``.ci/run``, "notebooks" block) with the ``notebook`` dependency group installed.
A cell that raises, or writes a traceback to stderr, fails the run; the executed notebooks are
not written back, so the committed ones stay free of outputs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


def execute(path: Path) -> int:
    """Execute one notebook; returns how many cells showed rich (Markdown) output."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute()
    rich = 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("name") == "stderr" and "Traceback" in output.get("text", ""):
                raise SystemExit(f"{path}: a cell wrote a traceback:\n{output['text']}")
            if "text/markdown" in output.get("data", {}):
                rich += 1
    return rich


def main() -> int:
    paths = sorted((ROOT / "docs" / "notebooks").glob("*.ipynb"))
    if not paths:
        print("no notebooks found", file=sys.stderr)
        return 1
    for path in paths:
        started = time.monotonic()
        rich = execute(path)
        print(
            f"{path.relative_to(ROOT)}: ran in {time.monotonic() - started:.1f} s, "
            f"{rich} rich (Markdown) outputs"
        )
        if rich == 0:
            print(f"{path}: no value rendered as Markdown", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
