"""The service's error answers: ``{"error": {"message", "type", "param", "code"}}`` and a status."""

from __future__ import annotations

from collections.abc import Mapping


class ApiError(Exception):
    """An error answer in OpenAI's shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": type, "param": param, "code": code}}
        self.headers = dict(headers or {})


def declined(what: str, param: str | None = None) -> ApiError:
    """A 400 for a feature the emulator does not emulate, in the service's error shape."""
    return ApiError(
        400,
        f"{what} is not supported by the assistant_bridge emulator.",
        param=param,
        code="unsupported_value",
    )
