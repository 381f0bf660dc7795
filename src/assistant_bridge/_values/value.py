"""One ``__repr__`` for every frozen attrs value of the library.

attrs writes and compiles a ``__repr__`` for each class it makes (an f-string per class); for
the eighty classes a first import defines, that was a fifth of the import's own time. Classes
that derive from :class:`Value` and say ``@attrs.frozen(repr=False)`` share this one instead:
the same text as attrs' (``Run(id='run_1', status=...)``), honouring a field's ``repr=False``
or its repr callable.
"""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["Value"]


class Value:
    """The base of the library's frozen attrs values: attrs' repr, written once."""

    __slots__ = ()

    def __repr__(self) -> str:
        parts = []
        cls: Any = type(self)  # an attrs class
        for field in attrs.fields(cls):
            if field.repr is False:
                continue
            value = getattr(self, field.name, attrs.NOTHING)
            shown = field.repr(value) if callable(field.repr) else repr(value)
            parts.append(f"{field.name}={shown}")
        name = type(self).__qualname__.rsplit(">.", 1)[-1]
        return f"{name}({', '.join(parts)})"
