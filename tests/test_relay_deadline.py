"""One deadline per attempt, against raw-socket targets on 127.0.0.1 that answer one byte
every 0.2 s: the attempt timeout bounds connect, request, headers and body as a whole; a
lease never runs out while its attempt runs (no delivery is sent twice at once); a slow
target host holds at most its share of the forwarding slots."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector.relay.outbound import Outcome, Sender
from connector.relay.ssrf import TargetPolicy, guarded_client
from connector.relay.testing import (
    PG_URL,
    RunningRelay,
    api_webhook,
    fast_config,
    running_relay,
    running_target,
    slow_target,
    sqlite_url,
    video_payload,
    wait_until,
)
from connector.relay.worker import Forwarder

KEY = "sk-deadline-a"
OTHER = "sk-deadline-b"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
HTTP = httpx.Client(timeout=10)
LOCAL = TargetPolicy(allow_http=True, allow_networks=("127.0.0.0/8",))


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    if request.param == "sqlite":
        return {"database_url": sqlite_url(tmp_path)}
    return {"database_url": PG_URL, "database_schema": request.getfixturevalue("pg_schema")}


def _route(relay: RunningRelay, key: str, target_url: str) -> dict[str, Any]:
    with relay.api(key) as api:
        answer = api.post("/v1/routes", json={"target_url": target_url})
    assert answer.status_code == 201, answer.text
    route: dict[str, Any] = answer.json()
    return route


def _send(route: dict[str, Any], key: str) -> None:
    body, headers = api_webhook(video_payload(), key)
    answer = HTTP.post(route["webhook_url"], content=body, headers=headers)
    assert answer.status_code == 202, answer.text


def test_a_target_dribbling_its_headers_is_cut_at_the_attempt_timeout() -> None:
    sender = Sender(LOCAL, attempt_timeout=1.0, connect_timeout=0.5)
    with slow_target(0.2) as slow:
        started = time.monotonic()
        sent = sender.send(slow.url + "/hook", b"{}", {"Content-Type": "application/json"}, True)
        took = time.monotonic() - started
    sender.close()
    assert sent.outcome is Outcome.TIMEOUT, sent
    assert 0.9 <= took < 1.5, took
    assert sent.duration < 1.5


def test_within_shortens_the_attempt() -> None:
    sender = Sender(LOCAL, attempt_timeout=5.0, connect_timeout=0.5)
    with slow_target(0.2) as slow:
        sent = sender.send(slow.url, b"{}", {}, True, within=0.5)
    sender.close()
    assert sent.outcome is Outcome.TIMEOUT
    assert sent.duration < 1.0


def test_a_name_that_resolves_slowly_is_given_up_at_the_deadline() -> None:
    def slow_resolver(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        time.sleep(3)
        return socket.getaddrinfo("127.0.0.1", port, *args, **kwargs)

    ends = time.monotonic() + 0.5
    with guarded_client(LOCAL, resolver=slow_resolver, deadline=lambda: ends) as client:
        started = time.monotonic()
        with pytest.raises(httpx.ConnectTimeout):
            client.post("http://slow-dns.example:9/hook", content=b"{}")
    assert time.monotonic() - started < 1.0


def test_a_slow_attempt_is_recorded_as_a_timeout_failure(database: dict[str, Any]) -> None:
    config = fast_config(
        **database, embedded_worker=True, attempt_timeout=1.0, retry_schedule=(0.0,), lease=3.0
    )
    with slow_target(0.2) as slow, running_relay(config, clean=True) as relay:
        _send(_route(relay, KEY, slow.url), KEY)

        def dead() -> dict[str, Any] | None:
            with relay.api(KEY) as api:
                (item,) = api.get("/v1/deliveries").json()["data"]
                if item["status"] != "dead":
                    return None
                detail: dict[str, Any] = api.get(f"/v1/deliveries/{item['id']}").json()
                return detail

        detail = wait_until(dead, timeout=10)
    (attempt,) = detail["attempts_detail"]
    assert attempt["outcome"] == "timeout"
    assert attempt["duration_ms"] < 1500, attempt


def test_two_workers_never_send_one_delivery_at_once(database: dict[str, Any]) -> None:
    """The lease (2 s) is shorter than the target's answer (17 s): the attempt must end
    before its lease does, or the other worker claims the delivery and sends it too."""
    config = fast_config(
        **database,
        attempt_timeout=1.0,
        lease=2.0,
        retry_schedule=(0.0, 0.05, 0.05, 0.05),
        workers=2,
    )
    with slow_target(0.2) as slow, running_relay(config, clean=True) as relay:
        inner = relay.relay
        workers = [
            Forwarder(inner.storage, config, inner.sealer, inner.metrics, policy=inner.policy)
            for _ in range(2)
        ]
        _send(_route(relay, KEY, slow.url), KEY)
        for worker in workers:
            worker.start()
        try:
            wait_until(lambda: slow.requests >= 3, timeout=10)
        finally:
            for worker in workers:
                worker.stop()
        with relay.api(KEY) as api:
            (item,) = api.get("/v1/deliveries").json()["data"]
            detail = api.get(f"/v1/deliveries/{item['id']}").json()
    assert slow.most_at_once == 1, f"{slow.most_at_once} sends of one delivery at once"
    numbers = [a["number"] for a in detail["attempts_detail"]]
    assert len(numbers) == len(set(numbers)) >= 3, numbers
    assert {a["outcome"] for a in detail["attempts_detail"]} == {"timeout"}


def test_a_slow_host_cannot_hold_every_slot(tmp_path: Path) -> None:
    """RELAY_WORKERS=2: tenant A's slow host has four deliveries due before tenant B's;
    B's is sent at once on the slot A may not take, not after A's attempts time out."""
    config = fast_config(
        sqlite_url(tmp_path),
        embedded_worker=True,
        attempt_timeout=2.0,
        lease=5.0,
        retry_schedule=(0.0, 0.05, 0.05),
        workers=2,
    )
    with (
        slow_target(0.2) as slow,
        running_target() as fast,
        running_relay(config, clean=True) as relay,
    ):
        slow_route = _route(relay, KEY, slow.url + "/a")
        other_slow = _route(relay, KEY, slow.url + "/b")
        fast_route = _route(relay, OTHER, fast.url)
        for route in (slow_route, other_slow, slow_route, other_slow):
            _send(route, KEY)
        wait_until(lambda: slow.requests >= 1, timeout=5)
        sent_at = time.time()
        _send(fast_route, OTHER)
        (got,) = fast.wait_for(1, timeout=10)
        waited = got.at - sent_at
        most = slow.most_at_once
    assert waited < 1.0, f"tenant B waited {waited:.2f} s behind tenant A's slow host"
    assert most == 1


def test_host_share_follows_the_settings(tmp_path: Path) -> None:
    base = fast_config(sqlite_url(tmp_path))
    assert base.with_(workers=4).host_share == 2
    assert base.with_(workers=1).host_share == 1
    assert base.with_(workers=4, host_workers=4).host_share == 4
    assert base.with_(workers=2, host_workers=8).host_share == 2
