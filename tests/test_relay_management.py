"""The management API: authentication, validation that names field/value/allowed, the SSRF
check at creation, tenant isolation, subscriptions, the delivery log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector.relay.health import MetricsApp
from connector.relay.testing import (
    RunningRelay,
    api_webhook,
    fast_config,
    running_relay,
    sqlite_url,
    video_payload,
)
from connector.serving import serve

KEY = "sk-management-a"
OTHER = "sk-management-b"
HTTP = httpx.Client(timeout=10)


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RunningRelay]:
    with running_relay(fast_config(sqlite_url(tmp_path))) as running:
        yield running


@pytest.fixture
def api(relay: RunningRelay) -> Iterator[httpx.Client]:
    with relay.api(KEY) as client:
        yield client


@pytest.fixture
def other(relay: RunningRelay) -> Iterator[httpx.Client]:
    with relay.api(OTHER) as client:
        yield client


def _error(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    return error


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"}, {"Authorization": "x"}],
)
def test_the_api_needs_a_bearer_key(relay: RunningRelay, headers: dict[str, str]) -> None:
    for method, path in (("GET", "/v1/deliveries"), ("POST", "/v1/routes"), ("GET", "/v1/inbox")):
        answer = HTTP.request(method, relay.url + path, headers=headers, json={})
        assert _error(answer, 401)["code"] == "unauthorized"


def test_an_overlong_key_is_refused(relay: RunningRelay) -> None:
    answer = HTTP.get(relay.url + "/v1/inbox", headers={"Authorization": "Bearer " + "k" * 200})
    assert _error(answer, 401)["code"] == "unauthorized"


def test_creating_a_route_returns_its_url_secret_and_expiry(api: httpx.Client) -> None:
    answer = api.post("/v1/routes", json={"target_url": "http://127.0.0.1:9/x", "expires_in": 120})
    assert answer.status_code == 201
    route = answer.json()
    assert route["route_id"].startswith("rt_")
    assert route["webhook_url"].startswith(str(api.base_url) + "/hooks/")
    assert route["signing_secret"].startswith("whsec_")
    assert KEY not in route["webhook_url"]
    shown = api.get(f"/v1/routes/{route['route_id']}").json()
    assert "signing_secret" not in shown
    assert "webhook_url" not in shown
    assert shown["expires_at"] == route["expires_at"]


@pytest.mark.parametrize(
    ("body", "field", "allowed"),
    [
        ({}, "target_url", "https URL"),
        ({"target_url": 5}, "target_url", "https URL"),
        ({"target_url": "ftp://127.0.0.1/x"}, "target_url", "scheme"),
        ({"target_url": "http://10.0.0.5/hook"}, "target_url", "private"),
        ({"target_url": "http://169.254.169.254/latest"}, "target_url", "link_local"),
        ({"target_url": "http://localhost/x"}, "target_url", "local_name"),
        ({"target_url": "http://u:p@127.0.0.1/x"}, "target_url", "userinfo"),
        ({"target_url": "http://127.0.0.1/x", "expires_in": 5}, "expires_in", "60"),
        ({"target_url": "http://127.0.0.1/x", "expires_in": "1h"}, "expires_in", "seconds"),
        ({"target_url": "http://127.0.0.1/x", "events": ["video.done"]}, "events[]", "video."),
        ({"target_url": "http://127.0.0.1/x", "events": []}, "events", "non-empty"),
        ({"target_url": "http://127.0.0.1/x", "expect": 0}, "expect", "1 to 1000"),
        ({"target_url": "http://127.0.0.1/x", "expect": True}, "expect", "whole number"),
        ({"target_url": "http://127.0.0.1/x", "deadline": 30}, "deadline", "only with expect"),
        ({"target_url": "http://127.0.0.1/x", "expect": 2, "deadline": "soon"}, "deadline", "RFC"),
        ({"target_url": "http://127.0.0.1/x", "fan_out_batch": "yes"}, "fan_out_batch", "true"),
        ({"target_url": "http://127.0.0.1/x", "callback": "x"}, "callback", "target_url"),
        (
            {"target_url": "http://127.0.0.1/x", "expect": 1, "expected_ids": ["a", "b"]},
            "expected_ids",
            "at most expect",
        ),
    ],
)
def test_route_validation_names_the_field_the_value_and_what_is_allowed(
    api: httpx.Client, body: dict[str, Any], field: str, allowed: str
) -> None:
    error = _error(api.post("/v1/routes", json=body), 400)
    assert error["code"] == "invalid_request"
    assert error["field"] == field
    assert allowed in error["allowed"]
    assert field.rstrip("[]") in error["message"]


def test_a_non_object_body_is_400(api: httpx.Client) -> None:
    assert _error(api.post("/v1/routes", content=b"[1]"), 400)["field"] == "body"
    assert _error(api.post("/v1/routes", content=b"{nope"), 400)["field"] == "body"


def test_https_only_unless_http_is_allowed(tmp_path: Path) -> None:
    config = fast_config(sqlite_url(tmp_path), allow_http=False)
    with running_relay(config) as relay, relay.api(KEY) as api:
        error = _error(api.post("/v1/routes", json={"target_url": "http://127.0.0.1/x"}), 400)
    assert "scheme" in error["allowed"]


def test_tenants_never_see_or_touch_each_others_objects(
    relay: RunningRelay, api: httpx.Client, other: httpx.Client
) -> None:
    route = api.post("/v1/routes", json={"target_url": "http://127.0.0.1:9/x"}).json()
    sub = api.post("/v1/subscriptions", json={"target_url": "http://127.0.0.1:9/s"}).json()
    body, headers = api_webhook(video_payload(), KEY)
    assert HTTP.post(route["webhook_url"], content=body, headers=headers).status_code == 202
    (delivery,) = api.get("/v1/deliveries").json()["data"]
    rid, sid, did = route["route_id"], sub["id"], delivery["id"]
    assert _error(other.get(f"/v1/routes/{rid}"), 404)["code"] == "not_found"
    assert _error(other.delete(f"/v1/routes/{rid}"), 404)["code"] == "not_found"
    assert _error(other.post(f"/v1/routes/{rid}/expected", json={"ids": ["x"]}), 404)
    assert _error(other.get(f"/v1/subscriptions/{sid}"), 404)
    assert _error(other.delete(f"/v1/subscriptions/{sid}"), 404)
    assert other.get("/v1/subscriptions").json()["data"] == []
    assert other.get("/v1/deliveries").json()["data"] == []
    assert _error(other.get(f"/v1/deliveries/{did}"), 404)
    assert _error(other.post(f"/v1/deliveries/{did}/retry"), 404)
    assert other.post("/v1/deliveries/replay", json={"since": "2000-01-01T00:00:00Z"}).json() == {
        "replayed": 0
    }
    # A route's token is bound to its tenant's key: signed with another key it is refused.
    forged_body, forged_headers = api_webhook(video_payload(), OTHER)
    forged = HTTP.post(route["webhook_url"], content=forged_body, headers=forged_headers)
    assert forged.status_code == 401
    assert api.get(f"/v1/routes/{rid}").status_code == 200


def test_subscriptions_rest_hook_lifecycle(api: httpx.Client) -> None:
    made = api.post(
        "/v1/subscriptions",
        json={"target_url": "http://127.0.0.1:9/zap", "events": ["video.*"], "fan_out_batch": True},
    )
    assert made.status_code == 201
    sub = made.json()
    assert sub["signing_secret"].startswith("whsec_")
    assert sub["webhook_url"].startswith(str(api.base_url) + "/hooks/")
    listed = api.get("/v1/subscriptions").json()["data"]
    assert [s["id"] for s in listed] == [sub["id"]]
    assert "signing_secret" not in listed[0]
    assert listed[0]["events"] == ["video.*"]
    assert api.delete(f"/v1/subscriptions/{sub['id']}").status_code == 204
    assert api.delete(f"/v1/subscriptions/{sub['id']}").status_code == 204  # idempotent
    assert api.delete("/v1/subscriptions/sub_0000000000000000").status_code == 404
    assert api.get("/v1/subscriptions").json()["data"] == []
    ended = api.get("/v1/subscriptions", params={"include_ended": "true"}).json()["data"]
    assert ended[0]["status"] == "deleted"


def test_each_subscription_has_its_own_secret(api: httpx.Client) -> None:
    one = api.post("/v1/subscriptions", json={"target_url": "http://127.0.0.1:9/a"}).json()
    two = api.post("/v1/subscriptions", json={"target_url": "http://127.0.0.1:9/b"}).json()
    assert one["signing_secret"] != two["signing_secret"]


def test_every_inbox_url_of_a_tenant_leads_to_the_same_inbox(
    relay: RunningRelay, api: httpx.Client
) -> None:
    api.post("/v1/subscriptions", json={"target_url": "http://127.0.0.1:9/a"})
    first = api.get("/v1/inbox").json()["webhook_url"]
    second = api.get("/v1/inbox").json()["webhook_url"]
    for url in (first, second):
        body, headers = api_webhook(video_payload(), KEY)
        answer = HTTP.post(url, content=body, headers=headers)
        assert answer.json()["deliveries"] == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1000"}, "limit"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01"}, "until"),
        ({"cursor": "page2"}, "cursor"),
    ],
)
def test_delivery_filters_are_validated(
    api: httpx.Client, query: dict[str, str], field: str
) -> None:
    assert _error(api.get("/v1/deliveries", params=query), 400)["field"] == field


def test_the_delivery_log_filters_and_shows_the_body(
    relay: RunningRelay, api: httpx.Client
) -> None:
    route = api.post("/v1/routes", json={"target_url": "http://127.0.0.1:9/x"}).json()
    bodies = []
    for state in ("completed", "failed", "completed"):
        body, headers = api_webhook(video_payload(state=state), KEY)
        HTTP.post(route["webhook_url"], content=body, headers=headers)
        bodies.append(body)
    everything = api.get("/v1/deliveries").json()
    assert len(everything["data"]) == 3
    failed = api.get("/v1/deliveries", params={"event": "video.generation.failed"}).json()
    assert len(failed["data"]) == 1
    pending = api.get("/v1/deliveries", params={"status": "pending,dead"}).json()
    assert len(pending["data"]) == 3
    page = api.get("/v1/deliveries", params={"limit": "2"}).json()
    assert len(page["data"]) == 2
    rest = api.get("/v1/deliveries", params={"limit": "2", "cursor": page["next_cursor"]}).json()
    assert len(rest["data"]) == 1
    assert rest["next_cursor"] is None
    future = api.get("/v1/deliveries", params={"since": "2999-01-01T00:00:00Z"}).json()
    assert future["data"] == []
    oldest = rest["data"][0]
    detail = api.get(f"/v1/deliveries/{oldest['id']}", params={"include": "body"}).json()
    assert detail["body"] == bodies[0].decode()
    assert detail["attempts_detail"] == []


def test_replay_validates_its_body(api: httpx.Client) -> None:
    assert _error(api.post("/v1/deliveries/replay", json={}), 400)["field"] == "since"
    bad_status = {"since": "2026-01-01T00:00:00Z", "status": "pending"}
    assert _error(api.post("/v1/deliveries/replay", json=bad_status), 400)["field"] == "status"
    assert _error(api.post("/v1/deliveries/replay", json={"since": 5}), 400)["field"] == "since"


def test_unknown_paths_and_methods_answer_json(relay: RunningRelay, api: httpx.Client) -> None:
    assert _error(api.get("/v1/nothing"), 404)["code"] == "not_found"
    assert _error(HTTP.get(relay.url + "/v1/routes"), 405)["code"] == "method_not_allowed"


def test_health_endpoints(relay: RunningRelay) -> None:
    assert HTTP.get(relay.url + "/healthz").json() == {"status": "ok"}
    ready = HTTP.get(relay.url + "/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "sqlite"
    metrics = HTTP.get(relay.url + "/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    for name in (
        "relay_events_received_total",
        "relay_rejected_total",
        "relay_forwarded_total",
        "relay_attempts_total",
        "relay_dead_letters_total",
        "relay_ack_seconds_bucket",
        "relay_forward_lag_seconds_bucket",
    ):
        assert name in metrics.text or name.replace("_total", "") in metrics.text, name


METRICS_TOKEN = "metrics-token-0123456789"


def test_metrics_can_require_a_bearer_token(tmp_path: Path) -> None:
    config = fast_config(sqlite_url(tmp_path), metrics_token=METRICS_TOKEN)
    with running_relay(config) as relay:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": METRICS_TOKEN}):
            refused = HTTP.get(relay.url + "/metrics", headers=headers)
            assert refused.status_code == 401, headers
            assert refused.headers["www-authenticate"].startswith("Bearer")
            assert "relay_" not in refused.text
        nonascii = HTTP.get(relay.url + "/metrics", headers={b"Authorization": b"Bearer \xe9"})
        assert nonascii.status_code == 401
        ok = HTTP.get(relay.url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert ok.status_code == 200 and "relay_forwarded_total" in ok.text
        assert HTTP.get(relay.url + "/healthz").status_code == 200  # health stays open


def test_metrics_on_their_own_port_are_not_on_the_main_one(tmp_path: Path) -> None:
    with running_relay(fast_config(sqlite_url(tmp_path), metrics_port=9)) as relay:
        assert HTTP.get(relay.url + "/metrics").status_code == 404
        app = MetricsApp(relay.relay.config, relay.relay.metrics)
        with serve(app) as metrics:
            assert "relay_forwarded_total" in HTTP.get(metrics.url + "/metrics").text
            assert HTTP.get(metrics.url + "/v1/routes").status_code == 404


def test_readyz_says_unavailable_when_the_database_is_gone(relay: RunningRelay) -> None:
    relay.relay.storage.close()
    answer = HTTP.get(relay.url + "/readyz")
    assert answer.status_code == 503
    assert answer.json()["status"] == "unavailable"
