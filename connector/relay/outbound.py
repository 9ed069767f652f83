"""One forwarding attempt: the request the relay sends, and what the answer means.

The body is the event's raw body verbatim (or a fanned-out job / a join). Headers: the
original `X-CreativeAI-*` headers (Event, Delivery-Id, …) without the API's signature,
and the Standard Webhooks headers (`webhook-id`, `webhook-timestamp`,
`webhook-signature`) signed with the route's or subscription's own secret.

Answers: 2xx done; 409 done when the route/subscription accepts it (an n8n resume URL
that already resumed); 410 the target is gone; 3xx is a failure (redirects are never
followed); anything else, a timeout or a connection error is retried on the schedule.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import StrEnum

import httpx

from connector import __version__
from connector.catalog import limits
from connector.relay import signing
from connector.relay.logs import target_host
from connector.relay.ssrf import TargetPolicy, TargetRefused, guarded_client

EXCERPT_BYTES = 1024
USER_AGENT = f"creativeai-relay/{__version__}"


class Outcome(StrEnum):
    SUCCESS = "success"  # 2xx
    CONFLICT_DONE = "conflict_done"  # 409 taken as done
    GONE = "gone"  # 410
    REDIRECT = "redirect"  # 3xx: never followed
    RATE_LIMITED = "rate_limited"  # 429
    HTTP_ERROR = "http_error"  # any other status
    TIMEOUT = "timeout"
    CONNECTION = "connection_error"
    REFUSED = "refused"  # the SSRF guard refused the target
    ERROR = "error"  # the relay failed to send (a bug): retried like a failure

    @property
    def done(self) -> bool:
        return self in (Outcome.SUCCESS, Outcome.CONFLICT_DONE)


@dataclass(frozen=True)
class Sent:
    outcome: Outcome
    duration: float
    status_code: int | None = None
    error: str | None = None
    excerpt: str | None = None
    retry_after: float | None = None


_FIELD_VALUE = re.compile(r"[\t\x20-\x7e]*")
_FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def travels(value: str) -> bool:
    """True when `value` can be sent as an HTTP header value as it is: printable ASCII,
    spaces and tabs (no NUL or other control character, nothing beyond ASCII)."""
    return _FIELD_VALUE.fullmatch(value) is not None


def travels_as_name(name: str) -> bool:
    """True when `name` is an HTTP header name (an RFC 9110 token)."""
    return _FIELD_NAME.fullmatch(name) is not None


def request_headers(
    event_headers: dict[str, str],
    event_name: str,
    api_delivery_id: str,
    message_id: str,
    body: bytes,
    secret: str,
    now: float | None = None,
) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    replaced = {
        h.lower() for h in (limits.SIGNATURE_HEADER, limits.EVENT_HEADER, limits.DELIVERY_ID_HEADER)
    }
    for name, value in event_headers.items():
        if name.lower() not in replaced and name.lower() not in headers:
            headers[name] = value
    headers[limits.EVENT_HEADER] = event_name
    headers[limits.DELIVERY_ID_HEADER] = api_delivery_id
    headers.update(signing.headers(message_id, body, secret, now=now))
    return headers


def classify(status: int, accept_409: bool) -> Outcome:
    if 200 <= status < 300:
        return Outcome.SUCCESS
    if status == 409 and accept_409:
        return Outcome.CONFLICT_DONE
    if status == 410:
        return Outcome.GONE
    if 300 <= status < 400:
        return Outcome.REDIRECT
    if status == 429:
        return Outcome.RATE_LIMITED
    return Outcome.HTTP_ERROR


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a `Retry-After` header (delta seconds or an HTTP date), else None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - now)


class Sender:
    """Sends attempts through the SSRF-guarded client (not thread-safe: one per thread).

    `attempt_timeout` bounds the attempt as a whole (connect, request, response headers
    and the excerpt of the body): every read and write of the connection ends by the
    attempt's deadline, so a target that answers a byte at a time is cut there too.
    """

    def __init__(self, policy: TargetPolicy, attempt_timeout: float, connect_timeout: float):
        self._timeout = attempt_timeout
        self._ends: float | None = None  # the running attempt's deadline (monotonic)
        self._client = guarded_client(
            policy,
            timeout=httpx.Timeout(attempt_timeout, connect=connect_timeout),
            deadline=lambda: self._ends,
        )

    def close(self) -> None:
        self._client.close()

    def send(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        accept_409: bool,
        within: float | None = None,
    ) -> Sent:
        """One attempt, ended by the attempt timeout or `within` seconds, if sooner."""
        started = time.monotonic()
        self._ends = started + min(self._timeout, self._timeout if within is None else within)
        try:
            return self._send(url, body, headers, accept_409, started)
        finally:
            self._ends = None

    def _send(
        self, url: str, body: bytes, headers: dict[str, str], accept_409: bool, started: float
    ) -> Sent:
        try:
            with self._client.stream("POST", url, content=body, headers=headers) as response:
                excerpt = self._excerpt(response)
                outcome = classify(response.status_code, accept_409)
                error = None
                if outcome is Outcome.REDIRECT:
                    error = "redirects are not followed"
                elif not outcome.done and outcome is not Outcome.GONE:
                    error = f"HTTP {response.status_code}"
                return Sent(
                    outcome=outcome,
                    duration=time.monotonic() - started,
                    status_code=response.status_code,
                    error=error,
                    excerpt=excerpt,
                    retry_after=retry_after(response.headers.get("Retry-After"), time.time()),
                )
        except TargetRefused as exc:
            return Sent(Outcome.REFUSED, time.monotonic() - started, error=_refusal(exc, url))
        except httpx.TimeoutException as exc:
            return Sent(Outcome.TIMEOUT, time.monotonic() - started, error=_kind(exc))
        except httpx.TransportError as exc:
            return Sent(Outcome.CONNECTION, time.monotonic() - started, error=_kind(exc))

    def _excerpt(self, response: httpx.Response) -> str:
        """The first KB of the answer; reading stops there, or with what came by the
        deadline (the status is known by then: the answer counts, its excerpt is short)."""
        chunks = bytearray()
        try:
            for chunk in response.iter_raw():
                chunks += chunk
                if len(chunks) >= EXCERPT_BYTES:
                    break
        except httpx.TimeoutException:
            pass
        return bytes(chunks[:EXCERPT_BYTES]).decode("utf-8", "replace")


def _kind(exc: Exception) -> str:
    """An error for the delivery log: the exception type, never its text (it may quote URLs)."""
    names = {
        "ConnectTimeout": "connect timeout",
        "ReadTimeout": "read timeout",
        "WriteTimeout": "write timeout",
        "PoolTimeout": "pool timeout",
        "ConnectError": "connection failed",
        "ReadError": "connection reset while reading",
        "WriteError": "connection reset while writing",
        "RemoteProtocolError": "connection closed or protocol error",
    }
    return names.get(type(exc).__name__, type(exc).__name__)


def _refusal(exc: TargetRefused, url: str) -> str:
    return f"target refused ({exc.reason}): {exc.detail} [{target_host(url)}]"
