"""The public API is what __all__ says, and every name in it exists."""

from __future__ import annotations

import assistant_bridge
import assistant_bridge.exceptions
import assistant_bridge.testing


class TestExports:
    def test_all_names_exist(self) -> None:
        """Everything listed in __all__ can be imported."""
        for module in (assistant_bridge, assistant_bridge.exceptions, assistant_bridge.testing):
            for name in module.__all__:
                assert hasattr(module, name), f"{module.__name__}.{name}"

    def test_contract_names(self) -> None:
        """The names issue 2 promises users are exported."""
        for name in (
            "JsonParser",
            "OpenAITransport",
            "ThreadSession",
            "Reply",
            "TextParser",
            "SchemaParser",
            "RunStateMachine",
            "RunStatus",
            "Transport",
        ):
            assert name in assistant_bridge.__all__

    def test_every_error_derives_from_the_base(self) -> None:
        """One tree: every exported error is an AssistantBridgeError."""
        for name in assistant_bridge.exceptions.__all__:
            cls = getattr(assistant_bridge.exceptions, name)
            assert issubclass(cls, assistant_bridge.exceptions.AssistantBridgeError)

    def test_version(self) -> None:
        """__version__ is a string."""
        assert isinstance(assistant_bridge.__version__, str)
