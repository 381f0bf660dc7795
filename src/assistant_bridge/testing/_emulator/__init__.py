"""A loopback emulator of the OpenAI Assistants, Responses and Conversations APIs (see
:class:`EmulatorServer`).

A server: it imports neither ``openai`` nor the transports (the layer test checks). Its
modules: :mod:`.http` (the HTTP server), :mod:`.gate` (auth, beta header, faults, body,
dispatch), :mod:`.routes` and :mod:`.resource_table` (the route and resource tables),
:mod:`.validation` (the request schemas), handlers per API (:mod:`.assistants_api`,
:mod:`.files_api`, :mod:`.responses_api`), run and response events (:mod:`.run_events`,
:mod:`.response_flow`), and the state (:mod:`.store`, :mod:`.file_records`,
:mod:`.response_records`)."""

from .exchanges import Exchange
from .server import EmulatorServer

__all__ = ["EmulatorServer", "Exchange"]
