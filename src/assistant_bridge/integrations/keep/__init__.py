"""The Keep platform's ``openaiassistant`` provider, importable with or without Keep installed.

:mod:`.openaiassistant_provider` is the drop-in file that Keep loads; ``python -m
assistant_bridge.integrations.keep install`` copies it into the Keep of the running Python
(see docs/keep.md). The provider's classes are imported on first use, so that the install
command does not import Keep.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant_bridge.integrations.keep.openaiassistant_provider import (
        OpenaiassistantProvider,
        OpenaiassistantProviderAuthConfig,
    )

__all__ = ["OpenaiassistantProvider", "OpenaiassistantProviderAuthConfig"]


def __getattr__(name: str) -> Any:
    """The provider's classes, imported from the drop-in when first asked for."""
    if name in __all__:
        module = importlib.import_module(f"{__name__}.openaiassistant_provider")
        return getattr(module, name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
