"""Minimal stand-ins for the Keep names the provider needs, used when Keep is not installed.

They mirror Keep's provider contract (``keep.providers.base.base_provider.BaseProvider``,
``keep.providers.models.provider_config``, ``keep.exceptions``) closely enough for the
provider to import, be type-checked and be unit-tested without Keep.
"""

from __future__ import annotations

import abc
import dataclasses
import logging
from typing import Any, ClassVar

__all__ = [
    "BaseProvider",
    "ContextManager",
    "ProviderConfig",
    "ProviderConfigException",
    "ProviderException",
    "ProviderScope",
]


class ProviderException(Exception):
    """Keep's error for a provider call that failed."""


class ProviderConfigException(Exception):
    """Keep's error for a provider configured wrongly; carries the provider id."""

    def __init__(self, message: str, provider_id: str, *args: object) -> None:
        super().__init__(message, *args)
        self.provider_id = provider_id


@dataclasses.dataclass
class ProviderScope:
    """A permission the provider needs, as Keep's UI lists it."""

    name: str
    description: str | None = None
    mandatory: bool = False
    mandatory_for_webhook: bool = False
    documentation_url: str | None = None
    alias: str | None = None


@dataclasses.dataclass
class ProviderConfig:
    """A provider's configuration: the ``authentication`` mapping and a description."""

    authentication: dict[str, Any] | None
    name: str | None = None
    description: str | None = None


class ContextManager:
    """The little of Keep's workflow context a provider uses: a logger."""

    def __init__(self, tenant_id: str = "singletenant", workflow_id: str | None = None) -> None:
        self.tenant_id = tenant_id
        self.workflow_id = workflow_id

    def get_logger(self, name: str | None = None) -> logging.Logger:
        """The logger providers write to."""
        return logging.getLogger("keep" if name is None else f"keep.{name}")


class BaseProvider(metaclass=abc.ABCMeta):
    """Keep's provider base: keeps the config, validates it at once, routes query to _query."""

    PROVIDER_DISPLAY_NAME: ClassVar[str] = ""
    PROVIDER_CATEGORY: ClassVar[list[str]] = []
    PROVIDER_TAGS: ClassVar[list[str]] = []
    PROVIDER_SCOPES: ClassVar[list[ProviderScope]] = []

    def __init__(
        self, context_manager: ContextManager, provider_id: str, config: ProviderConfig
    ) -> None:
        self.provider_id = provider_id
        self.config = config
        self.context_manager = context_manager
        self.logger = context_manager.get_logger(provider_id)
        self.validate_config()
        self.results: list[Any] = []

    @abc.abstractmethod
    def dispose(self) -> None:
        """Release what the provider holds."""

    @abc.abstractmethod
    def validate_config(self) -> None:
        """Check the configuration (Keep calls it on every instantiation)."""

    def validate_scopes(self) -> dict[str, bool | str]:
        """Each scope's name: True, or why it is not granted."""
        return {}

    def _query(self, **kwargs: Any) -> Any:
        raise NotImplementedError("query() method not implemented")

    def query(self, **kwargs: Any) -> Any:
        """Run the provider's query with a step's ``with:`` parameters."""
        results = self._query(**kwargs)
        self.results.append(results)
        return results
