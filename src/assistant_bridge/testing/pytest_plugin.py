"""pytest plugin: the ``assistant_emulator`` fixture, registered through the ``pytest11``
entry point when assistant_bridge is installed.

    def test_triage(assistant_emulator):
        transport = assistant_emulator.transport()
        assistant_id = assistant_emulator.create_assistant()
        reply = ThreadSession(transport, assistant_id).ask("Analyze this alert: CPU at 100%")
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from assistant_bridge.testing import Emulator


@pytest.fixture
def assistant_emulator() -> Iterator[Emulator]:
    """A fresh emulator on a free loopback port, stopped after the test."""
    with Emulator() as emulator:
        yield emulator
