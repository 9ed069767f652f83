"""Completion webhooks from the sandbox: signed, shaped per event, retried, deduplicated.

Retry timing is checked on a clock that only moves when advanced (`time_scale=1000`), so
"the second attempt comes 5 s after the job ended" is exact, not a race.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from connector import webhooks
from connector.catalog import CATALOG, events, limits
from connector.sandbox import ApiKey
from connector.sandbox.harness import ReceivedRequest, RunningSandbox, WebhookSink

FROZEN = 1000.0
Factory = Callable[..., RunningSandbox]
SCHEDULE = limits.WEBHOOK_RETRY_SCHEDULE


@pytest.fixture
def frozen(sandbox_factory: Factory) -> RunningSandbox:
    return sandbox_factory(time_scale=FROZEN)


def attempts_of(sb: RunningSandbox, delivery_id: str, settled: int) -> list[dict[str, Any]]:
    """The log of one delivery once `settled` attempts have an outcome."""

    def check() -> list[dict[str, Any]] | None:
        log = sb.webhook_attempts(delivery_id=delivery_id)
        done = [a for a in log if a["outcome"] != "pending"]
        return log if len(done) >= settled else None

    return sb.wait_for(check, what=f"{settled} settled attempt(s) of {delivery_id}")


def finish(sb: RunningSandbox, job_id: str) -> float:
    """Advance to just past the job's end; returns the sandbox time it ended."""
    ends = float(sb.job(job_id)["ends_at"])
    sb.advance(ends - sb.now() + 0.001)
    return ends


def check_delivery(hook: ReceivedRequest, secret: str) -> webhooks.Delivery:
    """A delivery as a receiver checks it: signature over the raw body, then parsing."""
    assert hook.method == "POST"
    assert hook.header("content-type") == "application/json"
    assert webhooks.verify(hook.body, hook.header(limits.SIGNATURE_HEADER), secret)
    assert not webhooks.verify(hook.body, hook.header(limits.SIGNATURE_HEADER), secret + "x")
    delivery = webhooks.parse(hook.body, hook.headers)
    events.payload_model(delivery.event).model_validate(hook.json())
    return delivery


def test_a_completed_video_posts_a_signed_documented_payload(
    frozen: RunningSandbox, webhook_sink: WebhookSink
) -> None:
    url = webhook_sink.url_for("/webhooks/creativeai/video")
    job = frozen.http.post("/v1/video/generations", json={"prompt": "x", "webhook_url": url}).json()
    assert job["webhook_url"] == url
    frozen.advance(30)
    [hook] = webhook_sink.wait_for(1)
    assert hook.path == "/webhooks/creativeai/video"
    delivery = check_delivery(hook, frozen.api_key)  # the API key is the HMAC secret
    assert (delivery.event, delivery.delivery_id) == ("video.generation.completed", job["id"])
    assert hook.header(limits.EVENT_HEADER) == "video.generation.completed"
    assert hook.header(limits.DELIVERY_ID_HEADER) == job["id"]
    assert delivery.dedup_key == f"{job['id']}:completed"
    body = hook.json()
    assert list(body) == [
        "id", "object", "status", "model", "model_actual", "prompt", "output_url",
        "error_message", "credits", "failover_used", "completed_at",
    ]  # fmt: skip
    status = frozen.http.get(f"/v1/video/generations/{job['id']}").json()
    for name in ("object", "model", "model_actual", "output_url", "credits", "completed_at"):
        assert body[name] == status[name]
    assert body["status"] == "completed" and body["error_message"] is None


def run(sb: RunningSandbox, path: str, body: dict[str, Any], sink: WebhookSink) -> dict[str, Any]:
    answer = sb.http.post(path, json={**body, "webhook_url": sink.url_for("/hook")})
    assert answer.status_code == 202, answer.text
    created: dict[str, Any] = answer.json()
    return created


@pytest.mark.parametrize(
    ("path", "body", "event"),
    [
        ("/api/generate/voice", {"text": "Your launch assets are ready."}, "voice.generation"),
        ("/api/generate/chart-to-video", {"chart_image_url": "https://e.com/c.png"}, "chart"),
        ("/v1/video/generations", {"prompt": "x [sandbox:fail]"}, "video.generation"),
        ("/api/generate/voice", {"text": "x [sandbox:fail]"}, "voice.generation"),
        (
            "/api/generate/chart-to-video",
            {"title": "[sandbox:fail]", "chart_image_url": "https://e.com/c.png"},
            "chart",
        ),
    ],
    ids=["voice", "chart", "video failed", "voice failed", "chart failed"],
)
def test_each_event_has_its_documented_shape(
    frozen: RunningSandbox, webhook_sink: WebhookSink, path: str, body: dict[str, Any], event: str
) -> None:
    before = frozen.credits()
    job = run(frozen, path, body, webhook_sink)
    frozen.advance(60)
    [hook] = webhook_sink.wait_for(1)
    delivery = check_delivery(hook, frozen.api_key)
    failed = "[sandbox:fail]" in str(body)
    op = next(op for op in CATALOG.operations.values() if op.path == path and op.events)
    expected = next(
        e.name for e in CATALOG.events.values()
        if op.key in e.operations and e.state.value == ("failed" if failed else "completed")
    )  # fmt: skip
    assert delivery.event == expected and delivery.event.startswith(event)
    payload = hook.json()
    assert payload["id"] == job["id"]
    assert payload["object"] == expected.rsplit(".", 1)[0]
    if failed:
        assert payload["status"] == "failed" and payload["output_url"] is None
        assert payload["error"]["code"] == "generation_timeout"
        assert payload["error"]["type"] == "server_error"
        assert payload["error_message"] == payload["error"]["message"]
        assert payload["credits"] == 0 and payload["credits_refunded"] == job["credits"]
        assert frozen.credits() == before  # refunded
    else:
        assert payload["status"] == "completed" and payload["output_url"]
    if event == "voice.generation" and not failed:
        assert payload["text"] == body["text"]
        assert (payload["voice"], payload["language"]) == ("alloy", "en")
        assert payload["duration_seconds"] > 0


