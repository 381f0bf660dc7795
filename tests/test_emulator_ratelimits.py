"""The emulator limits as the service does (issue 27): requests and tokens per minute per API
key, every /v1 request counted, 429 with the service's body and ``retry-after-ms``, and the
``x-ratelimit-*`` headers on every answer; openai's client reads them and retries."""

from __future__ import annotations

import time
from typing import Any

import openai
import pytest

from assistant_bridge.testing import Emulator, RateLimit
from assistant_bridge.testing._emulator.ratelimits import duration
from tests.openai_errors import http_library

HEADERS = ("limit", "remaining", "reset")


def get(emu: Emulator, path: str, key: str = "sk-emulator", **kwargs: Any) -> Any:
    """A raw GET with the HTTP library openai brought (httpx or httpx2)."""
    headers = {"authorization": f"Bearer {key}", "openai-beta": "assistants=v2"}
    return http_library().get(emu.base_url + path, headers=headers, timeout=10, **kwargs)


def test_every_answer_carries_the_key_s_headers_and_the_limit_binds() -> None:
    with Emulator(rate_limits=RateLimit(requests_per_minute=3, tokens_per_minute=10_000)) as emu:
        answers = [get(emu, "/models"), get(emu, "/assistants"), get(emu, "/nowhere")]
        assert [a.status_code for a in answers] == [200, 200, 404]  # a 404 counts too
        for answer in answers:
            for name in HEADERS:
                assert f"x-ratelimit-{name}-requests" in answer.headers
                assert f"x-ratelimit-{name}-tokens" in answer.headers
        assert answers[0].headers["x-ratelimit-limit-requests"] == "3"
        assert [a.headers["x-ratelimit-remaining-requests"] for a in answers] == ["2", "1", "0"]
        refused = get(emu, "/models")
        assert refused.status_code == 429
        error = refused.json()["error"]
        assert (error["type"], error["code"], error["param"]) == (
            "requests",
            "rate_limit_exceeded",
            None,
        )
        assert error["message"].startswith("Rate limit reached for requests in organization")
        assert "on requests per min (RPM): Limit 3, Used 3, Requested 1." in error["message"]
        wait_ms = int(refused.headers["retry-after-ms"])
        assert 15_000 <= wait_ms <= 20_000  # one request refills in 60/3 = 20 s
        assert refused.headers["retry-after"] == str(-(-wait_ms // 1000))
        assert refused.headers["x-ratelimit-remaining-requests"] == "0"
        # Another key has its own budget.
        with Emulator(api_key=None, rate_limits=RateLimit(requests_per_minute=1)) as open_emu:
            assert get(open_emu, "/models", key="sk-a").status_code == 200
            assert get(open_emu, "/models", key="sk-b").status_code == 200
            assert get(open_emu, "/models", key="sk-a").status_code == 429


def test_the_bucket_refills_at_the_per_minute_rate() -> None:
    limit = RateLimit(requests_per_minute=600, burst_seconds=0.1)  # 10 a second, 1 at a time
    with Emulator(rate_limits=limit) as emu:
        assert get(emu, "/models").status_code == 200
        refused = get(emu, "/models")
        assert refused.status_code == 429
        time.sleep(int(refused.headers["retry-after-ms"]) / 1000 + 0.02)
        assert get(emu, "/models").status_code == 200


def test_tokens_are_counted_on_model_routes() -> None:
    with Emulator(rate_limits=RateLimit(tokens_per_minute=60)) as emu:
        client = emu.client(max_retries=0)
        client.post("/responses", body={"model": "gpt-4o-mini", "input": "hi"}, cast_to=object)
        with pytest.raises(openai.RateLimitError) as caught:
            client.post(
                "/responses", body={"model": "gpt-4o-mini", "input": "x" * 400}, cast_to=object
            )
        error = caught.value.body
        assert isinstance(error, dict)
        assert error["type"] == "tokens"
        assert error["message"].startswith("Rate limit reached for gpt-4o-mini in organization")
        assert "on tokens per min (TPM): Limit 60" in error["message"]
        # Reading does not spend tokens.
        assert get(emu, "/models").headers["x-ratelimit-limit-tokens"] == "60"


def test_openai_s_client_waits_out_the_retry_after_and_succeeds() -> None:
    limit = RateLimit(requests_per_minute=1200, burst_seconds=0.05)  # one request per 50 ms
    with Emulator(rate_limits=limit) as emu, emu.client(max_retries=5) as client:
        started = time.monotonic()
        for _ in range(4):
            client.models.list()
        assert time.monotonic() - started >= 0.1
        assert [r.status for r in emu.requests].count(429) >= 1
        assert [r.status for r in emu.requests].count(200) == 4


def test_per_key_limits_and_unlimited_keys() -> None:
    limits = {"sk-small": RateLimit(requests_per_minute=1)}
    with Emulator(api_key=None, rate_limits=limits) as emu:
        assert get(emu, "/models", key="sk-small").status_code == 200
        assert get(emu, "/models", key="sk-small").status_code == 429
        free = get(emu, "/models", key="sk-other")
        assert free.status_code == 200
        assert "x-ratelimit-limit-requests" not in free.headers


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (0.0004, "1ms"), (0.02, "20ms"), (1.5, "1.5s"), (360, "6m0s"), (61.25, "1m1.25s")],
)
def test_reset_durations_are_written_as_the_service_writes_them(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_a_bad_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="requests_per_minute"):
        RateLimit(requests_per_minute=0)
    with pytest.raises(ValueError, match="burst_seconds"):
        RateLimit(requests_per_minute=5, burst_seconds=0)
