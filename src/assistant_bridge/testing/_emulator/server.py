"""The Emulator: the emulated API served on loopback from a background event loop."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Self

from .behaviours import Behaviour, Triage
from .exchanges import Exchange, LoggedRequest
from .faults import Fault, FaultEvent, FaultPlan
from .file_records import FileRecord
from .gate import EmulatorApp
from .http import MAX_BODY_BYTES, HttpServer
from .models import Models
from .ratelimits import RateLimit
from .resource_table import FILES
from .response_records import text_of
from .store import Store

DEFAULT_KEY = "sk-emulator"


class EmulatorServer:
    """A loopback stand-in for the OpenAI Assistants API, for tests, demos and benchmarks.

    ``with Emulator() as emu:`` starts it on a free port of 127.0.0.1; point
    any OpenAI client at ``emu.base_url`` with ``emu.api_key``. It is a server only: the
    client helpers live on :class:`assistant_bridge.testing.Emulator`.
    Requests must carry ``api_key`` as a bearer token (``api_key=None`` accepts any).
    ``models`` narrows the models served (``GET /v1/models``) and accepted; by default any
    model name is accepted and a catalogue of the service's models is listed.
    ``conversation_locks=False`` lets a second response start on a conversation that has
    one in progress (the service answers 400 ``conversation_locked``, and so does this by
    default). ``max_body_bytes`` caps a request body (64 MiB; over it, 413 however it is framed).
    Runs follow scripted behaviours (:meth:`script`), the default being :class:`Triage`;
    faults are injected with :meth:`inject`; :attr:`requests`, :meth:`counts`, :attr:`store`
    and, with ``record_bodies=True``, :attr:`exchanges` let tests see what happened.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = DEFAULT_KEY,
        poll_after_ms: int | None = None,
        queue_delay: float = 0.01,
        cancel_delay: float = 0.01,
        run_ttl: float = 600.0,
        default: Behaviour | None = None,
        record_bodies: bool = False,
        models: Iterable[str] | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        conversation_locks: bool = True,
        rate_limits: RateLimit | Mapping[str, RateLimit] | None = None,
    ) -> None:
        self.api_key = api_key
        self.faults = FaultPlan()
        self.store = Store(queue_delay=queue_delay, cancel_delay=cancel_delay, run_ttl=run_ttl)
        self.app = EmulatorApp(
            api_key=api_key,
            store=self.store,
            faults=self.faults,
            poll_after_ms=poll_after_ms,
            default=default if default is not None else Triage(),
            models=Models.of(models),
            rate_limits=rate_limits,
        )
        self.app.conversation_locks = conversation_locks
        if record_bodies:
            self.app.exchanges = []
        self._server = HttpServer(
            self.app,
            host,
            port,
            on_bad_request=self.app.log_unreadable,
            max_body_bytes=max_body_bytes,
        )
        self._host = host
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        state = "running" if self._loop is not None else "stopped"
        where = f", base_url={self.base_url!r}" if self._loop is not None else ""
        return f"<Emulator({state}{where})>"

    @property
    def base_url(self) -> str:
        """The API root to give a client, e.g. ``http://127.0.0.1:54321/v1``."""
        return f"http://{self._host}:{self._server.port}/v1"

    @property
    def port(self) -> int:
        """The TCP port it listens on."""
        return self._server.port

    def start(self) -> Self:
        """Start serving in a background thread; returns once the port is open."""
        if self._loop is not None:
            return self
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._server.start())
            except BaseException as exc:  # reported to start()'s caller
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._server.close())
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

        self._thread = threading.Thread(target=serve, name="assistant-bridge-emulator", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        self._loop = loop
        return self

    def stop(self) -> None:
        """Stop serving and close every connection."""
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Serve in the foreground until interrupted (Ctrl-C)."""
        self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    # -- scripting and faults ----------------------------------------------------------------
    def script(
        self,
        behaviour: Behaviour,
        *,
        assistant_id: str | None = None,
        thread_id: str | None = None,
        times: int | None = None,
    ) -> None:
        """Make runs of ``assistant_id`` (or on ``thread_id``, or all) follow ``behaviour``.

        With ``times`` the script serves that many runs, then the next one (or the default)
        takes over; scripts queue up in the order given.
        """
        key = thread_id or assistant_id or "*"
        self.app.script(key, behaviour, times)

    def inject(
        self, fault: Fault, route: str = "*", *, nth: int | None = None, times: int | None = 1
    ) -> None:
        """Make requests of ``route`` fail with ``fault`` (see :class:`Fault`)."""
        from .routes import ROUTE_NAMES

        if route != "*" and route not in ROUTE_NAMES:
            msg = f"unknown route {route!r}; use one of {sorted(ROUTE_NAMES)} or '*'"
            raise ValueError(msg)
        self.faults.add(fault, route, nth=nth, times=times)

    @property
    def fired_faults(self) -> list[FaultEvent]:
        """Every fault injected so far, in order."""
        return list(self.faults.fired)

    # -- introspection -----------------------------------------------------------------------
    @property
    def requests(self) -> list[LoggedRequest]:
        """Every request answered so far, in order."""
        with self.app.lock:
            return list(self.app.requests)

    @property
    def exchanges(self) -> list[Exchange]:
        """Every request with the bytes answered, when started with ``record_bodies=True``."""
        with self.app.lock:
            if self.app.exchanges is None:
                msg = "start the emulator with record_bodies=True to keep the bodies"
                raise RuntimeError(msg)
            return list(self.app.exchanges)

    def counts(self) -> Counter[str]:
        """How many requests each route received."""
        return self.app.counts()

    def run_status(self, run_id: str) -> str:
        """A run's (or a response's) current status."""
        with self.app.lock:
            if run_id in self.app.responses:
                response = self.app.responses[run_id]
                self.app.advance_response(response)
                return response.status
            run = self.store.runs[run_id]
            self.store.advance(run)
            return run.status

    def thread_messages(self, thread_id: str) -> list[tuple[str, str, str | None]]:
        """(role, text, run_id) of each message of a thread, or of a conversation (where the
        run id is not recorded, so None), oldest first."""
        with self.app.lock:
            if thread_id in self.app.conversations:
                self.app.advance_conversation(thread_id)
                return [
                    (str(i.get("role")), text_of(i), None)
                    for i in self.app.conversations[thread_id].items
                    if i.get("type") == "message"
                ]
            return [
                (m.role, m.text, m.run_id) for m in self.store.threads[thread_id].messages.values()
            ]

    def runs_of(self, thread_id: str) -> list[str]:
        """The ids of a thread's runs (or a conversation's responses), oldest first."""
        with self.app.lock:
            runs = [r.id for r in self.store.runs.values() if r.thread_id == thread_id]
            return runs + [
                r.id for r in self.app.responses.values() if r.conversation_id == thread_id
            ]

    def active_runs(self) -> list[str]:
        """Runs still holding their thread (queued, in progress, requires action, cancelling),
        and responses not yet finished."""
        with self.app.lock:
            active = []
            for run in self.store.runs.values():
                self.store.advance(run)
                if run.status in ("queued", "in_progress", "requires_action", "cancelling"):
                    active.append(run.id)
            for response in self.app.responses.values():
                self.app.advance_response(response)
                if response.status in ("queued", "in_progress"):
                    active.append(response.id)
            return active

    def create_output_file(self, data: bytes, filename: str = "output.png") -> str:
        """Make a file as the model's tools make them (a chart, a generated document): purpose
        ``assistants_output``, downloadable, as a code-interpreter output is; returns its id.
        (A file uploaded with ``purpose=assistants`` is not downloadable, as at the service.)"""
        with self.app.lock:
            record = FileRecord(
                FILES.new_id(), filename, "assistants_output", bytes(data), self.store.now()
            )
            self.store.files[record.id] = record
            return record.id

    def create_assistant(
        self,
        *,
        model: str = "gpt-4o-mini",
        name: str | None = None,
        instructions: str | None = None,
        tools: Sequence[dict[str, Any]] = (),
        vector_store_ids: Sequence[str] = (),
        assistant_id: str | None = None,
    ) -> str:
        """Create an assistant directly in the emulator's state; returns its id.

        ``assistant_id`` fixes the id (for recordings and fixtures); by default one is made.
        """
        body: dict[str, Any] = {
            "model": model,
            "name": name,
            "instructions": instructions,
            "tools": list(tools),
        }
        if vector_store_ids:
            body["tool_resources"] = {"file_search": {"vector_store_ids": list(vector_store_ids)}}
        with self.app.lock:
            created: dict[str, Any] = self.app.assistants_create(body=body)
            if assistant_id is not None:
                record = self.store.assistants.pop(created["id"])
                record.id = assistant_id
                self.store.assistants[assistant_id] = record
                return assistant_id
        return str(created["id"])
