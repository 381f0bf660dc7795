"""OpenAITransport: the Transport protocol over the Assistants API, through ``openai``.

This is the only module that imports ``openai``. It converts the service's JSON into domain
values (:mod:`._wire`) and every ``openai`` exception into ours, at one boundary
(:func:`map_openai_errors`), keeping status code and request id and never the key.
Works with openai 1.37.1 (pydantic 1) and with openai 3.x (pydantic 2).
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import openai

from ._models import Assistant, Message, MessagePage, Run, Thread, ToolOutput
from ._redact import redact
from ._spec import HASH_KEY, AssistantSpec
from ._transport import RunRequest
from ._wire import (
    assistant_from_json,
    message_from_json,
    message_page_from_json,
    parse_poll_after,
    run_from_json,
    thread_from_json,
)
from .exceptions import (
    ActiveRunError,
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
)

__all__ = ["OpenAITransport", "map_openai_errors"]

# The Assistants API is deprecated upstream in favour of Responses; this transport targets it
# (and compatible servers) on purpose, so the SDK's per-call notice is noise for our users.
# The filter matches only those notices, raised from openai's modules or ours.
warnings.filterwarnings(
    "ignore",
    message=r"(deprecated|The Assistants API is deprecated)",
    category=DeprecationWarning,
    module=r"(openai|assistant_bridge)\.",
)

_ACTIVE_RUN = re.compile(
    r"(?:(thread_[A-Za-z0-9]+) already has an active run (run_[A-Za-z0-9]+))"
    r"|(?:to (thread_[A-Za-z0-9]+) while a run (run_[A-Za-z0-9]+) is active)"
)

_ADVICE = {
    AuthenticationError: "check OPENAI_API_KEY (and OPENAI_ORG_ID) and the key's permissions",
    NotFoundError: "check the assistant, thread and run ids and the base URL",
    BadRequestError: "fix the request as the server's message says",
    ConflictError: "fetch the resource again and retry",
    RateLimitError: "wait and retry, or check the account's quota",
    ServerError: "the service failed; retry later",
}


def _retry_after(headers: Mapping[str, str]) -> float | None:
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return max(0.0, float(value) / scale)
            except ValueError:
                continue
    return None


def _status_error(exc: openai.APIStatusError, secrets: Sequence[str | None]) -> TransportError:
    status = exc.status_code
    body = exc.body if isinstance(exc.body, Mapping) else {}
    if isinstance(body.get("error"), Mapping):
        body = body["error"]
    server_text = redact(str(body.get("message") or exc.message), secrets)
    code = body.get("code")
    param = body.get("param")
    kwargs: dict[str, Any] = {
        "status_code": status,
        "request_id": getattr(exc, "request_id", None),
        "code": str(code) if code is not None else None,
        "param": str(param) if param is not None else None,
    }
    active = _ACTIVE_RUN.search(server_text) if status == 400 else None
    if active:
        thread_id = active.group(1) or active.group(3)
        run_id = active.group(2) or active.group(4)
        msg = (
            f"The server refused the request: {server_text} Wait for run {run_id} to finish, "
            "or cancel it, before asking again on this thread."
        )
        return ActiveRunError(msg, thread_id=thread_id, run_id=run_id, **kwargs)
    cls: type[TransportError]
    if status in (401, 403):
        cls = AuthenticationError
    elif status == 404:
        cls = NotFoundError
    elif status == 409:
        cls = ConflictError
    elif status == 429:
        cls = RateLimitError
        kwargs["retry_after"] = _retry_after(exc.response.headers)
    elif status >= 500:
        cls = ServerError
    else:
        cls = BadRequestError
    msg = f"The server answered {status}: {server_text} ({_ADVICE[cls]})."
    return cls(msg, **kwargs)


@contextlib.contextmanager
def map_openai_errors(secrets: Sequence[str | None] = ()) -> Iterator[None]:
    """Translate ``openai`` exceptions raised inside the block into ours.

    The original is not chained (``from None``): its request object carries the key in a
    header, and tracebacks print chained exceptions. Everything useful is copied over.
    """
    try:
        yield
    except openai.APIStatusError as exc:
        raise _status_error(exc, secrets) from None
    except openai.APITimeoutError:
        msg = "The request timed out before the server answered; retry, or raise the timeout."
        raise APIConnectionError(msg) from None
    except openai.APIConnectionError as exc:
        cause = redact(repr(exc.__cause__) if exc.__cause__ else str(exc), secrets)
        msg = (
            f"Could not reach the server ({cause}); check the network and the base URL, then retry."
        )
        raise APIConnectionError(msg) from None


def build_client(
    owner: str,
    api_key: str | None,
    organization: str | None,
    project: str | None,
    base_url: str | None,
    timeout: float,
    max_retries: int,
) -> openai.OpenAI:
    """An ``openai.OpenAI`` client, refusing to build one without a key."""
    if not api_key:
        msg = f"No API key: pass api_key=... or set OPENAI_API_KEY (use {owner}.from_env())."
        raise ConfigurationError(msg)
    return openai.OpenAI(
        api_key=api_key,
        organization=organization,
        project=project,
        base_url=base_url,
        timeout=timeout,
        max_retries=max_retries,
    )


def env_settings(owner: str, environ: Mapping[str, str] | None) -> dict[str, Any]:
    """Key, organization, project and base URL from the OPENAI_* environment variables."""
    env = os.environ if environ is None else environ
    api_key = env.get("OPENAI_API_KEY", "").strip()
    if not api_key:
        msg = f"OPENAI_API_KEY is not set: export it, or pass api_key=... to {owner}(...)."
        raise ConfigurationError(msg)
    return {
        "api_key": api_key,
        "organization": env.get("OPENAI_ORG_ID") or None,
        "project": env.get("OPENAI_PROJECT_ID") or None,
        "base_url": env.get("OPENAI_BASE_URL") or None,
    }


def _given(**kwargs: Any) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if v is not None}


def _assistants_body(request: RunRequest) -> dict[str, Any]:
    if request.assistant_id is None:
        msg = (
            "The Assistants API runs assistant objects: pass assistant_id='asst_…', or "
            "assistant=AssistantSpec(...) to ThreadSession, which creates the object once."
        )
        raise ConfigurationError(msg)
    return request.body()


class OpenAITransport:
    """The Assistants API through the official ``openai`` client.

    Give a key (and optionally organization, project, base_url), use :meth:`from_env`, or pass
    a ready ``openai.OpenAI`` client as ``client``. The key is never shown in a repr,
    a log line or an error message.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        organization: str | None = None,
        project: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        client: openai.OpenAI | None = None,
    ) -> None:
        if client is None:
            client = build_client(
                "OpenAITransport", api_key, organization, project, base_url, timeout, max_retries
            )
        self._client = client
        self._secrets: tuple[str | None, ...] = (api_key, getattr(client, "api_key", None))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> OpenAITransport:
        """Build from OPENAI_API_KEY, OPENAI_ORG_ID, OPENAI_PROJECT_ID and OPENAI_BASE_URL."""
        return cls(**env_settings("OpenAITransport", environ), **kwargs)

    def __repr__(self) -> str:
        return f"<OpenAITransport(base_url={str(self._client.base_url)!r})>"

    @property
    def client(self) -> openai.OpenAI:
        """The underlying ``openai`` client, for calls this library does not wrap."""
        return self._client

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> tuple[Any, Mapping[str, str]]:
        with map_openai_errors(self._secrets):
            raw = method(*args, **kwargs)
            return raw.http_response.json(), raw.headers

    def _run(self, method: Any, *args: Any, **kwargs: Any) -> Run:
        data, headers = self._call(method, *args, **kwargs)
        return run_from_json(
            data, poll_after_ms=parse_poll_after(headers.get("openai-poll-after-ms"))
        )

    def create_thread(self, *, metadata: Mapping[str, str] | None = None) -> Thread:
        data, _ = self._call(
            self._client.beta.threads.with_raw_response.create,
            **_given(metadata=None if metadata is None else dict(metadata)),
        )
        return thread_from_json(data)

    def add_message(
        self, thread_id: str, content: str, *, metadata: Mapping[str, str] | None = None
    ) -> Message:
        data, _ = self._call(
            self._client.beta.threads.messages.with_raw_response.create,
            thread_id,
            role="user",
            content=content,
            **_given(metadata=None if metadata is None else dict(metadata)),
        )
        return message_from_json(data)

    def start_run(
        self,
        thread_id: str,
        request: RunRequest,
        *,
        content: str | None = None,
        message_metadata: Mapping[str, str] | None = None,
    ) -> Run:
        body = _assistants_body(request)
        if content is not None:
            message: dict[str, Any] = {"role": "user", "content": content}
            if message_metadata is not None:
                message["metadata"] = dict(message_metadata)
            body["additional_messages"] = [message]
        return self._run(self._client.beta.threads.runs.with_raw_response.create, thread_id, **body)

    def create_thread_and_run(
        self, content: str, request: RunRequest, *, thread_metadata: Mapping[str, str] | None = None
    ) -> Run:
        body = _assistants_body(request)
        if body.pop("additional_instructions", None) is not None:
            msg = "create_thread_and_run cannot carry additional_instructions; use start_run."
            raise ConfigurationError(msg)
        thread: dict[str, Any] = {"messages": [{"role": "user", "content": content}]}
        if thread_metadata is not None:
            thread["metadata"] = dict(thread_metadata)
        return self._run(
            self._client.beta.threads.with_raw_response.create_and_run, thread=thread, **body
        )

    def get_run(self, thread_id: str, run_id: str) -> Run:
        return self._run(
            self._client.beta.threads.runs.with_raw_response.retrieve, run_id, thread_id=thread_id
        )

    def cancel_run(self, thread_id: str, run_id: str) -> Run:
        return self._run(
            self._client.beta.threads.runs.with_raw_response.cancel, run_id, thread_id=thread_id
        )

    def submit_tool_outputs(
        self,
        thread_id: str,
        run_id: str,
        outputs: Sequence[ToolOutput],
        *,
        request: RunRequest | None = None,
    ) -> Run:
        return self._run(
            self._client.beta.threads.runs.with_raw_response.submit_tool_outputs,
            run_id,
            thread_id=thread_id,
            tool_outputs=[{"tool_call_id": o.tool_call_id, "output": o.output} for o in outputs],
        )

    def list_run_messages(
        self, thread_id: str, run_id: str, *, after: str | None = None, limit: int = 100
    ) -> MessagePage:
        data, _ = self._call(
            self._client.beta.threads.messages.with_raw_response.list,
            thread_id,
            run_id=run_id,
            order="asc",
            limit=limit,
            **_given(after=after),
        )
        return message_page_from_json(data)

    def get_assistant(self, assistant_id: str) -> Assistant:
        data, _ = self._call(self._client.beta.assistants.with_raw_response.retrieve, assistant_id)
        return assistant_from_json(data)

    def resolve_assistant(self, spec: AssistantSpec) -> str:
        """The id of the assistant object for ``spec``: reused when its name and content hash
        match, updated when only the name does, created otherwise. Never a duplicate."""
        wanted = spec.content_hash()
        same_name: list[Mapping[str, Any]] = []
        after: str | None = None
        while True:
            page, _ = self._call(
                self._client.beta.assistants.with_raw_response.list,
                limit=100,
                order="asc",
                **_given(after=after),
            )
            for item in page.get("data") or ():
                if item.get("name") == spec.name:
                    if (item.get("metadata") or {}).get(HASH_KEY) == wanted:
                        return str(item["id"])
                    same_name.append(item)
            if not page.get("has_more") or not page.get("data"):
                break
            after = page.get("last_id") or page["data"][-1]["id"]
        body = spec.assistants_body()
        if same_name:
            data, _ = self._call(
                self._client.beta.assistants.with_raw_response.update, same_name[0]["id"], **body
            )
        else:
            data, _ = self._call(self._client.beta.assistants.with_raw_response.create, **body)
        return str(data["id"])

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OpenAITransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
