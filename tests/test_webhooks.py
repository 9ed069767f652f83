"""Webhook signatures over raw bytes, parsing into typed events, dedup keys."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector import webhooks
from connector.catalog.events import BatchEventPayload, VideoEventPayload, VoiceEventPayload

KEY = "sk-test-secret"

# Payloads as the API docs show them.
VIDEO_FAILED = {
    "id": "vgen_xyz789",
    "object": "video.generation",
    "status": "failed",
    "model": "auto",
    "model_actual": "kling-o3-pro-t2v",
    "prompt": "A drone shot over mountains at sunset",
    "output_url": None,
    "error": {
        "message": "Video generation timed out after 10 minutes",
        "type": "server_error",
        "code": "generation_timeout",
    },
    "error_message": "Video generation timed out after 10 minutes",
    "credits": 0,
    "credits_refunded": 60,
    "failover_used": True,
    "completed_at": "2026-03-09T16:20:02Z",
}
BATCH_DONE = {
    "batch_id": "video_batch_abc123",
    "object": "video.batch",
    "status": "completed",
    "total_jobs": 1,
    "completed": 1,
    "failed": 0,
    "jobs": [
        {
            "id": "vid_xyz1",
            "prompt": "p",
            "status": "completed",
            "output_url": "https://cdn.example/v.mp4",
            "credits": 30,
        }
    ],
    "total_credits": 30,
    "completed_at": "2026-03-09T16:15:00Z",
}


def _hex(body: bytes, key: str = KEY) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def test_sign_matches_an_independent_hmac() -> None:
    body = b'{"id":"vgen_abc123","status":"completed"}'
    assert webhooks.sign(body, KEY) == "sha256=" + _hex(body)


def test_verify_accepts_the_exact_bytes() -> None:
    body = json.dumps(VIDEO_FAILED).encode()
    assert webhooks.verify(body, "sha256=" + _hex(body), KEY)
    assert webhooks.verify(body, "sha256=" + _hex(body).upper(), KEY)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha1=abc",
        "SHA256=" + "0" * 64,
        "sha256=" + "0" * 64,
        "sha256=zz",
        "sha256=" + "é" * 64,
    ],
)
def test_verify_refuses_bad_headers(header: str | None) -> None:
    assert webhooks.verify(b"{}", header, KEY) is False


def test_verify_refuses_reserialized_json() -> None:
    raw = b'{"id": "vgen_1",  "status": "completed"}'
    reserialized = json.dumps(json.loads(raw)).encode()
    assert raw != reserialized
    assert not webhooks.verify(reserialized, webhooks.sign(raw, KEY), KEY)


def test_verify_refuses_another_secret_and_an_empty_one() -> None:
    body = b"{}"
    assert not webhooks.verify(body, webhooks.sign(body, KEY), "sk-other")
    assert not webhooks.verify(body, webhooks.sign(body, ""), "")


@given(st.binary(max_size=2048), st.binary(min_size=1, max_size=64))
def test_verify_any_body_and_flipped_bit(body: bytes, secret: bytes) -> None:
    signature = webhooks.sign(body, secret)
    assert webhooks.verify(body, signature, secret)
    tampered = body + b" " if not body else bytes([body[0] ^ 1]) + body[1:]
    assert not webhooks.verify(tampered, signature, secret)


def _headers(event: str, delivery_id: str, body: bytes) -> dict[str, str]:
    return webhooks.headers_for(event, delivery_id, body, KEY)


def test_headers_for_carries_event_delivery_and_signature() -> None:
    body = b"{}"
    headers = _headers("video.generation.completed", "vgen_1", body)
    assert headers["X-CreativeAI-Event"] == "video.generation.completed"
    assert headers["X-CreativeAI-Delivery-Id"] == "vgen_1"
    assert webhooks.verify(body, headers["X-CreativeAI-Signature"], KEY)
    assert "X-CreativeAI-Signature" not in webhooks.headers_for("e.x", "i", body, None)


def test_parse_video_failed() -> None:
    body = json.dumps(VIDEO_FAILED).encode()
    delivery = webhooks.parse(body, _headers("video.generation.failed", "vgen_xyz789", body))
    assert isinstance(delivery.payload, VideoEventPayload)
    assert delivery.payload.state == "failed"
    assert delivery.payload.error is not None
    assert delivery.payload.error.code == "generation_timeout"
    assert delivery.payload.credits_refunded == 60
    assert delivery.dedup_key == "vgen_xyz789:failed"
    assert delivery.documented and delivery.resource == "video"


def test_parse_batch_uses_batch_id() -> None:
    body = json.dumps(BATCH_DONE).encode()
    delivery = webhooks.parse(body, {"x-creativeai-event": "video.batch.completed"})
    assert isinstance(delivery.payload, BatchEventPayload)
    assert delivery.delivery_id == "video_batch_abc123"  # from the payload, header absent
    assert delivery.payload.jobs[0].state == "completed"


def test_parse_keeps_unknown_fields() -> None:
    body = json.dumps(
        {
            "id": "voice_1",
            "object": "voice.generation",
            "status": "completed",
            "duration_seconds": 4.2,
            "new_field": [1, 2],
        }
    ).encode()
    delivery = webhooks.parse(body, {})
    assert delivery.event == "voice.generation.completed"  # derived from object + status
    assert isinstance(delivery.payload, VoiceEventPayload)
    assert delivery.body["new_field"] == [1, 2]


def test_parse_undocumented_event_is_accepted_and_marked() -> None:
    body = json.dumps(
        {"id": "comp_1", "status": "COMPLETED", "output_url": "https://x/y.mp4"}
    ).encode()
    delivery = webhooks.parse(body, _headers("compose.generation.completed", "comp_1", body))
    assert not delivery.documented
    assert delivery.dedup_key == "comp_1:completed"


@pytest.mark.parametrize(
    "body,headers,words",
    [
        (b"not json", {}, "not JSON"),
        (b"[1, 2]", {}, "not a JSON object"),
        (b"\xff\xfe", {}, "not JSON"),
        (b'{"status": "completed"}', {}, "X-CreativeAI-Event"),
        (
            b'{"id": "v", "status": "exploded"}',
            {"X-CreativeAI-Event": "video.generation.completed"},
            "exploded",
        ),
        (b'{"status": "completed"}', {"X-CreativeAI-Event": "video.generation.completed"}, "id"),
    ],
)
def test_parse_refuses_malformed(body: bytes, headers: dict[str, str], words: str) -> None:
    with pytest.raises(webhooks.WebhookError, match=words) as caught:
        webhooks.parse(body, headers)
    assert caught.value.reason == "malformed"


@given(st.binary(max_size=512), st.dictionaries(st.text(max_size=30), st.text(max_size=60)))
def test_parse_never_raises_anything_else(body: bytes, headers: dict[str, str]) -> None:
    with contextlib.suppress(webhooks.WebhookError):
        webhooks.parse(body, headers)
