"""Forwarding: retries, dead letters, target semantics and joins, against local targets
that fail on purpose (5xx, 429 + Retry-After, timeouts, resets, 409, 410, redirects).

The schedule is scaled to hundredths of a second; waits poll a condition."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector.catalog import limits
from connector.relay import signing
from connector.relay.ssrf import TargetPolicy
from connector.relay.storage import DeliveryStatus
from connector.relay.testing import (
    PG_URL,
    Reply,
    RunningRelay,
    Target,
    api_webhook,
    batch_payload,
    fast_config,
    reset_server,
    running_relay,
    running_target,
    sqlite_url,
    video_payload,
    wait_until,
)
from connector.relay.worker import Forwarder, Schedule, honour_retry_after

KEY = "sk-worker-test-key"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
HTTP = httpx.Client(timeout=10)


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    if request.param == "sqlite":
        return {"database_url": sqlite_url(tmp_path)}
    return {"database_url": PG_URL, "database_schema": request.getfixturevalue("pg_schema")}


@pytest.fixture
def target() -> Iterator[Target]:
    with running_target() as running:
        yield running


def _relay(database: dict[str, Any], **changes: Any) -> Any:
    changes.setdefault("embedded_worker", True)
    return running_relay(fast_config(**database, **changes), clean=True)


@pytest.fixture
def relay(database: dict[str, Any]) -> Iterator[RunningRelay]:
    with _relay(database) as running:
        yield running


def _route(relay: RunningRelay, target_url: str, **fields: Any) -> dict[str, Any]:
    with relay.api(KEY) as api:
        answer = api.post("/v1/routes", json={"target_url": target_url, **fields})
    assert answer.status_code == 201, answer.text
    route: dict[str, Any] = answer.json()
    return route


def _send(url: str, payload: dict[str, Any]) -> tuple[bytes, httpx.Response]:
    body, headers = api_webhook(payload, KEY)
    answer = HTTP.post(url, content=body, headers=headers)
    assert answer.status_code in (200, 202), answer.text
    return body, answer


def _delivery(relay: RunningRelay, status: str | None = None) -> dict[str, Any]:
    """The tenant's only delivery, with its attempts, once it reaches `status`."""

    def check() -> dict[str, Any] | None:
        with relay.api(KEY) as api:
            items = api.get("/v1/deliveries").json()["data"]
            if len(items) != 1 or (status and items[0]["status"] != status):
                return None
            detail: dict[str, Any] = api.get(f"/v1/deliveries/{items[0]['id']}").json()
            return detail

    found: dict[str, Any] = wait_until(check)
    return found


def test_the_forwarded_request_is_verbatim_and_signed_standard_webhooks(
    relay: RunningRelay, target: Target
) -> None:
    route = _route(relay, target.url + "/resume/abc?signature=s1")
    body, answer = _send(route["webhook_url"], video_payload())
    (got,) = target.wait_for(1)
    assert got.body == body
    assert (got.path, got.query) == ("/resume/abc", "signature=s1")
    assert got.headers["content-type"] == "application/json"
    assert got.headers[limits.EVENT_HEADER.lower()] == "video.generation.completed"
    assert got.headers[limits.DELIVERY_ID_HEADER.lower()] == json.loads(body)["id"]
    assert limits.SIGNATURE_HEADER.lower() not in got.headers
    assert got.headers[signing.ID_HEADER] == answer.json()["event_id"]
    signing.verify(got.headers, got.body, [route["signing_secret"]])
    with pytest.raises(signing.SignatureError):
        signing.verify(got.headers, got.body + b" ", [route["signing_secret"]])
    assert _delivery(relay, "succeeded")["attempts"] == 1


def test_failures_are_retried_and_every_attempt_is_logged(
    relay: RunningRelay, target: Target
) -> None:
    target.script(Reply(500, b"boom"), Reply(503, b"x" * 3000))
    route = _route(relay, target.url)
    _send(route["webhook_url"], video_payload())
    target.wait_for(3)
    detail = _delivery(relay, "succeeded")
    attempts = detail["attempts_detail"]
    assert [a["status_code"] for a in attempts] == [500, 503, 200]
    assert [a["outcome"] for a in attempts] == ["http_error", "http_error", "success"]
    assert attempts[0]["response_excerpt"] == "boom"
    assert len(attempts[1]["response_excerpt"]) == 1024
    assert detail["attempts"] == 3
    assert len({r.headers[signing.ID_HEADER] for r in target.received}) == 1


