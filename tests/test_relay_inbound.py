"""`POST /hooks/<token>`: every answer, against a relay served on 127.0.0.1 (both backends)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector.catalog import limits
from connector.relay.storage import DeliveryFilter, DeliveryStatus
from connector.relay.testing import (
    PG_URL,
    RunningRelay,
    api_webhook,
    batch_payload,
    fast_config,
    running_relay,
    sqlite_url,
    video_payload,
)
from connector.relay.tokens import Claims, TokenSealer
from connector.webhooks import sign

KEY = "sk-inbound-test-key"
OTHER_KEY = "sk-someone-else"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def relay(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningRelay]:
    if request.param == "sqlite":
        config = fast_config(sqlite_url(tmp_path), max_body_bytes=4096)
    else:
        schema = request.getfixturevalue("pg_schema")
        config = fast_config(PG_URL, database_schema=schema, max_body_bytes=4096)
    with running_relay(config, clean=True) as running:
        yield running


def _route(relay: RunningRelay, key: str = KEY, **fields: Any) -> dict[str, Any]:
    fields.setdefault("target_url", "http://127.0.0.1:9/never-called")
    with relay.api(key) as api:
        answer = api.post("/v1/routes", json=fields)
    assert answer.status_code == 201, answer.text
    route: dict[str, Any] = answer.json()
    return route


HTTP = httpx.Client(timeout=10)  # one client: making one per request costs an SSL context


def _post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return HTTP.post(url, content=body, headers=headers)


def _deliveries(relay: RunningRelay, key: str = KEY) -> list[dict[str, Any]]:
    with relay.api(key) as api:
        answer = api.get("/v1/deliveries")
    assert answer.status_code == 200
    items: list[dict[str, Any]] = answer.json()["data"]
    return items


def test_a_signed_webhook_is_stored_verbatim_with_one_delivery(relay: RunningRelay) -> None:
    route = _route(relay)
    payload = video_payload()
    body, headers = api_webhook(payload, KEY)
    body = body.replace(b", ", b" ,  ")  # odd but valid JSON spacing must survive untouched
    headers[limits.SIGNATURE_HEADER] = sign(body, KEY)
    answer = _post(route["webhook_url"], body, headers)
    assert answer.status_code == 202
    accepted = answer.json()
    assert accepted["accepted"] is True
    assert accepted["deliveries"] == 1
    (delivery,) = _deliveries(relay)
    assert delivery["status"] == "pending"
    assert delivery["event"] == "video.generation.completed"
    assert delivery["delivery_id"] == payload["id"]
    assert delivery["route_id"] == route["route_id"]
    stored = relay.relay.storage.event_body(
        relay.relay.sealer.open(route["webhook_url"].rsplit("/", 1)[1]).tenant, accepted["event_id"]
    )
    assert stored is not None
    assert stored[0] == body
    assert limits.SIGNATURE_HEADER.lower() not in {h.lower() for h in stored[1]}


def test_a_duplicate_answers_200_and_forwards_nothing_more(relay: RunningRelay) -> None:
    route = _route(relay)
    body, headers = api_webhook(video_payload(), KEY)
    first = _post(route["webhook_url"], body, headers)
    second = _post(route["webhook_url"], body, headers)
    assert first.status_code == 202
    assert second.status_code == 200
    assert second.json() == {"duplicate": True, "event_id": first.json()["event_id"]}
    assert len(_deliveries(relay)) == 1
    # A different terminal status of the same job is a different event.
    failed = video_payload(json.loads(body)["id"], state="failed")
    body2, headers2 = api_webhook(failed, KEY)
    assert _post(route["webhook_url"], body2, headers2).status_code == 202
    assert len(_deliveries(relay)) == 2


def test_dedup_is_on_the_signed_body_not_on_the_delivery_id_header(relay: RunningRelay) -> None:
    """The signature covers the body only: a captured body re-posted under a fresh
    X-CreativeAI-Delivery-Id is refused (400 naming the header), never forwarded again."""
    route = _route(relay)
    payload = video_payload()
    body, headers = api_webhook(payload, KEY)
    assert _post(route["webhook_url"], body, headers).status_code == 202
    replayed = _post(route["webhook_url"], body, {**headers, limits.DELIVERY_ID_HEADER: "fresh"})
    assert replayed.status_code == 400, replayed.text
    message = replayed.json()["error"]["message"]
    assert limits.DELIVERY_ID_HEADER in message and "'fresh'" in message, message
    unnamed = {k: v for k, v in headers.items() if k != limits.DELIVERY_ID_HEADER}
    again = _post(route["webhook_url"], body, unnamed)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    batch = batch_payload("batch_dedup", ["completed"])
    body, headers = api_webhook(batch, KEY)
    told = _post(route["webhook_url"], body, {**headers, limits.DELIVERY_ID_HEADER: "vid_x"})
    assert told.status_code == 400 and "batch_id" in told.json()["error"]["message"]
    assert _post(route["webhook_url"], body, headers).status_code == 202
    assert len(_deliveries(relay)) == 2


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        "A" * 80,
        "x" * 600,
        "AQ" + "_" * 60,
        "%2e%2e",
    ],
)
def test_unknown_or_forged_tokens_are_404(relay: RunningRelay, token: str) -> None:
    body, headers = api_webhook(video_payload(), KEY)
    answer = _post(f"{relay.url}/hooks/{token}", body, headers)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] in ("unknown_token", "not_found")


def test_a_token_sealed_with_another_key_is_404(relay: RunningRelay) -> None:
    foreign = TokenSealer([TokenSealer.generate_key()])
    token = foreign.seal(Claims("tenant", "t", "t", KEY, None))
    body, headers = api_webhook(video_payload(), KEY)
    assert _post(f"{relay.url}/hooks/{token}", body, headers).status_code == 404


def test_an_altered_token_is_404(relay: RunningRelay) -> None:
    url = _route(relay)["webhook_url"]
    flipped = url[:-3] + ("A" if url[-3] != "A" else "B") + url[-2:]
    body, headers = api_webhook(video_payload(), KEY)
    assert _post(flipped, body, headers).status_code == 404


def test_an_expired_token_is_410(relay: RunningRelay) -> None:
    route = _route(relay)
    claims = relay.relay.sealer.open(route["webhook_url"].rsplit("/", 1)[1])
    expired = relay.relay.sealer.seal(
        Claims("route", claims.id, claims.tenant, KEY, time.time() - 1)
    )
    body, headers = api_webhook(video_payload(), KEY)
    answer = _post(f"{relay.url}/hooks/{expired}", body, headers)
    assert answer.status_code == 410
    assert answer.json()["error"]["code"] == "expired"


def test_a_deleted_route_is_410(relay: RunningRelay) -> None:
    route = _route(relay)
    with relay.api(KEY) as api:
        assert api.delete(f"/v1/routes/{route['route_id']}").status_code == 204
    body, headers = api_webhook(video_payload(), KEY)
    assert _post(route["webhook_url"], body, headers).status_code == 410


def test_a_body_over_the_limit_is_413_by_length_and_by_reading(relay: RunningRelay) -> None:
    url = _route(relay)["webhook_url"]
    payload = video_payload()
    payload["prompt"] = "x" * 5000
    body, headers = api_webhook(payload, KEY)
    assert _post(url, body, headers).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    answer = HTTP.post(url, content=chunks(), headers=headers)
    assert answer.status_code == 413
    assert _deliveries(relay) == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_a_body_that_is_not_json_by_type_is_415(relay: RunningRelay, content_type: str) -> None:
    url = _route(relay)["webhook_url"]
    body, headers = api_webhook(video_payload(), KEY)
    headers["Content-Type"] = content_type
    answer = _post(url, body, headers)
    assert answer.status_code == 415
    assert "application/json" in answer.json()["error"]["message"]


def test_json_with_a_charset_is_accepted(relay: RunningRelay) -> None:
    url = _route(relay)["webhook_url"]
    body, headers = api_webhook(video_payload(), KEY)
    headers["Content-Type"] = "application/json; charset=utf-8"
    assert _post(url, body, headers).status_code == 202


def _forgeries(body: bytes) -> list[tuple[str, dict[str, str | bytes], bytes]]:
    other = body.replace(b"completed", b"failed", 1)
    return [
        ("missing", {}, body),
        ("empty", {limits.SIGNATURE_HEADER: ""}, body),
        ("other key", {limits.SIGNATURE_HEADER: sign(body, OTHER_KEY)}, body),
        ("altered body", {limits.SIGNATURE_HEADER: sign(body, KEY)}, other),
        ("truncated", {limits.SIGNATURE_HEADER: sign(body, KEY)[:-2]}, body),
        ("no prefix", {limits.SIGNATURE_HEADER: sign(body, KEY).split("=", 1)[1]}, body),
        ("garbage", {limits.SIGNATURE_HEADER: "sha256=zz\u00e9".encode()}, body),
    ]


def test_bad_or_missing_signatures_are_401_and_store_nothing(relay: RunningRelay) -> None:
    url = _route(relay)["webhook_url"]
    body, base = api_webhook(video_payload(), KEY)
    for name, signature, sent in _forgeries(body):
        merged: dict[str, str | bytes] = {
            k: v for k, v in base.items() if k != limits.SIGNATURE_HEADER
        }
        merged.update(signature)
        headers = [
            (k.encode(), v if isinstance(v, bytes) else v.encode()) for k, v in merged.items()
        ]
        answer = HTTP.post(url, content=sent, headers=headers)
        assert answer.status_code == 401, name
        assert answer.json()["error"]["code"] == "bad_signature", name
    assert _deliveries(relay) == []


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1, 2]",
        b'{"object": "video.generation"}',
        b'{"id": "vgen_1", "object": "video.generation", "status": "exploded"}',
        b'{"id": 5, "object": "video.generation", "status": "completed"}',
        b"\xff\xfe{}",
    ],
)
def test_malformed_events_are_400(relay: RunningRelay, raw: bytes) -> None:
    url = _route(relay)["webhook_url"]
    headers = {"Content-Type": "application/json", limits.SIGNATURE_HEADER: sign(raw, KEY)}
    answer = _post(url, raw, headers)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "malformed"


def test_an_event_outside_the_routes_filter_is_stored_but_not_forwarded(
    relay: RunningRelay,
) -> None:
    url = _route(relay, events=["video.generation.failed"])["webhook_url"]
    body, headers = api_webhook(video_payload(), KEY)
    answer = _post(url, body, headers)
    assert answer.status_code == 202
    assert answer.json()["deliveries"] == 0


def _subscribe(relay: RunningRelay, **fields: Any) -> dict[str, Any]:
    fields.setdefault("target_url", "http://127.0.0.1:9/sub")
    with relay.api(KEY) as api:
        answer = api.post("/v1/subscriptions", json=fields)
    assert answer.status_code == 201, answer.text
    sub: dict[str, Any] = answer.json()
    return sub


def test_the_tenant_inbox_fans_out_to_every_matching_subscription(relay: RunningRelay) -> None:
    every = _subscribe(relay)
    videos = _subscribe(relay, events=["video.*"])
    failures = _subscribe(relay, events=["video.generation.failed"])
    with relay.api(KEY) as api:
        inbox = api.get("/v1/inbox").json()["webhook_url"]
    body, headers = api_webhook(video_payload(), KEY)
    answer = _post(inbox, body, headers)
    assert answer.status_code == 202
    assert answer.json()["deliveries"] == 2
    targets = {d["subscription_id"] for d in _deliveries(relay)}
    assert targets == {every["id"], videos["id"]}
    assert failures["id"] not in targets
    # Another tenant's inbox and subscriptions are separate.
    assert _deliveries(relay, OTHER_KEY) == []


def test_a_batch_fans_out_one_delivery_per_job_when_asked(relay: RunningRelay) -> None:
    whole = _subscribe(relay)
    fanned = _subscribe(relay, fan_out_batch=True)
    with relay.api(KEY) as api:
        inbox = api.get("/v1/inbox").json()["webhook_url"]
    payload = batch_payload("batch_1", ["completed", "failed", "completed"])
    body, headers = api_webhook(payload, KEY)
    answer = _post(inbox, body, headers)
    assert answer.status_code == 202
    assert answer.json()["deliveries"] == 4
    page = relay.relay.storage.list_deliveries(
        relay.relay.sealer.open(inbox.rsplit("/", 1)[1]).tenant,
        DeliveryFilter(subscription_id=fanned["id"]),
    )
    parts = sorted(page.items, key=lambda d: d.api_delivery_id)
    assert [d.api_delivery_id for d in parts] == [j["id"] for j in payload["jobs"]]
    assert [d.event_name for d in parts] == [
        "video.generation.completed",
        "video.generation.failed",
        "video.generation.completed",
    ]
    first = json.loads(parts[0].payload or b"")
    assert first["batch_id"] == "batch_1"
    assert first["output_url"] == payload["jobs"][0]["output_url"]
    assert len({d.message_id for d in parts}) == 3
    assert all(d.status is DeliveryStatus.PENDING for d in parts)
    assert any(d["subscription_id"] == whole["id"] for d in _deliveries(relay))


def test_odd_requests_never_get_a_5xx(relay: RunningRelay) -> None:
    url = _route(relay)["webhook_url"]
    body, headers = api_webhook(video_payload(), KEY)
    odd: list[tuple[str, bytes, dict[str, str]]] = [
        ("POST", b"", {"Content-Type": "application/json"}),
        ("POST", body, {**headers, limits.EVENT_HEADER: "x" * 300}),
        ("POST", body, {**headers, limits.EVENT_HEADER: "noperiod"}),
        ("POST", body, {**headers, limits.DELIVERY_ID_HEADER: "d" * 300}),
        ("GET", b"", {}),
        ("PUT", body, headers),
    ]
    for method, content, sent in odd:
        try:
            answer = HTTP.request(method, url, content=content, headers=sent)
        except httpx.HTTPError:
            continue  # the server may close a connection whose length it cannot trust
        assert answer.status_code < 500, (method, sent, answer.status_code)


def test_other_methods_are_405_and_deeper_paths_404(relay: RunningRelay) -> None:
    route = _route(relay)
    answer = HTTP.get(route["webhook_url"])
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"
    assert answer.json()["error"]["code"] == "method_not_allowed"
    body, headers = api_webhook(video_payload(), KEY)
    for url in (route["webhook_url"] + "/more", f"{relay.url}/hooks/", f"{relay.url}/hooks"):
        assert _post(url, body, headers).status_code == 404, url
    assert _deliveries(relay) == []


def test_a_body_shorter_than_its_length_is_400(relay: RunningRelay) -> None:
    route = _route(relay)
    body, headers = api_webhook(video_payload(), KEY)
    head = [f"POST {httpx.URL(route['webhook_url']).raw_path.decode()} HTTP/1.1"]
    head += ["Host: 127.0.0.1", "Connection: close", f"Content-Length: {len(body) + 50}"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    port = httpx.URL(relay.url).port or 80
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.split(b"\r\n", 1)[0].split()[1] == b"400", answer[:300]
    assert b'"malformed"' in answer
    assert _deliveries(relay) == []


def _raw_post(relay: RunningRelay, url: str, body: bytes, headers: list[bytes]) -> bytes:
    """POST with header lines sent as given (httpx refuses to send some of them)."""
    head = [f"POST {httpx.URL(url).raw_path.decode()} HTTP/1.1".encode(), b"Host: 127.0.0.1"]
    head += [b"Connection: close", f"Content-Length: {len(body)}".encode(), *headers]
    port = httpx.URL(relay.url).port or 80
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"\r\n".join(head) + b"\r\n\r\n" + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize(
    "line",
    [
        b"X-CreativeAI-Note: a\x00b",
        "X-CreativeAI-Note: caf\u00e9".encode(),
        b"X-CreativeAI-Note: \x01",
        "X-CreativeAI-Event: video.generation.compl\u00e9ted".encode(),
    ],
    ids=["nul", "utf8", "control", "event"],
)
def test_headers_that_cannot_be_forwarded_are_400_naming_the_header(
    relay: RunningRelay, line: bytes
) -> None:
    """Accepted, such a webhook would only be dead after every attempt: the forwarded
    request cannot carry the value as a header."""
    route = _route(relay)
    body, headers = api_webhook(video_payload(), KEY)
    lines = [f"{k}: {v}".encode() for k, v in headers.items() if k != limits.EVENT_HEADER]
    if not line.startswith(limits.EVENT_HEADER.encode()):
        lines.append(f"{limits.EVENT_HEADER}: {headers[limits.EVENT_HEADER]}".encode())
    answer = _raw_post(relay, route["webhook_url"], body, [*lines, line])
    assert answer.split(b"\r\n", 1)[0].split()[1] == b"400", answer[:300]
    error = json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]
    named = line.split(b":", 1)[0].decode().lower()
    assert named in error["message"].lower() or "event name" in error["message"], error
    assert _deliveries(relay) == []


def _with_job_id(batch: dict[str, Any], job_id: str) -> dict[str, Any]:
    batch["jobs"][0]["id"] = job_id
    return batch


@pytest.mark.parametrize(
    "payload",
    [
        {**video_payload(), "id": "vgen_caf\u00e9"},
        {**video_payload(), "id": "vgen_\ud800"},
        {**video_payload(), "id": "vgen_\u0000"},
        _with_job_id(batch_payload("batch_1", ["completed"]), "vid_\ud800"),
    ],
    ids=["non_ascii_id", "lone_surrogate_id", "nul_id", "job_id"],
)
def test_ids_that_cannot_travel_as_headers_are_400(
    relay: RunningRelay, payload: dict[str, Any]
) -> None:
    route = _route(relay, fan_out_batch=True)
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        limits.SIGNATURE_HEADER: sign(body, KEY),
        limits.EVENT_HEADER: "video.batch.completed"
        if "batch_id" in payload
        else "video.generation.completed",
    }
    answer = _post(route["webhook_url"], body, headers)
    assert answer.status_code == 400, answer.text
    assert "id" in answer.json()["error"]["message"]
    assert _deliveries(relay) == []


def test_a_failing_database_is_a_500_that_names_nothing(
    relay: RunningRelay, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    route = _route(relay)

    def broken(work: object) -> object:
        raise OSError("disk I/O error at /secret/path")

    monkeypatch.setattr(relay.relay.storage, "write", broken)
    body, headers = api_webhook(video_payload(), KEY)
    answer = _post(route["webhook_url"], body, headers)
    assert answer.status_code == 500
    assert answer.json() == {"error": {"code": "internal", "message": "the relay failed"}}
    token = route["webhook_url"].rsplit("/", 1)[1]
    failed = [r for r in caplog.records if r.getMessage() == "request failed"]
    assert failed and failed[-1].fields["error"] == "OSError"  # type: ignore[attr-defined]
    assert token not in caplog.text and "/secret/path" not in caplog.text
