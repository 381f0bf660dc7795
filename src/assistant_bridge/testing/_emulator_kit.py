"""The testing side of the emulator: :class:`Emulator` is the loopback server plus helpers that
build clients and transports pointed at it. The server itself knows nothing of ``openai``."""

from __future__ import annotations

from typing import Any

from assistant_bridge.testing._emulator import EmulatorServer


class Emulator(EmulatorServer):
    """A loopback stand-in for the OpenAI API, for tests, demos and benchmarks.

    ``with Emulator() as emu:`` starts it on a free port of 127.0.0.1; :meth:`client` and
    :meth:`transport` give an ``openai`` client or a transport pointed at it.
    """

    @property
    def base_url(self) -> str:
        """The API root to give a client, e.g. ``http://127.0.0.1:54321/v1``."""
        self._check_running()
        return super().base_url

    @property
    def port(self) -> int:
        """The TCP port it listens on, while it runs."""
        self._check_running()
        return super().port

    def _check_running(self) -> None:
        if self._loop is None:
            msg = (
                "This Emulator is not running (stopped, or never started): it has no port or "
                "base_url. Use it inside `with Emulator() as emu:`, or call emu.start() first."
            )
            raise RuntimeError(msg)

    def client(self, **kwargs: Any) -> Any:
        """An ``openai.OpenAI`` client pointed at this emulator."""
        import openai

        return openai.OpenAI(base_url=self.base_url, api_key=self.api_key or "sk-any", **kwargs)

    def transport(self, api: str = "assistants", **kwargs: Any) -> Any:
        """A transport pointed at this emulator: :class:`~assistant_bridge.OpenAITransport`
        for ``api="assistants"``, :class:`~assistant_bridge.ResponsesTransport` for
        ``api="responses"``."""
        from assistant_bridge.transports import OpenAITransport, ResponsesTransport

        kinds = {"assistants": OpenAITransport, "responses": ResponsesTransport}
        if api not in kinds:
            msg = f"api must be 'assistants' or 'responses', got {api!r}"
            raise ValueError(msg)
        return kinds[api](self.api_key or "sk-any", base_url=self.base_url, **kwargs)
