"""The emulator's front door: every request passes the gate before a handler sees it, as at
the service: its fault (if one is injected), the bearer key, the Assistants beta header, a
JSON body, the route's schema; then the handler the route table names, and the headers every
answer carries. Errors have OpenAI's JSON shape and, where the service's wording is known,
its words."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from typing import Any

import attrs

from .assistants_api import AssistantsRoutes
from .behaviours import Behaviour
from .errors import ApiError
from .exchanges import Exchange, LoggedRequest
from .faults import Fault, FaultPlan, fault_answer, with_stream_fault
from .http import BadForm, Request, Reset, Response, form_fields
from .models import Models
from .ratelimits import TOKEN_ROUTES, RateLimit, RateLimiter
from .resources import Route
from .responses_api import ResponsesRoutes
from .routes import BETA_ROUTES, POLLED_ROUTES, match
from .store import Store
from .validation import validate

__all__ = ["EmulatorApp"]

VECTOR_STORE_POLL_MS = 20
RATE_LIMIT_HEADERS = {
    "x-ratelimit-limit-requests": "30000",
    "x-ratelimit-limit-tokens": "150000000",
    "x-ratelimit-remaining-requests": "29999",
    "x-ratelimit-remaining-tokens": "149999000",
    "x-ratelimit-reset-requests": "2ms",
    "x-ratelimit-reset-tokens": "0s",
}
_JSON = {"content-type": "application/json"}
_MODEL = re.compile(rb'"model"\s*:\s*"([^"]{1,200})"')


def _check_beta(request: Request) -> None:
    """The Assistants API answers 400 without ``OpenAI-Beta: assistants=v2``."""
    beta = request.headers.get("openai-beta", "")
    if "assistants=v2" in beta:
        return
    if "assistants=v1" in beta:
        raise ApiError(
            400,
            "The v1 Assistants API has been deprecated. Please try again by setting the header "
            "'OpenAI-Beta: assistants=v2'.",
            code="invalid_beta",
        )
    raise ApiError(
        400,
        "You must provide the 'OpenAI-Beta' header to access the Assistants API. Please try "
        "again by setting the header 'OpenAI-Beta: assistants=v2'.",
        code="invalid_beta",
    )


def _check_auth(request: Request, api_key: str | None) -> str:
    """The request's API key, or the service's 401."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer ") or not header[7:].strip():
        raise ApiError(
            401,
            "You didn't provide an API key. You need to provide your API key "
            "in an Authorization header using Bearer auth (i.e. Authorization: "
            "Bearer YOUR_KEY).",
            code=None,
            headers={"www-authenticate": 'Bearer realm="OpenAI API"'},
        )
    given = header[7:].strip()
    if api_key is not None and given != api_key:
        masked = given[:3] + "*" * 8 + given[-4:] if len(given) > 8 else "*" * len(given)
        raise ApiError(
            401,
            f"Incorrect API key provided: {masked}. You can find your API "
            "key at https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
            headers={"www-authenticate": 'Bearer realm="OpenAI API"'},
        )
    return given


def _body(request: Request) -> dict[str, Any]:
    """The request's JSON object, or its form fields (an empty one without a body)."""
    content_type = request.headers.get("content-type", "json")
    if "multipart/form-data" in content_type:
        try:
            return dict(form_fields(request))
        except BadForm as exc:
            raise ApiError(400, str(exc)) from None
    if not request.body or "json" not in content_type:
        return {}
    try:
        parsed = json.loads(request.body)
    except RecursionError:
        raise ApiError(
            400,
            "We could not parse the JSON body of your request: it is nested too deeply.",
        ) from None
    except ValueError:
        raise ApiError(
            400,
            "We could not parse the JSON body of your request. (HINT: This likely means "
            "you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
            "payload, but what was sent was not valid JSON.)",
        ) from None
    if not isinstance(parsed, dict):
        raise ApiError(
            400,
            f"Invalid type for body: expected an object, but got {type(parsed).__name__} instead.",
            code="invalid_type",
        )
    return parsed


