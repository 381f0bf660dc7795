"""Server-sent events: lines in, (event, data) pairs out. Sans-I/O."""

from __future__ import annotations

from collections.abc import Iterator


class SseDecoder:
    """Collects ``event:`` and ``data:`` lines; a blank line ends an event."""

    def __init__(self) -> None:
        self._event: str | None = None
        self._data: list[str] = []

    @property
    def pending(self) -> bool:
        """True in the middle of an event: a field was read and no blank line ended it yet."""
        return self._event is not None or bool(self._data)

    def feed(self, line: str) -> tuple[str, str] | None:
        """One line (without its newline); returns a finished (event, data) or None."""
        if not line:
            if self._event is None and not self._data:
                return None
            done = (self._event or "message", "\n".join(self._data))
            self._event, self._data = None, []
            return done
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        return None


def decode(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(event, data) pairs from lines."""
    decoder = SseDecoder()
    for line in lines:
        found = decoder.feed(line)
        if found is not None:
            yield found
    found = decoder.feed("")
    if found is not None:
        yield found