def test_a_batch_sends_one_webhook_when_every_job_ended(
    frozen: RunningSandbox, webhook_sink: WebhookSink
) -> None:
    prompts = [{"prompt": "one"}, {"prompt": "two [sandbox:fail]"}, {"prompt": "three"}]
    batch = frozen.http.post(
        "/v1/video/generations/batch",
        json={"prompts": prompts, "webhook_url": webhook_sink.url_for("/batch")},
    ).json()
    frozen.advance(21)  # the first job ended, the others run on
    assert frozen.webhook_attempts() == []
    frozen.advance(60)
    [hook] = webhook_sink.wait_for(1)
    delivery = check_delivery(hook, frozen.api_key)
    assert (delivery.event, delivery.delivery_id) == ("video.batch.completed", batch["batch_id"])
    payload = hook.json()
    assert (payload["object"], payload["status"]) == ("video.batch", "completed")
    assert (payload["total_jobs"], payload["completed"], payload["failed"]) == (3, 2, 1)
    assert [j["status"] for j in payload["jobs"]] == ["completed", "failed", "completed"]
    assert payload["jobs"][1]["output_url"] is None and payload["jobs"][1]["credits"] == 0
    assert payload["total_credits"] == sum(j["credits"] for j in payload["jobs"]) == 120
    assert len(frozen.webhook_attempts()) == 1  # no per-job webhooks


@pytest.mark.parametrize(
    ("secret", "signed_with"),
    [("whsec_custom", "whsec_custom"), (None, "sk-key"), ("", None)],
    ids=["own secret", "api key", "unsigned"],
)
def test_the_signing_secret_is_per_key(
    sandbox_factory: Factory, webhook_sink: WebhookSink, secret: str | None, signed_with: str | None
) -> None:
    sb = sandbox_factory(api_keys=(ApiKey("sk-key", signing_secret=secret),), time_scale=FROZEN)
    run(sb, "/api/generate/voice", {"text": "hi"}, webhook_sink)
    sb.advance(30)
    [hook] = webhook_sink.wait_for(1)
    signature = hook.header(limits.SIGNATURE_HEADER)
    if signed_with is None:
        assert signature is None
    else:
        assert webhooks.verify(hook.body, signature, signed_with)
        assert "sk-key" not in hook.body.decode()  # the key never travels in the body


def test_failed_deliveries_are_retried_at_the_documented_offsets(
    frozen: RunningSandbox, webhook_sink: WebhookSink
) -> None:
    webhook_sink.respond(500, times=len(SCHEDULE) - 1)  # then 200
    job = run(frozen, "/api/generate/voice", {"text": "hi"}, webhook_sink)
    ended = finish(frozen, job["id"])
    for n, offset in enumerate(SCHEDULE, start=1):
        log = attempts_of(frozen, job["id"], settled=n)
        assert log[n - 1]["scheduled_at"] == pytest.approx(ended + offset, abs=0.01)
        if n < len(SCHEDULE):
            assert log[n - 1]["outcome"] == "failed" and log[n - 1]["status_code"] == 500
            nxt = SCHEDULE[n]
            frozen.advance(nxt - SCHEDULE[n - 1] - 0.5)  # just before the next attempt
            assert frozen.webhook_attempts()[n]["sent_at"] is None
            frozen.advance(0.5)
    log = attempts_of(frozen, job["id"], settled=len(SCHEDULE))
    assert [a["outcome"] for a in log] == ["failed"] * (len(SCHEDULE) - 1) + ["delivered"]
    hooks = webhook_sink.wait_for(len(SCHEDULE))
    assert len({(h.body, h.header(limits.SIGNATURE_HEADER)) for h in hooks}) == 1  # same bytes
    frozen.advance(1000)
    assert len(frozen.webhook_attempts()) == len(SCHEDULE)  # delivered: nothing more