def test_the_last_failure_dead_letters_and_a_replay_delivers(
    relay: RunningRelay, target: Target
) -> None:
    target.default = Reply(500)
    route = _route(relay, target.url)
    _send(route["webhook_url"], video_payload())
    dead = _delivery(relay, "dead")
    attempts = len(relay.relay.config.retry_schedule)
    assert dead["attempts"] == attempts
    assert len(target.received) == attempts
    metrics = HTTP.get(relay.url + "/metrics").text
    assert "relay_dead_letters_total 1.0" in metrics
    assert 'relay_deliveries{status="dead"} 1.0' in metrics
    target.default = Reply(200)
    with relay.api(KEY) as api:
        answer = api.post("/v1/deliveries/replay", json={"since": "2000-01-01T00:00:00Z"})
    assert answer.json() == {"replayed": 1}
    done = _delivery(relay, "succeeded")
    assert done["attempts"] == attempts + 1


def test_a_scrape_after_the_commit_sees_the_attempt_counted(
    relay: RunningRelay, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attempt's result is committed, then counted: a reader who saw the commit and
    then scrapes must not fall in between (the sleep widens that gap on purpose)."""
    storage = relay.relay.storage
    finish = storage.finish_attempt

    def finish_then_stall(*args: Any, **kwargs: Any) -> Any:
        done = finish(*args, **kwargs)
        time.sleep(0.5)
        return done

    monkeypatch.setattr(storage, "finish_attempt", finish_then_stall)
    route = _route(relay, target.url)
    _send(route["webhook_url"], video_payload())
    _delivery(relay, "succeeded")
    metrics = HTTP.get(relay.url + "/metrics").text
    assert "relay_forwarded_total 1.0" in metrics
    assert 'relay_attempts_total{outcome="success"} 1.0' in metrics


def test_a_manual_retry_sends_again_with_the_same_webhook_id(
    relay: RunningRelay, target: Target
) -> None:
    route = _route(relay, target.url)
    _send(route["webhook_url"], video_payload())
    first = _delivery(relay, "succeeded")
    with relay.api(KEY) as api:
        assert api.post(f"/v1/deliveries/{first['id']}/retry").status_code == 202
        assert api.post("/v1/deliveries/dlv_0000000000000000/retry").status_code == 404
    received = target.wait_for(2)
    assert received[0].headers[signing.ID_HEADER] == received[1].headers[signing.ID_HEADER]


def test_retry_after_is_honoured_within_delay_and_twice_the_delay(
    database: dict[str, Any], target: Target
) -> None:
    with _relay(database, retry_schedule=(0.0, 0.3, 0.3)) as relay:
        target.script(Reply(429, headers={"Retry-After": "30"}), Reply(429, headers={}))
        route = _route(relay, target.url)
        _send(route["webhook_url"], video_payload())
        got = target.wait_for(3)
        _delivery(relay, "succeeded")
    first_gap = got[1].at - got[0].at
    second_gap = got[2].at - got[1].at
    assert 0.6 <= first_gap < 5  # asked for 30 s: capped at 2 x 0.3 s
    assert 0.3 <= second_gap < first_gap  # no Retry-After: the scheduled delay


def test_retry_after_bounds_and_schedule_jitter() -> None:
    assert honour_retry_after(10.0, None) == 10.0
    assert honour_retry_after(10.0, 1.0) == 10.0
    assert honour_retry_after(10.0, 15.0) == 15.0
    assert honour_retry_after(10.0, 3600.0) == 20.0
    import random

    schedule = Schedule((0.0, 5.0, 300.0), jitter=0.2)
    rng = random.Random(7)
    delays = [schedule.delay_before(2, rng) for _ in range(200)]
    assert all(d is not None and 4.0 <= d <= 6.0 for d in delays)
    assert max(d for d in delays if d) - min(d for d in delays if d) > 1.0
    assert schedule.delay_before(1, rng) == 0.0
    assert schedule.delay_before(4, rng) is None


def test_a_timeout_is_retried(database: dict[str, Any], target: Target) -> None:
    # The deadline leaves room for a loaded machine: only the scripted 3 s reply exceeds it.
    with _relay(database, attempt_timeout=1.0, connect_timeout=1.0) as relay:
        target.script(Reply(200, delay=3.0))
        route = _route(relay, target.url)
        _send(route["webhook_url"], video_payload())
        detail = _delivery(relay, "succeeded")
    outcomes = [a["outcome"] for a in detail["attempts_detail"]]
    assert outcomes == ["timeout", "success"]
    assert detail["attempts_detail"][0]["error"] == "read timeout"


def test_connection_resets_are_retried_then_dead_lettered(relay: RunningRelay) -> None:
    with reset_server() as url:
        route = _route(relay, url + "/hook")
        _send(route["webhook_url"], video_payload())
        detail = _delivery(relay, "dead")
    outcomes = {a["outcome"] for a in detail["attempts_detail"]}
    assert outcomes == {"connection_error"}
    assert url not in json.dumps(detail["attempts_detail"])  # errors never quote the URL


def test_409_means_done_unless_the_route_says_otherwise(
    relay: RunningRelay, target: Target
) -> None:
    target.default = Reply(409)
    route = _route(relay, target.url)
    _send(route["webhook_url"], video_payload())
    assert _delivery(relay, "succeeded")["attempts_detail"][0]["outcome"] == "conflict_done"
    strict = _route(relay, target.url, accept_409=False)
    _send(strict["webhook_url"], video_payload())

    def dead_strict() -> bool:
        with relay.api(KEY) as api:
            rows = api.get("/v1/deliveries", params={"route_id": strict["route_id"]}).json()
        return bool(rows["data"]) and rows["data"][0]["status"] == "dead"

    wait_until(dead_strict)


def test_410_ends_the_route_and_later_webhooks_get_410(relay: RunningRelay, target: Target) -> None:
    target.default = Reply(410)
    route = _route(relay, target.url)
    _send(route["webhook_url"], video_payload())
    assert _delivery(relay, "canceled")["attempts"] == 1
    with relay.api(KEY) as api:
        shown = api.get(f"/v1/routes/{route['route_id']}").json()
    assert shown["status"] == "ended"
    body, headers = api_webhook(video_payload(), KEY)
    assert HTTP.post(route["webhook_url"], content=body, headers=headers).status_code == 410


def test_410_removes_a_subscription(relay: RunningRelay, target: Target) -> None:
    target.default = Reply(410)
    with relay.api(KEY) as api:
        sub = api.post("/v1/subscriptions", json={"target_url": target.url}).json()
    _send(sub["webhook_url"], video_payload())
    _delivery(relay, "canceled")
    with relay.api(KEY) as api:
        assert api.get(f"/v1/subscriptions/{sub['id']}").json()["status"] == "gone"
        assert api.get("/v1/subscriptions").json()["data"] == []
    _send(sub["webhook_url"], video_payload())  # accepted, but nobody subscribes any more
    assert len(target.received) == 1


def test_redirects_are_failures_and_never_followed(relay: RunningRelay, target: Target) -> None:
    target.default = Reply(302, headers={"Location": "/elsewhere"})
    route = _route(relay, target.url + "/hook")
    _send(route["webhook_url"], video_payload())
    detail = _delivery(relay, "dead")
    assert {a["outcome"] for a in detail["attempts_detail"]} == {"redirect"}
    assert {r.path for r in target.received} == {"/hook"}


def test_the_ssrf_guard_refuses_at_send_time_too(database: dict[str, Any], target: Target) -> None:
    with _relay(database, embedded_worker=False) as relay:
        route = _route(relay, target.url)
        _send(route["webhook_url"], video_payload())
        inner = relay.relay
        strict = Forwarder(
            inner.storage, inner.config, inner.sealer, inner.metrics, policy=TargetPolicy()
        )
        (claim,) = inner.storage.claim_due(time.time(), 10, inner.config.lease)
        result = strict.deliver(claim)
        assert result.status is DeliveryStatus.DEAD
        assert result.attempt.outcome == "refused"
        assert "scheme" in (result.attempt.error or "")
    assert target.received == []


def test_a_join_route_forwards_all_completions_once_together(
    relay: RunningRelay, target: Target
) -> None:
    route = _route(relay, target.url, expect=3)
    jobs = [video_payload() for _ in range(3)]
    bodies = [_send(route["webhook_url"], jobs[0])[0]]
    _send(route["webhook_url"], jobs[0])  # the API's retry: a duplicate, counted once
    bodies.append(_send(route["webhook_url"], jobs[1])[0])
    assert target.received == []
    failed = video_payload(jobs[2]["id"], state="failed")
    bodies.append(_send(route["webhook_url"], failed)[0])
    (got,) = target.wait_for(1)
    joined = got.json()
    assert joined["complete"] is True
    assert joined["missing"] == []
    assert joined["delivery_ids"] == [j["id"] for j in jobs]
    assert joined["events"] == [json.loads(b) for b in bodies]
    assert got.headers[limits.DELIVERY_ID_HEADER.lower()] == route["route_id"]
    signing.verify(got.headers, got.body, [route["signing_secret"]])
    _, late = _send(route["webhook_url"], video_payload())
    assert late.json()["late"] is True
    time.sleep(0.2)  # nothing more may arrive; the worker polls every 0.05 s
    assert len(target.received) == 1


def test_a_join_route_forwards_at_its_deadline_naming_the_missing(
    relay: RunningRelay, target: Target
) -> None:
    route = _route(relay, target.url, expected_ids=["a_1", "a_2"], deadline=3)
    with relay.api(KEY) as api:
        more = api.post(f"/v1/routes/{route['route_id']}/expected", json={"ids": ["a_3"]})
    assert more.status_code == 400  # expect defaulted to the two ids given
    _send(route["webhook_url"], video_payload("a_2"))
    (got,) = target.wait_for(1)
    joined = got.json()
    assert joined["complete"] is False
    assert joined["missing"] == ["a_1"]
    assert joined["missing_count"] == 1
    assert [e["id"] for e in joined["events"]] == ["a_2"]


def test_naming_ids_a_join_already_forwarded_is_no_error(
    relay: RunningRelay, target: Target
) -> None:
    # The jobs finished before the step that started them told the relay their ids.
    route = _route(relay, target.url, expect=2)
    jobs = [video_payload() for _ in range(2)]
    for job in jobs:
        _send(route["webhook_url"], job)
    target.wait_for(1)
    expected = f"/v1/routes/{route['route_id']}/expected"
    with relay.api(KEY) as api:
        late = api.post(expected, json={"ids": [j["id"] for j in jobs]})
        other = api.post(expected, json={"ids": ["vgen_never_sent"]})
    assert late.status_code == 200, late.text
    assert late.json()["route_id"] == route["route_id"]
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "route_closed"


def test_ids_told_later_complete_a_join(relay: RunningRelay, target: Target) -> None:
    route = _route(relay, target.url, expect=2)
    with relay.api(KEY) as api:
        told = api.post(f"/v1/routes/{route['route_id']}/expected", json={"ids": ["b_1", "b_2"]})
    assert told.json()["expected_ids"] == ["b_1", "b_2"]
    _send(route["webhook_url"], video_payload("b_1"))
    _send(route["webhook_url"], video_payload("stray"))  # not one of the ids told
    assert target.received == []
    _send(route["webhook_url"], video_payload("b_2"))
    (got,) = target.wait_for(1)
    assert got.json()["delivery_ids"] == ["b_1", "stray", "b_2"]


def test_a_batch_fanned_out_into_a_join_counts_each_job(
    relay: RunningRelay, target: Target
) -> None:
    route = _route(relay, target.url, expect=3, fan_out_batch=True)
    _send(route["webhook_url"], batch_payload("bt_1", ["completed", "completed", "failed"]))
    (got,) = target.wait_for(1)
    joined = got.json()
    assert joined["delivery_ids"] == ["bt_1_job0", "bt_1_job1", "bt_1_job2"]
    assert {e["batch_id"] for e in joined["events"]} == {"bt_1"}


def test_batch_fan_out_forwards_one_signed_event_per_job(
    relay: RunningRelay, target: Target
) -> None:
    route = _route(relay, target.url, fan_out_batch=True)
    payload = batch_payload("bt_2", ["completed", "failed"])
    _send(route["webhook_url"], payload)
    got = sorted(target.wait_for(2), key=lambda r: r.headers[limits.DELIVERY_ID_HEADER.lower()])
    assert [r.headers[limits.EVENT_HEADER.lower()] for r in got] == [
        "video.generation.completed",
        "video.generation.failed",
    ]
    for request, job in zip(got, payload["jobs"], strict=True):
        assert request.json()["id"] == job["id"]
        signing.verify(request.headers, request.body, [route["signing_secret"]])
    assert len({r.headers[signing.ID_HEADER] for r in got}) == 2


@pytest.mark.postgres
def test_several_forwarders_on_one_database_never_send_twice(
    pg_schema: str, target: Target
) -> None:
    database = {"database_url": PG_URL, "database_schema": pg_schema}
    # A long lease: on a loaded machine a short one could lapse mid-attempt, and a lapsed
    # lease is handed to another worker by design (at-least-once), which is not the point here.
    with _relay(database, embedded_worker=False, lease=60.0) as front:
        route = _route(front, target.url)
        for _ in range(30):
            _send(route["webhook_url"], video_payload())
        config = front.relay.config
        workers = [
            Forwarder(front.relay.storage, config.with_(workers=2), front.relay.sealer, m)
            for m in (front.relay.metrics, front.relay.metrics)
        ]
        second = running_relay(config.with_(embedded_worker=True))
        with second:
            for worker in workers:
                worker.start()
            try:
                received = target.wait_for(30, timeout=30)
                time.sleep(0.2)
            finally:
                for worker in workers:
                    worker.stop()
    ids = [r.headers[signing.ID_HEADER] for r in received]
    assert len(target.received) == 30
    assert len(set(ids)) == 30
