"""openai's own exceptions, made the way openai makes them, for tests of the error boundary.

openai's error constructors take a request of the HTTP library its client speaks through
(httpx for openai 1.x and 2.x, httpx2 for 3.x) and may read it (openai 3.60 redacts its
headers). So the tests build a real request of that library, found from openai's public
``DefaultHttpxClient``, never a stand-in; or they let a real client fail against loopback.
"""

from __future__ import annotations

import importlib
import socket
from types import ModuleType
from typing import Any

import openai

KEY = "sk-secret-key"


def http_library() -> ModuleType:
    """The HTTP library openai's default client is built on: ``httpx`` or ``httpx2``."""
    for base in openai.DefaultHttpxClient.__mro__:
        package = base.__module__.split(".")[0]
        if package in ("httpx", "httpx2"):
            return importlib.import_module(package)
    msg = "cannot tell which HTTP library openai.DefaultHttpxClient is built on"
    raise AssertionError(msg)


def request(path: str = "/v1/threads/runs") -> Any:
    """A request as openai would send it, with the key in its authorization header."""
    return http_library().Request(
        "POST", f"http://127.0.0.1{path}", headers={"authorization": f"Bearer {KEY}"}
    )


def connection_error(*causes: BaseException) -> openai.APIConnectionError:
    """openai's connection error caused by ``causes[0]``, caused by ``causes[1]``, ..."""
    return _chained(openai.APIConnectionError(request=request()), causes)


def timeout_error(*causes: BaseException) -> openai.APITimeoutError:
    """openai's timeout error caused by ``causes[0]``, caused by ``causes[1]``, ..."""
    return _chained(openai.APITimeoutError(request=request()), causes)


def _chained(outer: Any, causes: tuple[BaseException, ...]) -> Any:
    top: BaseException = outer
    for cause in causes:
        top.__cause__ = cause
        top = cause
    return outer


def http_error(package: str, name: str) -> type[Exception]:
    """``<package>.<name>`` when that HTTP package is installed, else a class of that name
    and module (the library matches them by both), so httpx and httpx2 families are covered
    whichever openai brought."""
    try:
        real = getattr(importlib.import_module(package), name)
    except (ImportError, AttributeError):
        return type(name, (Exception,), {"__module__": package})
    assert isinstance(real, type)
    assert issubclass(real, Exception)
    return real


def closed_port() -> int:
    """A loopback port nothing listens on (bound, read, released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
