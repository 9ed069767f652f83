"""End to end: the sandbox API sends signed completion webhooks to the relay, which forwards
them to a local target that fails on purpose. Every accepted event arrives once; the API's
retries are forwarded once; forged or altered signatures never pass; secrets never reach
the logs."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector.catalog import limits
from connector.relay import logs, signing
from connector.relay.testing import (
    Reply,
    RunningRelay,
    Target,
    api_webhook,
    fast_config,
    running_relay,
    running_target,
    sqlite_url,
    video_payload,
    wait_until,
)
from connector.sandbox.harness import RunningSandbox, running_sandbox
from connector.serving import serve

pytestmark = pytest.mark.slow

HTTP = httpx.Client(timeout=10)


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox(time_scale=0.01) as running:
        yield running


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RunningRelay]:
    with running_relay(fast_config(sqlite_url(tmp_path), embedded_worker=True)) as running:
        yield running


@pytest.fixture
def target() -> Iterator[Target]:
    with running_target() as running:
        yield running


def _route(relay: RunningRelay, key: str, target_url: str, **fields: Any) -> dict[str, Any]:
    with relay.api(key) as api:
        answer = api.post("/v1/routes", json={"target_url": target_url, **fields})
    assert answer.status_code == 201, answer.text
    route: dict[str, Any] = answer.json()
    return route


def _start_video(sandbox: RunningSandbox, webhook_url: str, prompt: str = "a drone shot") -> str:
    answer = sandbox.http.post(
        "/v1/video/generations", json={"prompt": prompt, "webhook_url": webhook_url}
    )
    assert answer.status_code == 202, answer.text
    job_id: str = answer.json()["id"]
    return job_id


class LossyProxy:
    """Passes each webhook to the relay, then tells the API it failed the first time it sees
    a delivery: the API's retry brings the same event again (an answer lost on the way)."""

    def __init__(self, relay_url: str) -> None:
        self.relay_url = relay_url
        self.seen: set[str] = set()
        self.relay_answers: list[int] = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        headers = {
            key[5:].replace("_", "-"): value
            for key, value in environ.items()
            if key.startswith("HTTP_X_CREATIVEAI")
        }
        headers["Content-Type"] = environ.get("CONTENT_TYPE", "")
        answer = HTTP.post(self.relay_url + environ["PATH_INFO"], content=body, headers=headers)
        delivery = headers.get(limits.DELIVERY_ID_HEADER.upper().replace("_", "-"), "")
        with self._lock:
            self.relay_answers.append(answer.status_code)
            first = delivery not in self.seen
            self.seen.add(delivery)
        status = "500 Lost" if first else f"{answer.status_code} OK"
        start_response(status, [("Content-Type", "application/json")])
        return [answer.content]


def test_sandbox_to_relay_to_target_verbatim_and_signed(
    sandbox: RunningSandbox, relay: RunningRelay, target: Target
) -> None:
    route = _route(relay, sandbox.api_key, target.url + "/resume")
    job_id = _start_video(sandbox, route["webhook_url"])
    sandbox.advance(120)
    (got,) = target.wait_for(1)
    assert got.json()["id"] == job_id
    assert got.json()["status"] == "completed"
    assert got.headers[limits.DELIVERY_ID_HEADER.lower()] == job_id
    signing.verify(got.headers, got.body, [route["signing_secret"]])
    attempts = sandbox.webhook_attempts()
    assert [a["status_code"] for a in attempts] == [202]


def test_every_accepted_event_arrives_once_despite_api_retries_and_a_flaky_target(
    sandbox: RunningSandbox, relay: RunningRelay, target: Target
) -> None:
    target.script(Reply(500), Reply(503), Reply(429, headers={"Retry-After": "0"}), Reply(502))
    route = _route(relay, sandbox.api_key, target.url)
    proxy = LossyProxy(relay.url)
    with serve(proxy) as lossy:
        hook = lossy.url + "/hooks/" + route["webhook_url"].rsplit("/", 1)[1]
        jobs = {
            _start_video(sandbox, hook, f"prompt {i}") for i in range(5)
        }  # the per-key video create limit
        sandbox.advance(120)
        wait_until(lambda: len(proxy.relay_answers) >= 10, timeout=15)

        def delivered() -> set[str]:
            with relay.api(sandbox.api_key) as api:
                rows = api.get("/v1/deliveries", params={"status": "succeeded"}).json()["data"]
            return {r["delivery_id"] for r in rows} if len(rows) == len(jobs) else set()

        assert wait_until(delivered, timeout=15) == jobs
    forwarded = [r.headers[limits.DELIVERY_ID_HEADER.lower()] for r in target.received]
    succeeded = forwarded[4:]  # the first four answers were the scripted failures
    assert sorted(succeeded) == sorted(jobs)
    assert sorted(proxy.relay_answers).count(202) == len(jobs)
    assert sorted(proxy.relay_answers).count(200) >= len(jobs)  # the retries: duplicates


