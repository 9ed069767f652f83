"""Completion webhooks as the API sends them: signed, retried, deduplicated, logged.

A terminal job hands `Deliveries.send` its event, payload and the key's secret. Attempts
run at `limits.WEBHOOK_RETRY_SCHEDULE` seconds after the job ended (sandbox time, so a fast
clock retries fast) until one answers 2xx. The body bytes are made once, so every attempt
carries the same signature. A dedup key (delivery id + status) that was delivered once is
never delivered again. Every attempt lands in the log the control API shows.
"""

from __future__ import annotations

import functools
import itertools
import json
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from connector.catalog import events, limits
from connector.sandbox.clock import Clock, Scheduler
from connector.sandbox.faults import Faults
from connector.webhooks import headers_for

__all__ = ["Attempt", "Deliveries", "tls_context"]


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every client the sandbox makes (building one is slow)."""
    return httpx.create_ssl_context()


@dataclass
class Attempt:
    """One try at delivering one event to one URL."""

    delivery: int  # sequence number of the delivery (all attempts of one event share it)
    attempt: int  # 1, 2, 3 ...
    event: str
    delivery_id: str
    dedup_key: str
    url: str
    scheduled_at: float  # sandbox seconds
    sent_at: float | None = None  # sandbox seconds
    time: str = ""  # ISO time of the attempt (sandbox clock)
    status_code: int | None = None
    error: str | None = None
    outcome: str = "pending"  # then delivered, failed, dropped or duplicate
    signed: bool = False
    gave_up: bool = False  # the last attempt failed: no more retries

    def view(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Delivery:
    number: int
    event: str
    delivery_id: str
    dedup_key: str
    url: str
    body: bytes = field(repr=False)
    headers: dict[str, str] = field(repr=False)
    ended_at: float
    generation: int  # `Deliveries.clear` starts a new one: older retries stop
    attempts: int = 0


class Deliveries:
    def __init__(
        self,
        clock: Clock,
        scheduler: Scheduler,
        faults: Faults,
        *,
        timeout: float = 10.0,
        schedule: tuple[float, ...] = limits.WEBHOOK_RETRY_SCHEDULE,
    ) -> None:
        self.clock = clock
        self.scheduler = scheduler
        self.faults = faults
        self.schedule = schedule
        self._http = httpx.Client(timeout=timeout, follow_redirects=False, verify=tls_context())
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sandbox-webhook")
        self._numbers = itertools.count(1)
        self._log: list[Attempt] = []
        self._delivered: set[str] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._generation = 0

    def send(
        self,
        event: str,
        delivery_id: str,
        url: str,
        payload: dict[str, Any],
        secret: str | None,
        *,
        ended_at: float | None = None,
    ) -> None:
        """Deliver `payload` as `event` to `url`; attempts are timed from `ended_at` (sandbox
        time the job ended; default now)."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        delivery = _Delivery(
            number=next(self._numbers),
            event=event,
            delivery_id=delivery_id,
            dedup_key=events.dedup_key(delivery_id, payload),
            url=url,
            body=body,
            headers=headers_for(event, delivery_id, body, secret),
            ended_at=self.clock.now() if ended_at is None else ended_at,
            generation=self._generation,
        )
        self._plan(delivery)

    def _plan(self, delivery: _Delivery) -> None:
        """Schedule the next attempt at its offset from the job's end (at once if past)."""
        index = delivery.attempts
        due = delivery.ended_at + self.schedule[index]
        attempt = Attempt(
            delivery=delivery.number,
            attempt=index + 1,
            event=delivery.event,
            delivery_id=delivery.delivery_id,
            dedup_key=delivery.dedup_key,
            url=delivery.url,
            scheduled_at=due,
            signed=limits.SIGNATURE_HEADER in delivery.headers,
        )
        delivery.attempts += 1
        with self._lock:
            self._log.append(attempt)
        self.scheduler.at(due, lambda: self._fire(delivery, attempt))

    def _fire(self, delivery: _Delivery, attempt: Attempt) -> None:
        """Runs on the scheduler: decide the attempt's fate, post it off the scheduler thread."""
        if self._closed or delivery.generation != self._generation:
            return
        now = self.clock.now()
        with self._lock:
            duplicate = delivery.dedup_key in self._delivered
        if duplicate:
            self._update(attempt, sent_at=now, time=self.clock.iso(now), outcome="duplicate")
            return
        held = self.faults.take_webhook("webhook_delay", delivery.url)
        if held is not None and held.seconds:
            due = attempt.scheduled_at + held.seconds
            self._update(attempt, scheduled_at=due)
            self.scheduler.at(due, lambda: self._fire(delivery, attempt))
            return
        self._update(attempt, sent_at=now, time=self.clock.iso(now))
        if self.faults.take_webhook("webhook_drop", delivery.url) is not None:
            self._update(
                attempt, outcome="dropped", error="dropped by a sandbox fault (webhook_drop)"
            )
            self._next(delivery, attempt)
            return
        self._pool.submit(self._post, delivery, attempt)

    def _update(self, attempt: Attempt, **changes: Any) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(attempt, name, value)

    def _post(self, delivery: _Delivery, attempt: Attempt) -> None:
        try:
            answer = self._http.post(delivery.url, content=delivery.body, headers=delivery.headers)
        except httpx.HTTPError as exc:
            self._update(attempt, error=f"{type(exc).__name__}: {exc}", outcome="failed")
        else:
            if answer.is_success:
                with self._lock:
                    first = delivery.dedup_key not in self._delivered
                    self._delivered.add(delivery.dedup_key)
                    attempt.status_code = answer.status_code
                    attempt.outcome = "delivered" if first else "duplicate"
                return
            self._update(attempt, status_code=answer.status_code, outcome="failed")
        self._next(delivery, attempt)

    def _next(self, delivery: _Delivery, attempt: Attempt) -> None:
        if self._closed or delivery.generation != self._generation:
            return
        if delivery.attempts < len(self.schedule):
            self._plan(delivery)
        else:
            self._update(attempt, gave_up=True)

    def log(self) -> list[dict[str, Any]]:
        with self._lock:
            return [a.view() for a in self._log]

    def delivered(self) -> set[str]:
        with self._lock:
            return set(self._delivered)

    def clear_log(self) -> None:
        """Forget the attempts logged so far (deliveries under way go on)."""
        with self._lock:
            self._log.clear()

    def clear(self) -> None:
        """Forget the log and what was delivered; pending retries are dropped."""
        with self._lock:
            self._generation += 1
            self._log.clear()
            self._delivered.clear()

    def close(self) -> None:
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()
