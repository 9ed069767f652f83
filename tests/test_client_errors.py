"""Error answers become typed errors with messages a builder can act on; input is checked first."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from test_client_support import KEY, Reply, ScriptedServer, run

from connector.catalog import CATALOG, InvalidInput, limits
from connector.catalog import errors as codes
from connector.client import (
    APIError,
    AuthenticationError,
    ContentPolicyError,
    CreativeAI,
    CreativeAIError,
    InsufficientCreditsError,
    InvalidRequestError,
    NotFoundError,
    ProviderUnavailableError,
    RateLimitError,
    RedirectError,
    ServerError,
    UnexpectedResponseError,
    UnprocessableError,
)
from connector.client.errors import ERROR_CLASSES


def voice(client: Any) -> Any:
    return client.voice.create(text="Hello there")


def answer_once(mode: str, reply: Reply, action: Any = voice) -> tuple[Any, ScriptedServer]:
    with ScriptedServer([reply]) as server:
        out = run(mode, server.url, action, max_retries=0)
    return out.error, server


def test_every_catalog_code_has_its_own_class() -> None:
    assert set(ERROR_CLASSES) == set(codes.BY_CODE)
    assert len(set(ERROR_CLASSES.values())) == len(codes.ALL)
    for code, cls in ERROR_CLASSES.items():
        assert issubclass(cls, APIError) and cls.error_code.code == code


@pytest.mark.parametrize("known", codes.ALL, ids=lambda e: e.code)
def test_each_error_code_maps_to_its_class_with_the_catalog_words(
    mode: str, known: codes.ErrorCode
) -> None:
    body = {
        "error": {
            "code": known.code,
            "message": "Something about the prompt",
            "type": "invalid_request_error",
            "param": "prompt",
        }
    }
    error, server = answer_once(mode, Reply(known.http_status, body))
    assert type(error) is ERROR_CLASSES[known.code]
    assert error.status == known.http_status
    assert error.code == known.code and error.param == "prompt"
    assert error.type == "invalid_request_error"
    assert error.message == "Something about the prompt"
    text = str(error)
    assert known.title in text and known.advice in text
    assert "prompt: Something about the prompt" in text
    assert f"HTTP {known.http_status}" in text
    assert CATALOG.operation("voice.create").label in text
    assert len(server.received) == 1  # max_retries=0


def test_the_body_code_wins_over_the_status(mode: str) -> None:
    body = {"error": {"code": codes.INSUFFICIENT_CREDITS.code, "message": "Top up"}}
    error, _ = answer_once(mode, Reply(400, body))
    assert isinstance(error, InsufficientCreditsError) and error.status == 400


def test_content_policy_is_a_400_with_its_own_class(mode: str) -> None:
    body = {
        "error": {
            "code": "content_policy_violation",
            "message": "Your request was rejected because it may generate content that violates "
            "our usage policy.",
            "type": "invalid_request_error",
            "param": "prompt",
        }
    }
    error, _ = answer_once(mode, Reply(400, body))
    assert isinstance(error, ContentPolicyError)
    assert not isinstance(error, InvalidRequestError)
    assert "Rephrase" in str(error)


@pytest.mark.parametrize(
    "status, cls",
    [
        (400, InvalidRequestError),
        (401, AuthenticationError),
        (402, InsufficientCreditsError),
        (404, NotFoundError),
        (422, UnprocessableError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ProviderUnavailableError),
        (418, InvalidRequestError),
    ],
)
def test_without_a_code_the_status_decides(mode: str, status: int, cls: type[APIError]) -> None:
    error, _ = answer_once(mode, Reply(status, b"<html>Bad Gateway</html>"))
    assert type(error) is cls
    assert error.code is None
    assert "<html>Bad Gateway</html>" in error.message


def test_an_unknown_code_keeps_the_code_and_follows_the_status(mode: str) -> None:
    body = {"error": {"code": "quota_frozen", "message": "Frozen"}}
    error, _ = answer_once(mode, Reply(403, body))
    assert type(error) is InvalidRequestError
    assert error.code == "quota_frozen" and "quota_frozen" in str(error)


def test_legacy_string_error_body(mode: str) -> None:
    error, _ = answer_once(mode, Reply(401, {"error": "Invalid API key provided"}))
    assert isinstance(error, AuthenticationError)
    assert error.message == "Invalid API key provided"
    assert codes.AUTHENTICATION.advice in str(error)


def test_flat_code_and_message_body_with_legacy_error(mode: str) -> None:
    body = {"code": "rate_limit_exceeded", "message": "Slow down", "error": "Slow down"}
    error, _ = answer_once(mode, Reply(429, body, headers={limits.RETRY_AFTER_HEADER: "2"}))
    assert isinstance(error, RateLimitError)
    assert error.message == "Slow down" and error.retry_after == 2.0


def test_the_key_is_redacted_from_quoted_messages(mode: str) -> None:
    body = {"error": {"code": "authentication_error", "message": f"Bearer {KEY} is revoked"}}
    error, _ = answer_once(mode, Reply(401, body))
    assert KEY not in str(error) and KEY not in error.message
    assert "Bearer *** is revoked" in error.message


def test_a_key_the_server_echoes_is_kept_nowhere_in_the_error(mode: str) -> None:
    body = {
        "error": {"code": "authentication_error", "message": "revoked", "key": KEY},
        "request": {"headers": [f"Authorization: Bearer {KEY}"], KEY: 1},
    }
    echo = {"X-Echo-Authorization": f"Bearer {KEY}"}
    error, _ = answer_once(mode, Reply(401, body, headers=echo))
    assert isinstance(error, AuthenticationError)
    kept = json.dumps(error.body) + str(error) + repr(list(error.headers.multi_items()))
    assert KEY not in kept
    assert error.body["error"]["key"] == "***" and error.headers["x-echo-authorization"] == (
        "Bearer ***"
    )


def test_a_key_echoed_in_an_unreadable_success_is_not_kept(mode: str) -> None:
    error, _ = answer_once(mode, Reply(202, {"status": "PENDING", "echo": KEY}))
    assert isinstance(error, UnexpectedResponseError)
    assert KEY not in error.body + str(error) and '"echo": "***"' in error.body


def test_a_key_echoed_in_a_plain_text_error_is_not_kept(mode: str) -> None:
    error, _ = answer_once(mode, Reply(500, f"upstream refused key {KEY}"))
    assert KEY not in str(error) + error.message + repr(error.body)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_reported_as_one_not_as_an_invalid_request(mode: str, status: int) -> None:
    moved = Reply(status, b"", headers={"Location": "https://api.example/v1/x"})
    error, server = answer_once(mode, moved)
    assert isinstance(error, RedirectError) and error.status == status
    text = str(error)
    assert "Invalid request" not in text and "missing or invalid" not in text
    assert "https://api.example/v1/x" in text and "base URL" in text
    assert len(server.received) == 1  # not followed


def test_the_key_never_reaches_reprs_or_logs(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    script = [Reply(503), Reply(202, {"id": "voice_1", "status": "PENDING"})]
    with ScriptedServer(script) as server:
        out = run(mode, server.url, lambda c: (repr(c), voice(c)) if mode == "sync" else voice(c))
        assert server.received[0].header("Authorization") == f"Bearer {KEY}"
    assert out.error is None
    assert caplog.records  # the retry was logged...
    assert KEY not in caplog.text  # ...without the key
    client = CreativeAI(api_key=KEY, base_url=server.url)
    assert KEY not in repr(client) and KEY not in repr(client._settings)
    client.close()


def test_a_success_with_an_unreadable_body_says_the_job_probably_exists(mode: str) -> None:
    error, _ = answer_once(mode, Reply(202, {"status": "PENDING"}))
    assert isinstance(error, UnexpectedResponseError)
    assert "probably started" in str(error) and error.status == 202


# -- input checked before any request --------------------------------------------------------


@pytest.mark.parametrize(
    "action, field, words",
    [
        (lambda c: c.videos.create(prompt="x", duration=99), "duration", "from 3 to 15"),
        (lambda c: c.voice.create(text="hi", voice="robot"), "voice", "one of alloy"),
        (lambda c: c.voice.create(text=""), "text", "1 to 5,000 characters"),
        (lambda c: c.videos.create(prompt="x", colour="red"), "colour", "not a field here"),
        (lambda c: c.videos.create(prompt="x", image_url="ftp://x"), "image_url", "http(s) URL"),
        (lambda c: c.compose.create(video_url="https://a/v.mp4"), "audio_url", "is required"),
        (lambda c: c.charts.create(title="Q4"), "chart_image_url or chart_data", "exactly one"),
        (lambda c: c.videos.get(""), "id", "non-empty text"),
        (lambda c: c.call("video.get", id="v", extra=1), "extra", "allowed: id"),
    ],
)
def test_invalid_input_is_refused_before_any_request(
    mode: str, action: Any, field: str, words: str
) -> None:
    with ScriptedServer([]) as server:
        out = run(mode, server.url, action)
    error = out.raised(InvalidInput)
    assert error.param == field
    assert words in str(error)
    assert server.received == []


def test_invalid_input_is_a_creativeai_error_and_a_value_error() -> None:
    assert issubclass(InvalidInput, ValueError)
    assert issubclass(InvalidInput, CreativeAIError)


def test_unknown_operation_names_the_known_ones(mode: str) -> None:
    with ScriptedServer([]) as server:
        out = run(mode, server.url, lambda c: c.call("video.destroy"))
    error = out.raised(KeyError)
    assert "video.create_from_text" in str(error)
    assert set(CATALOG.operations) >= {"video.get"}


def test_one_except_catches_everything_a_call_can_raise(mode: str) -> None:
    from connector.client import CreativeAIError

    with ScriptedServer([]) as server:
        out = run(mode, server.url, lambda c: c.voice.create(text=""))
    assert isinstance(out.error, InvalidInput) and isinstance(out.error, CreativeAIError)
    assert isinstance(out.error, ValueError)  # as before
    assert server.received == []


def test_the_catalog_gets_the_root_error_without_importing_the_client() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, connector.catalog as c, connector.errors as e\n"
        "assert issubclass(c.InvalidInput, e.CreativeAIError)\n"
        "sys.exit(any(k.startswith('connector.client') for k in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    from connector import errors
    from connector.client import CreativeAIError

    assert CreativeAIError is errors.CreativeAIError
