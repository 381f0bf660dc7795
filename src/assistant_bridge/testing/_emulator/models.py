"""The models the emulator serves: ``GET /v1/models``, ``GET /v1/models/{id}``, and the check
that every route naming a model (assistants, runs, responses) makes against the same set.

Clients use ``/v1/models`` as a health check and to validate a configured model (Keep's
provider asks ``GET /v1/models/{model}``), so the listing and the runs must agree.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from .errors import ApiError

__all__ = ["CATALOGUE", "Models"]

#: (id, created, owned_by) of the models listed when the emulator is not narrowed; the
#: service's objects have these four fields (``object`` is always ``"model"``).
CATALOGUE: tuple[tuple[str, int, str], ...] = (
    ("gpt-4o", 1715367049, "system"),
    ("gpt-4o-mini", 1721172741, "system"),
    ("gpt-4o-2024-08-06", 1722814719, "system"),
    ("gpt-4o-mini-2024-07-18", 1721172717, "system"),
    ("gpt-4.1", 1744316542, "system"),
    ("gpt-4.1-mini", 1744318173, "system"),
    ("gpt-4.1-mini-2025-04-14", 1744317547, "system"),
    ("gpt-4.1-nano", 1744321707, "system"),
    ("gpt-4-turbo", 1712361441, "system"),
    ("gpt-4", 1687882411, "openai"),
    ("gpt-3.5-turbo", 1677610602, "openai"),
    ("o3-mini", 1737146383, "system"),
    ("gpt-5", 1754425777, "system"),
    ("gpt-5-mini", 1754425928, "system"),
)
_CREATED = {name: (created, owner) for name, created, owner in CATALOGUE}
_UNLISTED_CREATED = 1700000000  # a model named by a client but not in the catalogue


@attrs.frozen
class Models:
    """The set runs accept: any name when ``allowed`` is None (the catalogue is listed), else
    exactly ``allowed`` (an unknown name is the service's 404 ``model_not_found``)."""

    allowed: tuple[str, ...] | None = None

    @classmethod
    def of(cls, names: Iterable[str] | None) -> Models:
        """The set from ``Emulator(models=...)``; ``None`` keeps every model."""
        return cls(None if names is None else tuple(dict.fromkeys(names)))

    def check(self, name: object, param: str | None = "model") -> None:
        """Refuse ``name`` as the service does a model it does not have."""
        if self.allowed is not None and name not in self.allowed:
            # The service's words for a model it lacks (as answered to chat completions and
            # model retrieval; the Assistants routes' exact words are not in our recordings).
            raise ApiError(
                404,
                f"The model `{name}` does not exist or you do not have access to it.",
                param=param,
                code="model_not_found",
            )

    def listing(self) -> dict[str, object]:
        """``GET /v1/models``: every model runs accept."""
        names = [n for n, _, _ in CATALOGUE] if self.allowed is None else list(self.allowed)
        return {"object": "list", "data": [self._model(n) for n in names]}

    def retrieve(self, name: str) -> dict[str, object]:
        """``GET /v1/models/{id}``; unknown (when narrowed) is a 404 ``model_not_found``."""
        self.check(name, param=None)
        return self._model(name)

    @staticmethod
    def _model(name: str) -> dict[str, object]:
        created, owner = _CREATED.get(name, (_UNLISTED_CREATED, "system"))
        return {"id": name, "object": "model", "created": created, "owned_by": owner}
