"""The pytest plugin, as a user's suite meets it: run in a pytest of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

USER_SUITE = """
import warnings

from assistant_bridge import ThreadSession


def test_triage_on_the_emulator(assistant_emulator):
    transport = assistant_emulator.transport()
    assistant_id = assistant_emulator.create_assistant()
    for wait in ("poll", "stream"):
        session = ThreadSession(transport, assistant_id, wait=wait)
        assert session.ask("Analyze this alert: CPU at 100%").text
    transport.close()


def test_other_deprecations_still_fail():
    warnings.warn("something else is deprecated", DeprecationWarning)
"""


@pytest.mark.parametrize("how", ["-W error", "filterwarnings = error"])
def test_only_the_assistants_deprecation_is_silenced(tmp_path: Path, how: str) -> None:
    """Under warnings-as-errors, asks on the emulator pass; any other warning still fails."""
    (tmp_path / "test_user.py").write_text(USER_SUITE)
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user.py"]
    if how == "-W error":
        args += ["-W", "error"]
    else:
        (tmp_path / "pytest.ini").write_text("[pytest]\nfilterwarnings =\n    error\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTHONWARNINGS")}
    done = subprocess.run(
        args, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert "1 failed, 1 passed" in done.stdout, done.stdout
    assert "FAILED test_user.py::test_other_deprecations_still_fail" in done.stdout
    assert "The Assistants API is deprecated" not in done.stdout
