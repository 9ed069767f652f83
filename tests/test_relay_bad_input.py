"""Hostile input is never a 5xx: `/hooks/<token>`, the management API and the `/log/` pages,
against a relay served on 127.0.0.1 (both backends). Error answers are strict JSON."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector.catalog import limits
from connector.relay.testing import (
    PG_URL,
    RunningRelay,
    api_webhook,
    fast_config,
    running_relay,
    sqlite_url,
    video_payload,
)
from connector.webhooks import sign

KEY = "sk-bad-input-owner"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
HTTP = httpx.Client(timeout=10)
DEEP = 20_000
HUGE = "9" * 5000


@pytest.fixture(params=BACKENDS)
def relay(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningRelay]:
    if request.param == "sqlite":
        config = fast_config(sqlite_url(tmp_path))
    else:
        schema = request.getfixturevalue("pg_schema")
        config = fast_config(PG_URL, database_schema=schema)
    with running_relay(config, clean=True) as running:
        yield running


def strict_json(text: str | bytes) -> Any:
    """The JSON of an answer, refusing NaN and Infinity (not JSON)."""

    def refuse(constant: str) -> Any:
        raise AssertionError(f"{constant} in a JSON answer")

    return json.loads(text, parse_constant=refuse)


def _route(relay: RunningRelay) -> dict[str, Any]:
    with relay.api(KEY) as api:
        answer = api.post("/v1/routes", json={"target_url": "http://127.0.0.1:9/never"})
    assert answer.status_code == 201, answer.text
    route: dict[str, Any] = answer.json()
    return route


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def _signed_bodies() -> dict[str, bytes]:
    base = json.dumps(video_payload())
    return {
        "huge_integer": base[:-1].encode() + b', "credits": ' + HUGE.encode() + b"}",
        "huge_integer_id": base.replace('"id": "', '"id": ' + HUGE + ', "x": "', 1).encode(),
        "deep_nesting": base[:-1].encode() + b', "extra": ' + _deep(DEEP).encode() + b"}",
        "deep_object": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
        "nested_just_below_the_stack": base[:-1].encode()
        + b', "extra": '
        + _deep(990).encode()
        + b"}",
        "big_float": base[:-1].encode() + b', "credits": 1' + b"0" * 400 + b"}",
        "nan": base[:-1].encode() + b', "credits": NaN}',
    }


@pytest.mark.parametrize("name", list(_signed_bodies()))
def test_signed_webhooks_with_hostile_json_are_never_5xx(relay: RunningRelay, name: str) -> None:
    url = _route(relay)["webhook_url"]
    body = _signed_bodies()[name]
    headers = {
        "Content-Type": "application/json",
        limits.SIGNATURE_HEADER: sign(body, KEY),
        limits.EVENT_HEADER: "video.generation.completed",
    }
    answer = HTTP.post(url, content=body, headers=headers)
    assert answer.status_code < 500, (name, answer.status_code, answer.text)
    strict_json(answer.text)


def _api_bodies() -> list[tuple[str, bytes]]:
    target = '"target_url": "http://127.0.0.1:9/x"'
    return [
        ("deep", _deep(DEEP).encode()),
        ("deep_object", b'{"a":' * DEEP + b"1" + b"}" * DEEP),
        ("deep_field", b'{"events": ' + _deep(DEEP).encode() + b"}"),
        ("huge_integer", b'{"expires_in": ' + HUGE.encode() + b"}"),
        ("big_integer", b'{"expires_in": 1' + b"0" * 400 + b"}"),
        ("big_float", b'{"expires_in": 1' + b"0" * 400 + b".0}"),
        ("nan", b'{"expires_in": NaN, ' + target.encode() + b"}"),
        ("infinity", b'{"deadline": -Infinity, ' + target.encode() + b"}"),
        ("surrogate_id", b'{"expected_ids": ["\\ud800"], ' + target.encode() + b"}"),
        ("surrogate_ids", b'{"ids": ["\\udfff"]}'),
        ("surrogate_url", b'{"target_url": "http://127.0.0.1:9/\\ud800"}'),
        ("surrogate_key", b'{"\\ud800": 1}'),
        ("surrogate_since", b'{"since": "2026-01-01T00:00:00\\ud800"}'),
        ("surrogate_status", b'{"since": 5, "status": "\\ud800"}'),
    ]


API_POSTS = ("/v1/routes", "/v1/subscriptions", "/v1/deliveries/replay", "expected")


@pytest.mark.parametrize("path", API_POSTS)
@pytest.mark.parametrize(("name", "body"), _api_bodies(), ids=[n for n, _ in _api_bodies()])
def test_management_posts_with_hostile_json_are_never_5xx(
    relay: RunningRelay, path: str, name: str, body: bytes
) -> None:
    if path == "expected":
        with relay.api(KEY) as api:
            join = api.post("/v1/routes", json={"target_url": "http://127.0.0.1:9/j", "expect": 2})
        path = f"/v1/routes/{join.json()['route_id']}/expected"
    with relay.api(KEY) as api:
        answer = api.post(path, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code < 500, (path, name, answer.status_code, answer.text)
    assert answer.status_code == 400, (path, name, answer.status_code, answer.text)
    strict_json(answer.text)


QUERIES = [
    "/v1/deliveries?limit=\u00b2",
    "/v1/deliveries?limit=\u0661\u0662",
    "/v1/deliveries?limit=" + HUGE,
    "/v1/deliveries?since=\u0661\u0662",
    "/v1/deliveries?since=" + HUGE,
    "/v1/deliveries?since=1" + "0" * 400 + ".5",
    "/v1/deliveries?until=\u00b2",
    "/v1/deliveries?cursor=%ED%A0%80",
    "/v1/deliveries?route_id=%ED%A0%80",
    "/v1/deliveries/%ED%A0%80",
    "/v1/deliveries/%ED%A0%80/retry",
    "/v1/routes/%ED%A0%80",
    "/v1/subscriptions/%ED%A0%80",
]


@pytest.mark.parametrize("path", QUERIES)
def test_management_queries_with_odd_numbers_and_ids_are_never_5xx(
    relay: RunningRelay, path: str
) -> None:
    with relay.api(KEY) as api:
        api.get("/v1/inbox")  # the tenant exists
        method = "POST" if path.endswith("/retry") else "GET"
        answer = api.request(method, path)
    assert answer.status_code < 500, (path, answer.status_code, answer.text)
    if re.search(r"(limit|since|until)=", path):
        assert answer.status_code == 400, (path, answer.status_code, answer.text)
    strict_json(answer.text)


def test_an_answer_that_echoes_a_value_is_strict_json(relay: RunningRelay) -> None:
    with relay.api(KEY) as api:
        answer = api.post(
            "/v1/routes",
            content=b'{"target_url": "http://127.0.0.1:9/x", "expires_in": NaN}',
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code == 400
    error = strict_json(answer.text)["error"]
    assert error["code"] == "invalid_request"
    assert "NaN" in error["message"]


# -- malformed chunked framing, on raw sockets ------------------------------------------------


def _raw(relay: RunningRelay, request: bytes) -> bytes:
    port = httpx.URL(relay.url).port or 80
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def status_of(answer: bytes) -> int | None:
    """The status of a raw answer; None when the server just closed the connection."""
    if not answer:
        return None
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", answer)
    assert match, answer[:200]
    return int(match.group(1))


CHUNKINGS = {
    "bad_size": b"zz\r\n{}\r\n0\r\n\r\n",
    "no_terminator": b"2\r\n{}",
    "short_chunk": b"10\r\n{}\r\n0\r\n\r\n",
    "no_crlf_after_data": b"2\r\n{}XX0\r\n\r\n",
    "huge_size": b"ffffffffffffffffffff\r\n{}\r\n0\r\n\r\n",
    "negative_size": b"-2\r\n{}\r\n0\r\n\r\n",
    "non_ascii_size": "\u00b2\r\n{}\r\n0\r\n\r\n".encode(),
}


def _chunked(path: str, framing: bytes, extra: list[bytes]) -> bytes:
    head = [f"POST {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", b"Connection: close"]
    head += [b"Content-Type: application/json", b"Transfer-Encoding: chunked", *extra]
    return b"\r\n".join(head) + b"\r\n\r\n" + framing


@pytest.mark.parametrize("framing", list(CHUNKINGS))
def test_malformed_chunked_framing_is_never_5xx(relay: RunningRelay, framing: str) -> None:
    hook = httpx.URL(_route(relay)["webhook_url"]).raw_path.decode()
    body = CHUNKINGS[framing]
    signature = f"{limits.SIGNATURE_HEADER}: {sign(b'{}', KEY)}".encode()
    auth = f"Authorization: Bearer {KEY}".encode()
    for path, extra in ((hook, [signature]), ("/v1/routes", [auth]), ("/v1/subscriptions", [auth])):
        answer = _raw(relay, _chunked(path, body, extra))
        status = status_of(answer)
        assert status is None or status < 500, (framing, path, answer[:300])
        if status is not None:
            strict_json(answer.split(b"\r\n\r\n", 1)[1])


# -- the /log/ pages ---------------------------------------------------------------------------


@contextmanager
def _signed_in(relay: RunningRelay) -> Iterator[httpx.Client]:
    with relay.api(KEY) as api:
        api.get("/v1/inbox")
    with httpx.Client(base_url=relay.url, timeout=10, headers={"Origin": relay.url}) as client:
        answer = client.post("/log/login", data={"api_key": KEY})
        assert answer.status_code == 303, answer.text
        yield client


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


@pytest.mark.parametrize(
    "query",
    [
        "limit=\u00b2",
        "limit=\u0661",
        "limit=" + HUGE,
        "since=\u00b2",
        "since=" + HUGE,
        "until=\u0661\u0662",
        "cursor=%ED%A0%80",
        "event=%ED%A0%80",
        "status=%00",
    ],
)
def test_pages_with_odd_query_numbers_are_never_5xx(relay: RunningRelay, query: str) -> None:
    with _signed_in(relay) as client:
        answer = client.get(f"/log/?{query}")
    assert answer.status_code == 400, (query, answer.status_code)


def test_a_non_ascii_csrf_token_is_403(relay: RunningRelay) -> None:
    url = _route(relay)["webhook_url"]
    body, headers = api_webhook(video_payload(), KEY)
    assert HTTP.post(url, content=body, headers=headers).status_code == 202
    with _signed_in(relay) as client:
        with relay.api(KEY) as api:
            delivery_id = api.get("/v1/deliveries").json()["data"][0]["id"]
        page = client.get(f"/log/deliveries/{delivery_id}").text
        token = _csrf(page)
        for bad in ("\u00e9" * len(token), token[:-1] + "\u00e9", "\ud800"):
            answer = client.post(
                f"/log/deliveries/{delivery_id}/retry",
                content=f"csrf_token={bad}".encode("utf-8", "surrogatepass"),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert answer.status_code == 403, (bad, answer.status_code)
        logout = client.post("/log/logout", data={"csrf_token": "\u00e9"})
        assert logout.status_code == 403
        ok = client.post(f"/log/deliveries/{delivery_id}/retry", data={"csrf_token": token})
        assert ok.status_code == 303


def test_pages_with_malformed_chunked_forms_are_never_5xx(relay: RunningRelay) -> None:
    with _signed_in(relay) as client:
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    for framing in CHUNKINGS.values():
        head = [
            b"POST /log/logout HTTP/1.1",
            b"Host: 127.0.0.1",
            b"Connection: close",
            f"Origin: {relay.url}".encode(),
            f"Cookie: {cookie}".encode(),
            b"Content-Type: application/x-www-form-urlencoded",
            b"Transfer-Encoding: chunked",
        ]
        answer = _raw(relay, b"\r\n".join(head) + b"\r\n\r\n" + framing)
        status = status_of(answer)
        assert status is None or status < 500, answer[:300]
