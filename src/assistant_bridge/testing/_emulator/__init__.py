"""A loopback emulator of the OpenAI Assistants API (see :class:`EmulatorServer`).

A server: it imports neither ``openai`` nor the transports (the layer test checks)."""

from .app import Exchange
from .server import EmulatorServer

__all__ = ["EmulatorServer", "Exchange"]
