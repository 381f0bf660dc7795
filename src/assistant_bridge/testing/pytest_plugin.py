"""pytest plugin: the ``assistant_emulator`` fixture, registered through the ``pytest11``
entry point when assistant_bridge is installed.

    def test_triage(assistant_emulator):
        transport = assistant_emulator.transport()
        assistant_id = assistant_emulator.create_assistant()
        reply = ThreadSession(transport, assistant_id).ask("Analyze this alert: CPU at 100%")

It also keeps suites that run with ``-W error`` or ``filterwarnings = error`` green: openai's
"The Assistants API is deprecated" notice, when openai or assistant_bridge raises it, is
ignored. Every other warning, and that notice from your own calls to ``client.beta``, is not.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from assistant_bridge.testing import Emulator

ASSISTANTS_DEPRECATION = (
    r"ignore:The Assistants API is deprecated:DeprecationWarning:(openai|assistant_bridge)\."
)
"""The one warning filter the plugin adds, in pytest's ``filterwarnings`` syntax."""


def pytest_configure(config: pytest.Config) -> None:
    """Add the filter to the ini's ``filterwarnings`` (it follows, so beats, ``error``)."""
    config.addinivalue_line("filterwarnings", ASSISTANTS_DEPRECATION)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with the filter too: marks win over the command line's ``-W error``."""
    for item in items:
        item.add_marker(pytest.mark.filterwarnings(ASSISTANTS_DEPRECATION))


@pytest.fixture
def assistant_emulator() -> Iterator[Emulator]:
    """A fresh emulator on a free loopback port, stopped after the test."""
    with Emulator() as emulator:
        yield emulator