def test_deliveries_give_up_after_the_last_attempt_and_the_job_stays_done(
    frozen: RunningSandbox, webhook_sink: WebhookSink
) -> None:
    webhook_sink.respond_always(503)
    job = run(frozen, "/v1/video/generations", {"prompt": "x"}, webhook_sink)
    frozen.advance(1000)  # every attempt is due by then
    log = attempts_of(frozen, job["id"], settled=len(SCHEDULE))
    assert [a["status_code"] for a in log] == [503] * len(SCHEDULE)
    assert [a["gave_up"] for a in log] == [False] * (len(SCHEDULE) - 1) + [True]
    status = frozen.http.get(f"/v1/video/generations/{job['id']}").json()
    assert status["status"] == "completed"  # the status endpoint stays the truth


def test_retries_follow_the_fast_clock(sandbox: RunningSandbox, webhook_sink: WebhookSink) -> None:
    webhook_sink.respond(502, times=2)
    job = run(sandbox, "/api/generate/voice", {"text": "hi"}, webhook_sink)
    webhook_sink.wait_for(3)
    log = attempts_of(sandbox, job["id"], settled=3)
    ended = sandbox.job(job["id"])["ends_at"]
    offsets = [a["sent_at"] - ended for a in log]
    assert [a["outcome"] for a in log] == ["failed", "failed", "delivered"]
    assert offsets[0] >= SCHEDULE[0] and offsets[1] >= SCHEDULE[1] and offsets[2] >= SCHEDULE[2]


def test_an_unreachable_url_is_logged_with_its_error(frozen: RunningSandbox) -> None:
    url = f"{frozen.url}/_nowhere"  # a path, on a live server, that answers 404
    closed = "http://127.0.0.1:9/hook"  # the discard port: nothing listens there
    a = frozen.http.post("/api/generate/voice", json={"text": "a", "webhook_url": url}).json()
    b = frozen.http.post("/api/generate/voice", json={"text": "b", "webhook_url": closed}).json()
    frozen.advance(30)
    first = attempts_of(frozen, a["id"], settled=1)[0]
    assert first["status_code"] == 404 and first["outcome"] == "failed"
    second = attempts_of(frozen, b["id"], settled=1)[0]
    assert second["status_code"] is None and "ConnectError" in second["error"]
    assert second["url"] == closed and second["event"] == "voice.generation.completed"


def test_a_key_is_delivered_once_even_when_the_receiver_got_it_twice(
    sandbox_factory: Factory, webhook_sink: WebhookSink
) -> None:
    sb = sandbox_factory(webhook_timeout=0.3)
    webhook_sink.respond(200, delay=1.0)  # the receiver keeps it, but answers too late
    job = run(sb, "/api/generate/voice", {"text": "hi"}, webhook_sink)

    def delivered() -> list[dict[str, Any]] | None:
        log = sb.webhook_attempts(delivery_id=job["id"])
        return log if any(a["outcome"] == "delivered" for a in log) else None

    log = sb.wait_for(delivered, what="a delivered attempt")
    assert log[0]["outcome"] == "failed" and "Timeout" in log[0]["error"]
    hooks = webhook_sink.wait_for(2)
    keys = {webhooks.parse(h.body, h.headers).dedup_key for h in hooks}
    assert keys == {f"{job['id']}:completed"}  # what a receiver dedups on
    sb.advance(100)  # past every retry
    outcomes = [a["outcome"] for a in sb.webhook_attempts(delivery_id=job["id"])]
    assert outcomes.count("delivered") == 1
    assert outcomes[outcomes.index("delivered") + 1 :] == []  # nothing after the success


def test_a_dropped_delivery_is_retried(frozen: RunningSandbox, webhook_sink: WebhookSink) -> None:
    frozen.fault("webhook_drop", count=2, url=webhook_sink.url + "/*")
    job = run(frozen, "/api/generate/voice", {"text": "hi"}, webhook_sink)
    frozen.advance(1000)
    log = attempts_of(frozen, job["id"], settled=3)
    assert [a["outcome"] for a in log] == ["dropped", "dropped", "delivered"]
    assert len(webhook_sink.wait_for(1)) == 1


def test_a_delayed_delivery_waits(frozen: RunningSandbox, webhook_sink: WebhookSink) -> None:
    frozen.fault("webhook_delay", seconds=10)
    job = run(frozen, "/api/generate/voice", {"text": "hi"}, webhook_sink)
    ended = finish(frozen, job["id"])
    [held] = frozen.webhook_attempts()
    assert held["sent_at"] is None and held["scheduled_at"] == pytest.approx(ended + 10, abs=0.1)
    frozen.advance(10)
    [sent] = attempts_of(frozen, job["id"], settled=1)
    assert sent["outcome"] == "delivered"
    webhook_sink.wait_for(1)


def test_the_log_can_be_cleared_and_a_reset_stops_pending_retries(
    frozen: RunningSandbox, webhook_sink: WebhookSink
) -> None:
    webhook_sink.respond_always(500)
    job = run(frozen, "/api/generate/voice", {"text": "hi"}, webhook_sink)
    finish(frozen, job["id"])
    attempts_of(frozen, job["id"], settled=1)
    assert frozen.http.delete("/_sandbox/webhooks").status_code == 200
    assert frozen.webhook_attempts() == []
    frozen.reset()
    frozen.advance(1000)  # the 5 s and 30 s retries would be due now
    assert frozen.webhook_attempts() == []
    assert len(webhook_sink.requests) == 1
