"""What the relay stores: plain, typed rows shared by every storage backend."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    DELIVERING = "delivering"  # claimed by a worker (lease until next_attempt_at)
    SUCCEEDED = "succeeded"
    DEAD = "dead"  # every attempt failed, or the target was refused: replayable
    CANCELED = "canceled"  # the target said 410 Gone, or its route/subscription ended


class RouteStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"  # the target answered 410, or a join route was forwarded
    DELETED = "deleted"


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"  # unsubscribed through the API
    GONE = "gone"  # the target answered 410


#: Terminal delivery states a replay may pick up.
REPLAYABLE = (DeliveryStatus.DEAD, DeliveryStatus.CANCELED, DeliveryStatus.SUCCEEDED)


_TAIL_BITS = 48
_id_lock = threading.Lock()
_last_id = (0, 0)  # (milliseconds, tail) of the last id made in this process
# Random bytes for the tails, drawn from the OS a page at a time (one syscall per id
# showed up in the inbound path's profile); used under _id_lock.
_entropy = b""
_ENTROPY_BYTES = 4096


def _random_below(bound: int) -> int:
    """A uniformly random integer in [0, bound), bound <= 2**48 (caller holds _id_lock)."""
    global _entropy
    while True:
        if len(_entropy) < 6:
            _entropy = os.urandom(_ENTROPY_BYTES)
        value, _entropy = int.from_bytes(_entropy[:6], "big"), _entropy[6:]
        # Reject the top partial range so every value below `bound` is equally likely.
        if value < (1 << 48) - (1 << 48) % bound:
            return value % bound


def new_id(prefix: str) -> str:
    """A time-ordered id (`dlv_018c…`): sorting by id sorts by creation time.

    12 hex digits of milliseconds, then 12 of a random tail; within one millisecond a
    process's ids still increase (the tail steps up by a random amount), so a page of
    deliveries made in the same millisecond keeps its order.
    """
    global _last_id
    now = time.time_ns() // 1_000_000
    with _id_lock:
        last_ms, last_tail = _last_id
        if now <= last_ms:
            now, tail = last_ms, last_tail + 1 + _random_below(1 << 16)
            if tail >= 1 << _TAIL_BITS:  # the millisecond is used up: borrow the next one
                now, tail = now + 1, _random_below(1 << (_TAIL_BITS - 1))
        else:
            tail = _random_below(1 << (_TAIL_BITS - 1))  # room to step up in this millisecond
        _last_id = (now, tail)
    return f"{prefix}_{now:012x}{tail:012x}"


def dump_list(values: tuple[str, ...] | None) -> str | None:
    return None if values is None else json.dumps(list(values))


def load_list(raw: str | None) -> tuple[str, ...] | None:
    return None if raw is None else tuple(json.loads(raw))


@dataclass(frozen=True)
class Route:
    """One job's (or one join's) webhook URL, bound to one target."""

    id: str
    tenant_id: str
    target_url: str
    secret_sealed: str  # the route's Standard Webhooks secret, sealed with the token keys
    created_at: float
    expires_at: float
    events: tuple[str, ...] | None = None  # None: every event
    status: RouteStatus = RouteStatus.ACTIVE
    ended_reason: str | None = None
    ended_at: float | None = None
    accept_409: bool = True
    fan_out_batch: bool = False
    expect: int | None = None  # a join route: forward once, when this many items arrived
    expected_ids: tuple[str, ...] = ()
    deadline_at: float | None = None
    joined_at: float | None = None

    @property
    def is_join(self) -> bool:
        return self.expect is not None


@dataclass(frozen=True)
class Subscription:
    """A REST-hook subscription: every matching event of the tenant goes to its target."""

    id: str
    tenant_id: str
    target_url: str
    secret_sealed: str
    created_at: float
    events: tuple[str, ...] | None = None
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE
    ended_reason: str | None = None
    ended_at: float | None = None
    accept_409: bool = True
    fan_out_batch: bool = False


@dataclass(frozen=True)
class Event:
    """One verified webhook as received: the raw body verbatim, with its headers."""

    id: str
    tenant_id: str
    route_id: str | None
    dedup_key: str
    event_name: str
    delivery_id: str  # X-CreativeAI-Delivery-Id
    body: bytes
    headers: dict[str, str]
    received_at: float


@dataclass(frozen=True)
class Delivery:
    """One event (or one fanned-out part, or one join) on its way to one target."""

    id: str
    tenant_id: str
    target_url: str
    event_name: str
    api_delivery_id: str  # sent as X-CreativeAI-Delivery-Id
    message_id: str  # sent as webhook-id; stable across retries and replays
    received_at: float  # when the (last) event behind it arrived: forward lag starts here
    created_at: float
    next_attempt_at: float | None
    event_id: str | None = None
    route_id: str | None = None
    subscription_id: str | None = None
    payload: bytes | None = None  # None: forward the event's raw body verbatim
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    run_attempts: int = 0  # attempts since the schedule last (re)started
    last_status_code: int | None = None
    last_error: str | None = None
    updated_at: float | None = None
    completed_at: float | None = None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status.value,
            "event": self.event_name,
            "delivery_id": self.api_delivery_id,
            "message_id": self.message_id,
            "event_id": self.event_id,
            "route_id": self.route_id,
            "subscription_id": self.subscription_id,
            "target_url": self.target_url,
            "attempts": self.attempts,
            "next_attempt_at": iso(self.next_attempt_at)
            if self.status is DeliveryStatus.PENDING
            else None,
            "last_status_code": self.last_status_code,
            "last_error": self.last_error,
            "received_at": iso(self.received_at),
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "completed_at": iso(self.completed_at),
        }


@dataclass(frozen=True)
class Attempt:
    delivery_id: str
    number: int
    started_at: float
    duration_ms: float
    outcome: str  # see worker.Outcome
    status_code: int | None = None
    error: str | None = None
    response_excerpt: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "started_at": iso(self.started_at),
            "duration_ms": round(self.duration_ms, 1),
            "outcome": self.outcome,
            "status_code": self.status_code,
            "error": self.error,
            "response_excerpt": self.response_excerpt,
        }


@dataclass(frozen=True)
class Claim:
    """A delivery a worker holds until `lease_until`, with what it needs to send it."""

    delivery: Delivery
    claim_id: str
    body: bytes
    headers: dict[str, str]
    secret_sealed: str
    accept_409: bool


@dataclass(frozen=True)
class AttemptResult:
    """How one attempt ended and what happens next, written in one transaction."""

    attempt: Attempt
    status: DeliveryStatus
    next_attempt_at: float | None
    end_route: str | None = None  # the target said 410: end this route…
    end_subscription: str | None = None  # …or remove this subscription
    reason: str | None = None


@dataclass(frozen=True)
class DeliveryFilter:
    statuses: tuple[DeliveryStatus, ...] = ()
    event: str | None = None
    since: float | None = None
    until: float | None = None
    route_id: str | None = None
    subscription_id: str | None = None
    limit: int = 50
    cursor: str | None = None  # the last id of the previous page


@dataclass(frozen=True)
class Page:
    items: list[Delivery]
    next_cursor: str | None


@dataclass
class JoinItem:
    item_id: str
    event_id: str
    body: bytes
    received_at: float


@dataclass
class Counts:
    by_status: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class LedgerEntry:
    """What a Record key of one paid create got: the job it started (`job_id`) or, for a
    synchronous create, the API's answer (`result`); exactly one of the two is set."""

    tenant_id: str
    operation: str
    key: str
    job_id: str | None
    result: dict[str, Any] | None
    created_at: float
    expires_at: float

    def public(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "key": self.key,
            "job_id": self.job_id,
            "result": self.result,
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
        }


def iso(ts: float | None) -> str | None:
    """RFC 3339 UTC with milliseconds, or None."""
    if ts is None:
        return None
    stamp = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def parse_time(raw: str) -> float:
    """Epoch seconds from RFC 3339 (`2026-11-22T10:00:00Z`); naive times are UTC."""
    moment = datetime.fromisoformat(raw.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
