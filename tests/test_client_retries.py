"""Retry rules of both clients against real local servers, with every wait recorded.

GETs retry on connection errors, 408, 429 and 5xx; creates only when the server certainly
refused them. Waits follow `limits.CLIENT_RETRY`; Retry-After and retry-after-ms are
honoured up to its cap.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx
import pytest
from test_client_support import (
    KEY,
    Reply,
    ScriptedServer,
    error_body,
    free_port,
    run,
)

from connector.catalog import errors as codes
from connector.catalog import limits
from connector.catalog.responses import VideoJob
from connector.client import (
    APIConnectionError,
    APITimeoutError,
    JobMayExistError,
    RateLimitError,
    RetryPolicy,
    ServerError,
)
from connector.client.errors import InvalidRequestError, ProviderUnavailableError

SCHEDULE = limits.CLIENT_RETRY
READ_TIMEOUT = httpx.Timeout(0.3, connect=10.0)  # a quick read timeout, a patient connect
NO_JITTER = RetryPolicy(jitter=0.0)
VIDEO = {
    "id": "vgen_1",
    "object": "video.generation",
    "status": "processing",
    "model": "auto",
    "output_url": None,
}
DONE = {**VIDEO, "status": "completed", "output_url": "https://cdn.example/v.mp4"}


def get_video(client: Any) -> Any:
    return client.videos.get("vgen_1")


def create_video(client: Any, **extra: Any) -> Any:
    return client.videos.create(prompt="A drone shot over a coastal city", **extra)


def fail(status: int, code: str | None = None, **headers: str) -> Reply:
    body = error_body(code, f"answer {status}") if code else {"error": f"answer {status}"}
    return Reply(status, body, headers=headers)


# -- GETs ------------------------------------------------------------------------------------


def test_default_is_two_retries_with_exponential_backoff_and_jitter(mode: str) -> None:
    with ScriptedServer([fail(503), fail(502), Reply(200, DONE)]) as server:
        out = run(mode, server.url, get_video)
    assert out.error is None
    assert isinstance(out.result, VideoJob) and out.result.status == "completed"
    assert len(server.received) == 1 + SCHEDULE.retries
    assert len(out.sleeps) == SCHEDULE.retries
    for n, slept in enumerate(out.sleeps):
        full = min(SCHEDULE.initial * 2**n, SCHEDULE.maximum)
        assert full * (1 - SCHEDULE.jitter) <= slept <= full


def test_backoff_doubles_up_to_the_cap(mode: str) -> None:
    retries = 6
    script = [fail(500, codes.SERVER_ERROR.code) for _ in range(retries + 1)]
    with ScriptedServer(script) as server:
        out = run(mode, server.url, get_video, max_retries=retries, retry=NO_JITTER)
    error = out.raised(ServerError)
    assert error.status == 500
    assert len(server.received) == retries + 1
    expected = [min(SCHEDULE.initial * 2**n, SCHEDULE.maximum) for n in range(retries)]
    assert out.sleeps == expected
    assert expected[-1] == SCHEDULE.maximum  # the cap was reached


def test_max_retries_zero_disables_retrying(mode: str) -> None:
    with ScriptedServer([fail(503, codes.PROVIDER_UNAVAILABLE.code), Reply(200, DONE)]) as server:
        out = run(mode, server.url, get_video, max_retries=0)
    out.raised(ProviderUnavailableError)
    assert len(server.received) == 1
    assert out.sleeps == []


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_get_retries_transient_statuses(mode: str, status: int) -> None:
    with ScriptedServer([fail(status), Reply(200, DONE)]) as server:
        out = run(mode, server.url, get_video)
    assert out.error is None
    assert len(server.received) == 2


@pytest.mark.parametrize(
    "status, code",
    [
        (400, codes.INVALID_REQUEST.code),
        (401, codes.AUTHENTICATION.code),
        (402, codes.INSUFFICIENT_CREDITS.code),
        (404, codes.NOT_FOUND.code),
        (422, codes.VALIDATION.code),
    ],
)
def test_refusals_are_not_retried(mode: str, status: int, code: str) -> None:
    with ScriptedServer([fail(status, code), Reply(200, DONE)]) as server:
        out = run(mode, server.url, get_video)
    assert out.error is not None and getattr(out.error, "status", None) == status
    assert len(server.received) == 1 and out.sleeps == []


def test_retry_after_seconds_is_honoured(mode: str) -> None:
    limited = fail(429, codes.RATE_LIMIT.code, **{limits.RETRY_AFTER_HEADER: "3"})
    with ScriptedServer([limited, Reply(200, DONE)]) as server:
        out = run(mode, server.url, get_video)
    assert out.error is None
    assert out.sleeps == [3.0]


def test_retry_after_ms_wins_over_retry_after(mode: str) -> None:
    headers = {limits.RETRY_AFTER_MS_HEADER: "1500", limits.RETRY_AFTER_HEADER: "10"}
    with ScriptedServer([fail(429, codes.RATE_LIMIT.code, **headers), Reply(200, DONE)]) as server:
        out = run(mode, server.url, get_video)
    assert out.error is None
    assert out.sleeps == [1.5]


def test_retry_after_as_http_date(mode: str) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    limited = fail(503, **{limits.RETRY_AFTER_HEADER: when})
    with ScriptedServer([limited, Reply(200, DONE)]) as server:
        out = run(mode, server.url, get_video)
    assert out.error is None
    assert len(out.sleeps) == 1 and 27 <= out.sleeps[0] <= 30


def test_retry_after_is_capped(mode: str) -> None:
    asked = SCHEDULE.max_retry_after * 5
    limited = fail(429, codes.RATE_LIMIT.code, **{limits.RETRY_AFTER_HEADER: f"{asked:g}"})
    with ScriptedServer([limited, Reply(200, DONE)]) as server:
        out = run(mode, server.url, get_video)
    assert out.error is None
    assert out.sleeps == [SCHEDULE.max_retry_after]


def test_unreadable_retry_after_falls_back_to_backoff(mode: str) -> None:
    limited = fail(429, codes.RATE_LIMIT.code, **{limits.RETRY_AFTER_HEADER: "soon"})
    with ScriptedServer([limited, Reply(200, DONE)]) as server:
        out = run(mode, server.url, get_video, retry=NO_JITTER)
    assert out.sleeps == [SCHEDULE.initial]


@pytest.mark.parametrize("header", [limits.RETRY_AFTER_HEADER, limits.RETRY_AFTER_MS_HEADER])
@pytest.mark.parametrize("value", ["-5", "-0.5", "nan"])
def test_a_negative_retry_after_is_ignored_for_the_backoff(
    mode: str, header: str, value: str
) -> None:
    limited = fail(429, codes.RATE_LIMIT.code, **{header: value})
    with ScriptedServer([limited, Reply(200, DONE)]) as server:
        out = run(mode, server.url, get_video, retry=NO_JITTER)
    assert out.error is None
    assert out.sleeps == [SCHEDULE.initial]


def test_a_retry_after_date_already_past_retries_at_once(mode: str) -> None:
    when = email.utils.formatdate(time.time() - 30, usegmt=True)
    with ScriptedServer([fail(503, **{limits.RETRY_AFTER_HEADER: when}), Reply(200, DONE)]) as s:
        out = run(mode, s.url, get_video, retry=NO_JITTER)
    assert out.error is None and out.sleeps == [0.0]


def test_rate_limit_error_carries_retry_after(mode: str) -> None:
    limited = fail(429, codes.RATE_LIMIT.code, **{limits.RETRY_AFTER_HEADER: "7"})
    with ScriptedServer([limited]) as server:
        out = run(mode, server.url, get_video, max_retries=0)
    error = out.raised(RateLimitError)
    assert error.retry_after == 7.0
    assert "Retry after 7 s" in str(error)


def test_get_retried_after_connection_reset(mode: str) -> None:
    with ScriptedServer([Reply(action="reset"), Reply(200, DONE)]) as server:
        out = run(mode, server.url, get_video)
    assert out.error is None and out.result.status == "completed"
    assert len(server.received) == 2
    assert len(out.sleeps) == 1


def test_get_retried_after_the_server_closes_without_answer(mode: str) -> None:
    with ScriptedServer([Reply(action="drop"), Reply(action="drop"), Reply(200, DONE)]) as server:
        out = run(mode, server.url, get_video)
    assert out.error is None
    assert len(server.received) == 3


def test_get_read_timeout_is_retried_then_reported(mode: str) -> None:
    with ScriptedServer([Reply(action="hang"), Reply(action="hang")]) as server:
        out = run(mode, server.url, get_video, max_retries=1, timeout=READ_TIMEOUT)
    error = out.raised(APITimeoutError)
    assert "after 2 attempts" in str(error)
    assert len(server.received) == 2 and len(out.sleeps) == 1


def test_connection_refused_is_reported_after_retries(mode: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    out = run(mode, url, get_video, retry=NO_JITTER)
    error = out.raised(APIConnectionError)
    assert not isinstance(error, APITimeoutError)
    assert out.sleeps == [SCHEDULE.initial * 2**n for n in range(SCHEDULE.retries)]
    assert KEY not in str(error)


# -- creates -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 503])
def test_create_retried_when_the_server_refused(mode: str, status: int) -> None:
    with ScriptedServer([fail(status), Reply(202, VIDEO)]) as server:
        out = run(mode, server.url, create_video)
    assert out.error is None and out.result.id == "vgen_1"
    assert len(server.received) == 2
    assert server.received[0].body == server.received[1].body


def test_create_not_retried_on_408(mode: str) -> None:
    with ScriptedServer([fail(408), Reply(202, VIDEO)]) as server:
        out = run(mode, server.url, create_video)
    out.raised(InvalidRequestError)
    assert len(server.received) == 1


def test_create_not_retried_once_sent_and_dropped(mode: str) -> None:
    with ScriptedServer([Reply(action="drop"), Reply(202, VIDEO)]) as server:
        out = run(mode, server.url, create_video)
    error = out.raised(JobMayExistError)
    assert len(server.received) == 1  # exactly one request reached the server
    assert out.sleeps == []
    text = str(error)
    assert "may have been created" in text and "id is unknown" in text
    assert "dashboard" in text and "/v1/video/generations/{id}" in text
    assert "no webhook_url was given" in text
    assert error.operation == "video.create_from_text"


def test_create_not_retried_after_reset(mode: str) -> None:
    with ScriptedServer([Reply(action="reset"), Reply(202, VIDEO)]) as server:
        out = run(mode, server.url, create_video)
    out.raised(JobMayExistError)
    assert len(server.received) == 1


def test_create_not_retried_after_read_timeout(mode: str) -> None:
    hook = "https://hooks.example/creativeai?token=secret-token"
    with ScriptedServer([Reply(action="hang"), Reply(202, VIDEO)]) as server:
        out = run(
            mode, server.url, lambda c: create_video(c, webhook_url=hook), timeout=READ_TIMEOUT
        )
    error = out.raised(JobMayExistError)
    assert len(server.received) == 1
    text = str(error)
    assert "ReadTimeout" in text and "webhook_url you gave" in text
    assert limits.DELIVERY_ID_HEADER in text
    assert "secret-token" not in text  # the webhook URL is not repeated


def test_batch_create_may_exist_message_names_the_batch(mode: str) -> None:
    with ScriptedServer([Reply(action="drop")]) as server:
        out = run(mode, server.url, lambda c: c.batches.create(["one", "two"]))
    error = out.raised(JobMayExistError)
    assert "batch may have been created" in str(error)
    assert "/v1/video/generations/batch/{batch_id}" in str(error)


def test_synchronous_create_may_exist_message_speaks_of_a_charge(mode: str) -> None:
    with ScriptedServer([Reply(action="drop")]) as server:
        out = run(mode, server.url, lambda c: c.images.generate(prompt="a garden"))
    error = out.raised(JobMayExistError)
    assert "second charge" in str(error)


def test_create_retried_when_the_connection_was_refused(mode: str) -> None:
    port = free_port()
    servers: list[ScriptedServer] = []

    def start_server(_: float) -> None:  # the first backoff brings the server up
        if not servers:
            servers.append(ScriptedServer([Reply(202, VIDEO)], port=port).__enter__())

    try:
        out = run(mode, f"http://127.0.0.1:{port}", create_video, on_sleep=start_server)
    finally:
        for server in servers:
            server.__exit__(None, None, None)
    assert out.error is None and out.result.id == "vgen_1"
    assert len(out.sleeps) == 1
    assert len(servers[0].received) == 1


def test_create_gives_up_after_the_retries(mode: str) -> None:
    script = [fail(503, codes.PROVIDER_UNAVAILABLE.code) for _ in range(4)]
    with ScriptedServer(script) as server:
        out = run(mode, server.url, create_video)
    out.raised(ProviderUnavailableError)
    assert len(server.received) == 1 + SCHEDULE.retries


def test_price_calculation_is_retried_like_a_get(mode: str) -> None:
    quote = {"model": "kling-o3-pro", "credits": 60}
    with ScriptedServer([Reply(action="drop"), Reply(200, quote)]) as server:
        out = run(mode, server.url, lambda c: c.prices.calculate(model="kling-o3-pro"))
    assert out.error is None and out.result.credits == 60
    assert len(server.received) == 2
