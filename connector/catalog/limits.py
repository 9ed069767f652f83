"""Numbers the API documents about limits, cadence and delivery (each stated once)."""

from __future__ import annotations

from dataclasses import dataclass

from connector.catalog.spec import JobKind

DEFAULT_BASE_URL = "https://api.creativeai.run"

#: Where a builder finds or creates an API key. The docs name only the page ("Dashboard →
#: API Keys"), no address: the URL is the dashboard's page as we expect it, not a
#: documented one.
API_KEYS_PAGE = "Dashboard → API Keys"
API_KEYS_URL = "https://creativeai.run/dashboard/api-keys"

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


# -- what each platform can hold of a file --------------------------------------------------------

MB = 1_000_000  # the platforms state their limits in MB


@dataclass(frozen=True)
class FileLimit:
    """The most of a file one platform takes in one place (`max_bytes` None: no fixed cap,
    `handling` says how it is kept), with where the platform states it."""

    platform: str  # as a builder names it: "Make", "Zapier", "n8n"
    what: str
    max_bytes: int | None
    handling: str
    source: str

    @property
    def shown(self) -> str:
        """The limit as a builder reads it ("5 MB")."""
        return f"{self.max_bytes / MB:g} MB" if self.max_bytes is not None else "none"


#: A Make custom webhook accepts a payload (Content-Length) of up to 5 MB.
#: Source: https://community.make.com/t/send-audio-file-to-make-com-webhook-getting-502-cloudflare-error/52715/2
#: (Make's "Webhooks" limits, as answered on Make's community).
MAKE_WEBHOOK = FileLimit(
    "Make",
    "webhook payload",
    5 * MB,
    "a larger delivery is refused by Make before the scenario sees it",
    "https://community.make.com/t/send-audio-file-to-make-com-webhook-getting-502-cloudflare-error/52715/2",
)

#: Make passes at most 5 MB of data out of one module (the smallest plan's file size;
#: larger plans allow more, so 5 MB is what every scenario can hold).
#: Source: https://mmsvegas.com/library/make-limits/ ("5 MB per-module data limit").
MAKE_MODULE_FILE = FileLimit(
    "Make",
    "module file",
    5 * MB,
    "a module hands over a file as binary data in its bundle",
    "https://mmsvegas.com/library/make-limits/",
)

#: Zapier: "a hard limit of 150MB on the size of dehydrated files"; it advises not to
#: hydrate files over ~100MB, so a stash keeps to 100 MB.
#: Source: https://docs.zapier.com/platform/build/hydration-limits
ZAPIER_STASH_FILE = FileLimit(
    "Zapier",
    "stashed file",
    100 * MB,
    "z.stashFile keeps the file for later steps (hard limit 150 MB)",
    "https://docs.zapier.com/platform/build/hydration-limits",
)

#: n8n keeps binary data in memory by default ("This can cause crashes when working with
#: large files"); the node streams a download into binary data, which n8n's filesystem mode
#: (N8N_DEFAULT_BINARY_DATA_MODE=filesystem) then keeps on disk. No fixed cap is documented.
#: Source: https://docs.n8n.io/hosting/scaling/binary-data/
N8N_BINARY_DATA = FileLimit(
    "n8n",
    "binary data",
    None,
    "streamed into binary data, never held whole in memory",
    "https://docs.n8n.io/hosting/scaling/binary-data/",
)

FILE_LIMITS = (MAKE_WEBHOOK, MAKE_MODULE_FILE, ZAPIER_STASH_FILE, N8N_BINARY_DATA)


def file_over_limit(limit: FileLimit, size_mb: str) -> str:
    """What a step says when it hands over a file's URL instead of the file; `size_mb` is
    the file's size in MB as the platform renders it ("7.3")."""
    return (
        f"The file is {size_mb} MB, over {limit.platform}'s {limit.what} limit of "
        f"{limit.shown}: use its URL (it stays available for {OUTPUT_URL_LIFETIME_DAYS} days)."
    )
