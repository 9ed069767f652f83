"""The relay's Prometheus metrics, in a registry of their own (one per app or worker).

`/metrics` serves `Metrics.render()`. Counters and histograms are per process: with
several gunicorn workers or a separate `relay worker`, scrape each process (a worker
can serve its own with `--metrics-port`). `relay_deliveries` (by status) is read from
the database at scrape time, so it is the same whichever process answers.

A change that is stored and then counted (an attempt's result) runs inside
`recording()`, and `render()` first waits for every recording that had begun: a reader
who saw the change in the database and then scrapes sees it counted too.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# `*_created` samples (one per series) only bloat the page; Prometheus does not need them.
disable_created_metrics()  # type: ignore[no-untyped-call]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Inbound rejection reasons (the `reason` label of relay_rejected_total).
REJECT_REASONS = (
    "unknown_token",
    "expired",
    "route_ended",
    "too_large",
    "unsupported_media_type",
    "bad_signature",
    "malformed",
)

_ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_LAG_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800, 7200, 36000, 100000)


class _DeliveryGauge(Collector):
    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "relay_deliveries", "Deliveries in the database, by status", labels=["status"]
        )
        try:
            counts = self._counts()
        except Exception:
            return []
        for status, count in sorted(counts.items()):
            family.add_metric([status], count)
        return [family]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.received = Counter(
            "relay_events_received",
            "Verified webhooks accepted and stored, by token kind",
            ["kind"],
            registry=r,
        )
        self.duplicates = Counter(
            "relay_events_duplicate", "Verified webhooks answered as duplicates", registry=r
        )
        self.rejected = Counter(
            "relay_rejected", "Inbound webhooks refused, by reason", ["reason"], registry=r
        )
        self.forwarded = Counter("relay_forwarded", "Deliveries the target accepted", registry=r)
        self.attempts = Counter(
            "relay_attempts", "Forwarding attempts, by outcome", ["outcome"], registry=r
        )
        self.dead_letters = Counter(
            "relay_dead_letters", "Deliveries that ran out of attempts", registry=r
        )
        self.canceled = Counter(
            "relay_canceled", "Deliveries canceled because the target is gone", registry=r
        )
        self.joins = Counter(
            "relay_joins", "Join routes forwarded, by completeness", ["complete"], registry=r
        )
        self.ack_seconds = Histogram(
            "relay_ack_seconds",
            "Time from an inbound request's arrival to the relay's answer",
            buckets=_ACK_BUCKETS,
            registry=r,
        )
        self.forward_lag_seconds = Histogram(
            "relay_forward_lag_seconds",
            "Time from an event's arrival to the target's 2xx",
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.attempt_seconds = Histogram(
            "relay_attempt_seconds",
            "Duration of one forwarding attempt",
            buckets=(*_ACK_BUCKETS, 5.0, 10.0, 15.0, 30.0),
            registry=r,
        )
        for reason in REJECT_REASONS:
            self.rejected.labels(reason=reason)
        self._tickets = itertools.count(1)
        self._recording: set[int] = set()
        self._recorded = threading.Condition()

    @contextmanager
    def recording(self) -> Iterator[None]:
        """Store and count inside this block: a scrape waits for the block to end."""
        with self._recorded:
            ticket = next(self._tickets)
            self._recording.add(ticket)
        try:
            yield
        finally:
            with self._recorded:
                self._recording.discard(ticket)
                self._recorded.notify_all()

    def _settle(self, timeout: float = 2.0) -> None:
        """Wait (at most `timeout`) for the recordings that began before this call."""
        with self._recorded:
            begun = next(self._tickets)
            self._recorded.wait_for(lambda: not any(t < begun for t in self._recording), timeout)

    def watch_storage(self, counts: Callable[[], dict[str, int]]) -> None:
        """Export deliveries per status, read from storage at scrape time."""
        self.registry.register(_DeliveryGauge(counts))

    def render(self) -> bytes:
        self._settle()
        return generate_latest(self.registry)
