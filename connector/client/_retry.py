"""When to retry a call, and how long to wait first. Pure functions, shared by both clients.

A call without side effects (GET, list, price) is retried on connection errors, timeouts,
408, 429 and 5xx. A create call starts paid work, so it is retried only when the server
certainly refused it: an answer of 429 or 5xx, or a connection that failed before the
request was sent. Once a create was sent and its answer lost, it is never retried.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus

import httpx

from connector.catalog import errors as codes
from connector.catalog import limits

__all__ = ["RetryPolicy", "not_sent", "parse_retry_after", "retryable_status"]

_SCHEDULE = limits.CLIENT_RETRY


@dataclass(frozen=True)
class RetryPolicy:
    """How many retries, and the waits between them (defaults: `limits.CLIENT_RETRY`)."""

    max_retries: int = _SCHEDULE.retries
    initial_delay: float = _SCHEDULE.initial
    max_delay: float = _SCHEDULE.maximum
    jitter: float = _SCHEDULE.jitter  # fraction of each backoff shaved off at random
    max_retry_after: float = _SCHEDULE.max_retry_after
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, not {self.max_retries}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be between 0 and 1, not {self.jitter}")

    def backoff(self, retry: int) -> float:
        """The wait before retry number `retry` (0 for the first), jitter applied."""
        base = min(self.initial_delay * 2.0**retry, self.max_delay)
        return base * (1.0 - self.jitter * self.random())

    def delay(self, retry: int, headers: httpx.Headers | None = None) -> float:
        """Wait before a retry: what the answer asks for (at most `max_retry_after`), else
        the backoff."""
        asked = parse_retry_after(headers) if headers is not None else None
        if asked is not None:
            return min(asked, self.max_retry_after)
        return self.backoff(retry)


def parse_retry_after(headers: httpx.Headers, now: Callable[[], float] = time.time) -> float | None:
    """Seconds the answer asks to wait: `retry-after-ms`, then `Retry-After` as seconds or as
    an HTTP date (one already past: 0). None when absent, unreadable or a negative number, so
    the normal backoff applies."""
    raw_ms = headers.get(limits.RETRY_AFTER_MS_HEADER)
    if raw_ms is not None:
        try:
            ms = float(raw_ms)
        except ValueError:
            ms = -1.0
        if ms >= 0:
            return ms / 1000.0
    raw = headers.get(limits.RETRY_AFTER_HEADER)
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        parsed = email.utils.parsedate_tz(raw)
        if parsed is None:
            return None
        return max(email.utils.mktime_tz(parsed) - now(), 0.0)  # a date past: at once
    if seconds != seconds or seconds < 0:  # NaN or negative: ignored, the backoff applies
        return None
    return seconds


def retryable_status(status: int, *, create: bool) -> bool:
    """Whether an error answer may be retried: the catalog's retryable codes (429, 5xx) for
    every call, and 408 too for calls without side effects."""
    if codes.for_status(status).retryable:
        return True
    return not create and status == HTTPStatus.REQUEST_TIMEOUT


def not_sent(exc: httpx.TransportError) -> bool:
    """True when the request certainly never reached the server (safe to retry any call)."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
