"""The Keep platform's ``openaiassistant`` provider, importable with or without Keep installed.

:mod:`.openaiassistant_provider` is the drop-in file: copy it to
``keep/providers/openaiassistant_provider/openaiassistant_provider.py`` (beside an empty
``__init__.py``) in a Keep install that has assistant_bridge; see docs/keep.md.
"""

from assistant_bridge.integrations.keep.openaiassistant_provider import (
    OpenaiassistantProvider,
    OpenaiassistantProviderAuthConfig,
)

__all__ = ["OpenaiassistantProvider", "OpenaiassistantProviderAuthConfig"]
