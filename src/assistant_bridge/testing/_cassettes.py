"""Settings for vcrpy that keep API keys out of recorded cassettes.

A cassette is a file that gets committed, so nothing secret may reach it: not the
``Authorization`` header, not a key a server echoes in an error body ("Incorrect API key
provided: sk-…") or in a header, not a key in the URL's userinfo
(``https://gateway:sk-…@host/v1``). :func:`vcr_config` gives the keyword arguments of
``vcr.VCR`` (or of pytest-recording's ``vcr_config`` fixture) that scrub all of those.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from assistant_bridge._redact import redact

__all__ = ["SECRET_HEADERS", "vcr_config"]

SECRET_HEADERS = (
    "authorization",
    "api-key",
    "x-api-key",
    "openai-organization",
    "openai-project",
    "cookie",
    "set-cookie",
)
"""Headers left out of a cassette whole (request and response)."""


def _scrub(value: Any, secrets: tuple[str, ...]) -> Any:
    """``value`` (text or bytes) with the keys masked; anything else as it is."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, bytes):
        text = value.decode("utf-8", "surrogateescape")
        clean = redact(text, secrets)
        return value if clean == text else clean.encode("utf-8", "surrogateescape")
    return value


def _headers(headers: Any, secrets: tuple[str, ...]) -> None:
    """Drop the secret headers of a vcrpy header mapping and mask the rest, in place."""
    for name in list(headers.keys()):
        if name.lower() in SECRET_HEADERS:
            del headers[name]
            continue
        values = headers[name]
        if isinstance(values, list):
            headers[name] = [_scrub(v, secrets) for v in values]
        else:
            headers[name] = _scrub(values, secrets)


def vcr_config(*secrets: str | None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Keyword arguments for ``vcr.VCR(...)`` that keep keys out of every cassette.

    Masked: ``secrets`` and ``OPENAI_API_KEY`` (whole, and without their ``sk-…`` prefix),
    anything shaped like an OpenAI key or a bearer token, and URL userinfo passwords; in
    request URIs, request and response bodies and every header. The headers in
    :data:`SECRET_HEADERS` are left out whole. Responses are stored decompressed, so their
    bodies can be checked. The same scrubbing is applied when a request is matched on
    playback, so a cassette recorded with a key in the URL still replays.
    """
    env = os.environ if environ is None else environ
    known = tuple(s for s in (*secrets, env.get("OPENAI_API_KEY")) if s)

    def before_record_request(request: Any) -> Any:
        request.uri = _scrub(request.uri, known)
        request.body = _scrub(request.body, known)
        _headers(request.headers, known)
        return request

    def before_record_response(response: dict[str, Any]) -> dict[str, Any]:
        body = response.get("body")
        if isinstance(body, dict) and "string" in body:
            body["string"] = _scrub(body["string"], known)
        if isinstance(response.get("headers"), dict):
            _headers(response["headers"], known)
        return response

    hooks: dict[str, Callable[[Any], Any]] = {
        "before_record_request": before_record_request,
        "before_record_response": before_record_response,
    }
    return {
        "filter_headers": list(SECRET_HEADERS),
        "decode_compressed_response": True,
        **hooks,
    }