class EmulatorApp(ResponsesRoutes, AssistantsRoutes):
    """Every API's handlers behind the gate: auth, faults, scripts and the request log."""

    def __init__(
        self,
        *,
        api_key: str | None,
        store: Store,
        faults: FaultPlan,
        poll_after_ms: int | None,
        default: Behaviour,
        models: Models | None = None,
        rate_limits: RateLimit | Mapping[str, RateLimit] | None = None,
    ) -> None:
        self._init_state(store, models if models is not None else Models(), default, poll_after_ms)
        self.limiter = RateLimiter(rate_limits, store.clock)
        self.api_key = api_key
        self.faults = faults
        self.requests: list[LoggedRequest] = []
        self.exchanges: list[Exchange] | None = None  # a list when bodies are recorded

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(r.route for r in self.requests)

    # -- HTTP entry point --------------------------------------------------------------------
    async def __call__(self, request: Request) -> Response | Reset:
        started = time.monotonic()
        route, ids = match(request)
        name = route.name if route is not None else None
        fault = self.faults.match(name, request.method, request.path) if name else None
        answer: Response | Reset
        limits: dict[str, str] = {}  # this key's x-ratelimit-* headers, once counted
        try:
            if fault is not None and fault.kind == "slow":
                await asyncio.sleep(fault.delay)
            if fault is not None and fault.kind == "reset_before":
                answer = Reset()
            elif fault is not None and fault.kind == "status":
                answer = fault_answer(fault)
            else:
                answer = self._handle(request, route, ids, fault, limits)
                if fault is not None and fault.kind == "reset_after":
                    answer = Reset()
        except ApiError as exc:
            answer = Response(exc.status, {**_JSON, **exc.headers}, json.dumps(exc.body).encode())
        except Exception as exc:  # a bug of ours answers 500, as the service would, not a reset
            body = {
                "error": {
                    "message": f"The server had an error while processing your request: {exc!r}",
                    "type": "server_error",
                    "param": None,
                    "code": "server_error",
                }
            }
            answer = Response(500, dict(_JSON), json.dumps(body).encode())
        if isinstance(answer, Response):
            answer = self._with_service_headers(answer, name, started, limits)
        status = answer.status if isinstance(answer, Response) else 0
        if self.exchanges is not None and isinstance(answer, Response):
            answer = self._recorded(request, name, answer)
        with self.lock:
            self.requests.append(
                LoggedRequest(
                    request.method,
                    request.path,
                    name or "unknown",
                    status,
                    time.time(),
                    time.monotonic() - started,
                )
            )
        return answer

    def log_unreadable(self, reason: str, status: int = 400) -> None:
        """Log bytes that were no HTTP request we read (answered by the HTTP layer)."""
        with self.lock:
            self.requests.append(LoggedRequest("?", reason, "unknown", status, time.time(), 0.0))

    def _recorded(self, request: Request, route: str | None, answer: Response) -> Response:
        exchange = Exchange(
            request.method, request.path, route or "unknown", answer.status, request.body
        )
        with self.lock:
            assert self.exchanges is not None
            self.exchanges.append(exchange)
        if answer.stream is None:
            exchange.response_body += answer.body
            return answer
        inner = answer.stream

        async def copied() -> AsyncIterator[bytes]:
            async for chunk in inner:
                exchange.response_body += chunk
                yield chunk

        return attrs.evolve(answer, stream=copied())

    def _with_service_headers(
        self, answer: Response, route: str | None, started: float, limits: Mapping[str, str]
    ) -> Response:
        """Headers every answer of the service carries (request id, processing time), and the
        rate-limit headers: the key's when limits are set, else fixed ones on
        ``/v1/responses`` (as recorded)."""
        headers = {
            "x-request-id": "req_" + secrets.token_hex(16),  # the service's shape: 32 hex digits
            "openai-version": "2020-10-01",
            **answer.headers,
            "openai-processing-ms": str(max(1, int((time.monotonic() - started) * 1000))),
        }
        if self.limiter.active:
            headers = {**headers, **limits}
        elif route is not None and route.startswith("responses."):
            headers.update(RATE_LIMIT_HEADERS)
        return attrs.evolve(answer, headers=headers)

    def _count(
        self, request: Request, route: Route | None, key: str, limits: dict[str, str]
    ) -> None:
        """Take this request (and, when it runs a model, its estimated tokens) from the key's
        limits; the headers go on the answer, a 429 if it does not fit."""
        tokens = 0
        model = None
        if route is not None and route.name in TOKEN_ROUTES:
            tokens = max(1, len(request.body) // 4)
            named = _MODEL.search(request.body[:8192])
            model = named.group(1).decode("utf-8", "replace") if named else None
        with self.lock:
            try:
                limits.update(self.limiter.take(key, tokens, model))
            except ApiError as refused:
                limits.update(refused.headers)
                raise

    def _handle(
        self,
        request: Request,
        route: Route | None,
        ids: Mapping[str, str],
        fault: Fault | None,
        limits: dict[str, str],
    ) -> Response:
        key = _check_auth(request, self.api_key)
        if self.limiter.active:
            self._count(request, route, key, limits)
        if route is None:
            raise ApiError(404, f"Invalid URL ({request.method} {request.path})")
        if route.name.split(".")[0] in BETA_ROUTES:
            _check_beta(request)
        body = _body(request)
        validate(route.name, body)
        with self.lock:
            result = route.handler(self, request=request, body=body, **ids)
        if isinstance(result, Response):
            if result.stream is not None:
                result = attrs.evolve(
                    result,
                    headers={
                        "content-type": "text/event-stream; charset=utf-8",
                        "cache-control": "no-cache",
                        **result.headers,
                    },
                )
            return result if fault is None else with_stream_fault(result, fault)
        headers = dict(_JSON)
        if route.name in POLLED_ROUTES and self.poll_after_ms is not None:
            headers["openai-poll-after-ms"] = str(self.poll_after_ms)
        if route.name.startswith("vector_stores."):
            headers["openai-poll-after-ms"] = str(self.poll_after_ms or VECTOR_STORE_POLL_MS)
        return Response(200, headers, json.dumps(result).encode())
