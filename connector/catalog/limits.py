"""Numbers the API documents about limits, cadence and delivery (each stated once)."""

from __future__ import annotations

from dataclasses import dataclass

from connector.catalog.spec import JobKind

DEFAULT_BASE_URL = "https://api.creativeai.run"

#: Every call carries `Authorization: Bearer <API key>`.
AUTH_HEADER = "Authorization"
AUTH_SCHEME = "Bearer"

#: Requests per minute per key, by plan; video creation and polling have their own caps.
RATE_LIMIT_PER_MINUTE = {"free": 10, "pro": 100, "enterprise": 1000}
VIDEO_CREATE_PER_MINUTE = 5
POLL_PER_MINUTE = 120
MAX_PARALLEL_REQUESTS = 50

BATCH_MAX_PROMPTS = 20
OUTPUT_URL_LIFETIME_DAYS = 7


@dataclass(frozen=True)
class Cadence:
    """How a job of one kind is polled: every `interval` s, giving up after `timeout` s."""

    interval: float
    timeout: float


POLL_CADENCE: dict[JobKind, Cadence] = {
    JobKind.VIDEO: Cadence(interval=10.0, timeout=30 * 60.0),
    JobKind.BATCH: Cadence(interval=10.0, timeout=60 * 60.0),
    JobKind.SHARED: Cadence(interval=3.0, timeout=15 * 60.0),
}

#: When the API (re)sends a completion webhook, in seconds after the job ends.
WEBHOOK_RETRY_SCHEDULE = (0.0, 5.0, 30.0)

EVENT_HEADER = "X-CreativeAI-Event"
DELIVERY_ID_HEADER = "X-CreativeAI-Delivery-Id"
SIGNATURE_HEADER = "X-CreativeAI-Signature"
SIGNATURE_PREFIX = "sha256="

RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
MODEL_ACTUAL_HEADER = "x-model-actual"
FAILOVER_USED_HEADER = "x-failover-used"

#: How a client says it wants a progress stream (with `stream: true` in the body).
STREAM_MEDIA_TYPE = "text/event-stream"

#: How long to wait before retrying, when an answer says so: `retry-after-ms` (milliseconds,
#: the finer variant gateways send) first, then the documented `Retry-After` (seconds or an
#: HTTP date).
RETRY_AFTER_MS_HEADER = "retry-after-ms"
RETRY_AFTER_HEADER = "Retry-After"


@dataclass(frozen=True)
class RetrySchedule:
    """How a client retries a call that was refused or never answered (openai-python's rule).

    Retry `n` (from 0) waits `min(initial * 2**n, maximum)` seconds less up to `jitter` of it,
    unless the answer names a delay (Retry-After), which is honoured up to `max_retry_after`.
    """

    retries: int
    initial: float
    maximum: float
    jitter: float
    max_retry_after: float


CLIENT_RETRY = RetrySchedule(retries=2, initial=0.5, maximum=8.0, jitter=0.25, max_retry_after=120)