def test_webhooks_signed_with_another_key_never_pass(
    sandbox: RunningSandbox, relay: RunningRelay, target: Target
) -> None:
    route = _route(relay, "sk-not-the-sandbox-key", target.url)
    _start_video(sandbox, route["webhook_url"])
    sandbox.advance(120)

    def gave_up() -> list[dict[str, Any]] | None:
        attempts = sandbox.webhook_attempts()
        return attempts if attempts and attempts[-1].get("gave_up") else None

    attempts = wait_until(gave_up, timeout=15)
    assert {a["status_code"] for a in attempts} == {401}
    assert target.received == []
    with relay.api("sk-not-the-sandbox-key") as api:
        assert api.get("/v1/deliveries").json()["data"] == []


def test_an_altered_body_with_the_original_signature_never_passes(
    relay: RunningRelay, target: Target
) -> None:
    key = "sk-e2e-alter"
    route = _route(relay, key, target.url)
    body, headers = api_webhook(video_payload(), key)
    altered = body.replace(b"https://cdn.example/", b"https://evil.example/")
    assert HTTP.post(route["webhook_url"], content=altered, headers=headers).status_code == 401
    assert HTTP.post(route["webhook_url"], content=body, headers=headers).status_code == 202
    (got,) = target.wait_for(1)
    assert got.body == body


def test_one_step_that_started_many_jobs_resumes_once(
    sandbox: RunningSandbox, relay: RunningRelay, target: Target
) -> None:
    route = _route(relay, sandbox.api_key, target.url + "/webhook-waiting/7", expect=3)
    jobs = [_start_video(sandbox, route["webhook_url"], f"clip {i}") for i in range(3)]
    sandbox.advance(120)
    (got,) = target.wait_for(1)
    joined = got.json()
    assert sorted(joined["delivery_ids"]) == sorted(jobs)
    assert joined["complete"] is True
    assert {e["id"] for e in joined["events"]} == set(jobs)


def test_a_batch_fans_out_to_one_event_per_job(
    sandbox: RunningSandbox, relay: RunningRelay, target: Target
) -> None:
    route = _route(relay, sandbox.api_key, target.url, fan_out_batch=True)
    answer = sandbox.http.post(
        "/v1/video/generations/batch",
        json={
            "prompts": [{"prompt": "one"}, {"prompt": "two"}, {"prompt": "three"}],
            "webhook_url": route["webhook_url"],
        },
    )
    assert answer.status_code == 202, answer.text
    jobs = {job["id"] for job in answer.json()["jobs"]}
    sandbox.advance(600)
    got = target.wait_for(3)
    assert {r.headers[limits.DELIVERY_ID_HEADER.lower()] for r in got} == jobs
    for request in got:
        signing.verify(request.headers, request.body, [route["signing_secret"]])
        assert request.json()["batch_id"] == answer.json()["batch_id"]


def test_logs_never_contain_the_key_the_secrets_or_the_tokens(
    tmp_path: Path, target: Target
) -> None:
    key = "sk-live-very-secret-key-0123456789"
    config = fast_config(sqlite_url(tmp_path), embedded_worker=True, log_json=True)
    stream = io.StringIO()
    with running_relay(config) as relay:
        logs.configure("DEBUG", stream=stream)
        target.script(Reply(500), Reply(200))
        secrets_seen: list[str] = []
        with relay.api(key) as api:
            route = api.post("/v1/routes", json={"target_url": target.url + "/r?sig=abc"}).json()
            sub = api.post("/v1/subscriptions", json={"target_url": target.url + "/s"}).json()
            inbox = api.get("/v1/inbox").json()["webhook_url"]
            secrets_seen += [route["signing_secret"], sub["signing_secret"]]
            for url in (route["webhook_url"], inbox):
                body, headers = api_webhook(video_payload(), key)
                HTTP.post(url, content=body, headers=headers)
                HTTP.post(url, content=body, headers=headers)  # duplicate
                HTTP.post(url, content=body + b" ", headers=headers)  # bad signature
            target.wait_for(3)
            HTTP.get(relay.url + "/v1/deliveries", headers={"Authorization": f"Bearer {key}x"})
            HTTP.post(route["webhook_url"] + "x", content=b"{}")
            api.delete(f"/v1/subscriptions/{sub['id']}")
            wait_until(
                lambda: all(
                    d["status"] == "succeeded" for d in api.get("/v1/deliveries").json()["data"]
                )
            )
    logs.flush()
    lines = stream.getvalue().splitlines()
    assert len(lines) > 20
    entries = [json.loads(line) for line in lines]  # one JSON object per line
    assert {"webhook accepted", "delivered", "attempt failed; will retry"} <= {
        e["msg"] for e in entries
    }
    text = stream.getvalue()
    tokens = [route["webhook_url"].rsplit("/", 1)[1], inbox.rsplit("/", 1)[1]]
    for secret in [key, *secrets_seen, *tokens, "sig=abc"]:
        assert secret not in text
        assert secret[:24] not in text
