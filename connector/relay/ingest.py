"""What a verified inbound webhook becomes: one stored event and its deliveries.

`ingest` runs in ONE transaction: the event (raw body verbatim, dedup key unique per
tenant), one delivery per target (the route's, or every matching subscription's), the
batch fan-out and the join bookkeeping. Only after it commits does the relay answer 2xx.

Fan-out: a `video.batch.completed` sent to a route/subscription with `fan_out_batch`
becomes one forwarded event per job: the job object as the API sent it inside `jobs`,
plus `object` and `batch_id`, under the event a single job would have sent
(`catalog.events.BATCH_JOB_EVENTS`); `X-CreativeAI-Delivery-Id` is the job id and the
`webhook-id` is `<event id>.<job index>`.

Join routes (`expect: N`): each arriving completion is an item (its delivery id; with
`fan_out_batch`, each job of a batch). When N distinct items arrived (or, if the route
was given `expected_ids`, all of those), the items are forwarded once, together:
`{"route_id", "expected", "received", "events": [<bodies verbatim>], "missing": [ids]}`.
If the deadline comes first, the worker forwards what arrived, naming the missing ids
(`missing_count` says how many are missing when the ids were never told).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from connector.catalog import events as catalog_events
from connector.catalog import limits
from connector.catalog.events import BatchEventPayload
from connector.catalog.states import normalize
from connector.relay.storage import (
    Delivery,
    DeliveryStatus,
    Event,
    JoinItem,
    Route,
    RouteStatus,
    Storage,
    Subscription,
    Tx,
    new_id,
)
from connector.relay.storage.base import BatchWork
from connector.webhooks import Delivery as Webhook

#: X-CreativeAI-Event of a join route's combined delivery (the relay's own, not the API's).
JOIN_EVENT = "relay.join.completed"
#: Inbound headers kept with an event and forwarded (the API's signature is not kept).
_KEPT_PREFIX = "x-creativeai-"


class RouteNotFound(LookupError):
    pass


class RouteEnded(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(f"route ended: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class Ingested:
    event_id: str
    duplicate: bool = False
    deliveries: int = 0
    late: bool = False  # a join route that had already been forwarded
    joined: bool = False  # this event completed a join


def kept_headers(headers: Any) -> dict[str, str]:
    """The inbound headers stored with the event: `X-CreativeAI-*` except the signature."""
    kept = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower.startswith(_KEPT_PREFIX) and lower != limits.SIGNATURE_HEADER.lower():
            kept[name] = value
    return kept


_ENVIRON_PREFIX = "HTTP_" + _KEPT_PREFIX.upper().replace("-", "_")
_ENVIRON_SIGNATURE = "HTTP_" + limits.SIGNATURE_HEADER.upper().replace("-", "_")


def kept_environ_headers(environ: dict[str, Any]) -> dict[str, str]:
    """`kept_headers` straight from a WSGI environ, named as werkzeug names them
    (`X-Creativeai-Event`), without building every header of the request."""
    return {
        key[5:].replace("_", "-").title(): value
        for key, value in environ.items()
        if key.startswith(_ENVIRON_PREFIX) and key != _ENVIRON_SIGNATURE
    }


def matches(filters: Sequence[str] | None, event_name: str) -> bool:
    """None matches every event; otherwise an exact name or a `video.*` style pattern."""
    if filters is None:
        return True
    return any(fnmatch.fnmatchcase(event_name, f) for f in filters)


@dataclass(frozen=True)
class _Part:
    """One thing to forward: the whole event, or one job of a fanned-out batch."""

    event_name: str
    api_delivery_id: str
    message_id: str
    payload: bytes | None  # None: the event's raw body


def _parts(event_id: str, hook: Webhook, raw_body: bytes, fan_out: bool) -> list[_Part]:
    whole = _Part(hook.event, hook.delivery_id, event_id, None)
    if not fan_out or not isinstance(hook.payload, BatchEventPayload):
        return [whole]
    jobs = hook.body.get("jobs")
    if not isinstance(jobs, list) or not jobs:
        return [whole]
    parts = []
    for index, job in enumerate(jobs):
        if not isinstance(job, dict) or not isinstance(job.get("id"), str):
            continue
        name = _job_event(job, hook.event)
        body = {
            **job,
            "object": job.get("object") or name.rsplit(".", 1)[0],
            "batch_id": hook.delivery_id,
        }
        if "completed_at" not in body and "completed_at" in hook.body:
            body["completed_at"] = hook.body["completed_at"]
        payload = _json_bytes(body)
        parts.append(_Part(name, job["id"], f"{event_id}.{index}", payload))
    return parts or [whole]


def _json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON; a lone surrogate (valid in JSON, not in UTF-8) is kept escaped."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":")).encode()


def _job_event(job: dict[str, Any], batch_event: str) -> str:
    try:
        state = normalize(str(job.get("status")))
    except ValueError:
        return batch_event
    return catalog_events.BATCH_JOB_EVENTS.get(state, batch_event)


def ingest(
    storage: Storage,
    *,
    kind: str,
    tenant_id: str,
    route_id: str | None,
    hook: Webhook,
    raw_body: bytes,
    headers: dict[str, str],
    now: float,
    first_delay: float = 0.0,
) -> Ingested:
    """Store one verified webhook with its deliveries; raises RouteNotFound / RouteEnded."""
    inbound = Inbound(kind, tenant_id, route_id, hook, raw_body, headers, now, first_delay)
    return storage.write(inbound)


@dataclass(frozen=True, eq=False)
class Inbound(BatchWork[Ingested]):
    """One verified webhook to store. Alone (`inbound(tx)`) it locks its route and stores
    itself; under load, group commit stores every queued one through `run_batch` in a
    handful of statements, with the same outcome for each."""

    kind: str
    tenant_id: str
    route_id: str | None
    hook: Webhook
    raw_body: bytes
    headers: dict[str, str]
    now: float
    first_delay: float
    event_id: str = field(default_factory=lambda: new_id("evt"))

    def __call__(self, tx: Tx) -> Ingested:
        route: Route | None = None
        if self.kind == "route":
            route = tx.lock_route(self.route_id or "")
            self.check(route)
        if not tx.insert_events([self.event()]):
            return self.duplicate(tx)
        if route is not None and route.is_join:
            return _join(tx, route, self.event_id, self.hook, self.raw_body, self.now)
        if route is not None:
            targets: list[Route | Subscription] = [route]
        else:
            targets = list(tx.active_subscriptions(self.tenant_id))
        deliveries = self.deliveries(targets)
        tx.insert_deliveries(deliveries)
        return Ingested(event_id=self.event_id, deliveries=len(deliveries))

    @classmethod
    def run_batch(cls, tx: Tx, works: Sequence[Any]) -> list[Ingested | Exception]:
        """Every inbound of a group: one query for the routes, one for the subscriptions,
        one INSERT for the events and one for the deliveries. Join routes (and ids that
        are no plain route) take the one-by-one path, after the others."""
        inbounds: list[Inbound] = list(works)
        results: list[Ingested | Exception | None] = [None] * len(inbounds)
        routes = tx.share_plain_routes(
            sorted({i.route_id or "" for i in inbounds if i.kind == "route"})
        )
        subscriptions = tx.active_subscriptions_of(
            sorted({i.tenant_id for i in inbounds if i.kind != "route"})
        )
        alone: list[int] = []
        ready: list[tuple[int, Inbound, list[Route | Subscription]]] = []
        for index, inbound in enumerate(inbounds):
            targets: list[Route | Subscription]
            if inbound.kind == "route":
                route = routes.get(inbound.route_id or "")
                if route is None:  # a join route, or no such route: see __call__
                    alone.append(index)
                    continue
                try:
                    inbound.check(route)
                except (RouteNotFound, RouteEnded) as refused:
                    results[index] = refused
                    continue
                targets = [route]
            else:
                targets = list(subscriptions.get(inbound.tenant_id, ()))
            ready.append((index, inbound, targets))
        stored = tx.insert_events([inbound.event() for _, inbound, _ in ready])
        deliveries: list[Delivery] = []
        for index, inbound, targets in ready:
            if inbound.event_id not in stored:
                results[index] = inbound.duplicate(tx)
                continue
            made = inbound.deliveries(targets)
            deliveries += made
            results[index] = Ingested(event_id=inbound.event_id, deliveries=len(made))
        tx.insert_deliveries(deliveries)
        for index in alone:
            try:
                results[index] = inbounds[index](tx)
            except (RouteNotFound, RouteEnded) as refused:  # raised before any change
                results[index] = refused
        return [r if r is not None else RuntimeError("not stored") for r in results]

    def check(self, route: Route | None) -> None:
        """RouteNotFound / RouteEnded unless `route` may take this event."""
        if route is None or route.tenant_id != self.tenant_id:
            raise RouteNotFound(self.route_id)
        if route.status is not RouteStatus.ACTIVE and not (
            route.is_join and route.joined_at is not None
        ):
            raise RouteEnded(route.ended_reason or route.status.value)

    def event(self) -> Event:
        route_id = self.route_id if self.kind == "route" else None
        hook = self.hook
        return Event(
            self.event_id,
            self.tenant_id,
            route_id,
            hook.dedup_key,
            hook.event,
            hook.delivery_id,
            self.raw_body,
            self.headers,
            self.now,
        )

    def duplicate(self, tx: Tx) -> Ingested:
        existing = tx.event_id_by_dedup(self.tenant_id, self.hook.dedup_key) or self.event_id
        return Ingested(event_id=existing, duplicate=True)

    def deliveries(self, targets: Sequence[Route | Subscription]) -> list[Delivery]:
        """One delivery per target whose filter takes the event (per job when it fans out)."""
        made = []
        due = self.now + self.first_delay
        for target in targets:
            if not matches(target.events, self.hook.event):
                continue
            for part in _parts(self.event_id, self.hook, self.raw_body, target.fan_out_batch):
                made.append(_delivery(target, self.tenant_id, self.event_id, part, self.now, due))
        return made


def _delivery(
    target: Route | Subscription,
    tenant_id: str,
    event_id: str | None,
    part: _Part,
    now: float,
    due: float,
) -> Delivery:
    is_route = isinstance(target, Route)
    return Delivery(
        id=new_id("dlv"),
        tenant_id=tenant_id,
        target_url=target.target_url,
        event_name=part.event_name,
        api_delivery_id=part.api_delivery_id,
        message_id=part.message_id,
        received_at=now,
        created_at=now,
        next_attempt_at=due,
        event_id=event_id,
        route_id=target.id if is_route else None,
        subscription_id=None if is_route else target.id,
        payload=part.payload,
        status=DeliveryStatus.PENDING,
    )


def _join(
    tx: Tx, route: Route, event_id: str, hook: Webhook, raw_body: bytes, now: float
) -> Ingested:
    if route.joined_at is not None:
        return Ingested(event_id=event_id, late=True)
    if not matches(route.events, hook.event):
        return Ingested(event_id=event_id)
    for part in _parts(event_id, hook, raw_body, route.fan_out_batch):
        body = raw_body if part.payload is None else part.payload
        tx.add_join_item(route.id, JoinItem(part.api_delivery_id, event_id, body, now))
    items = tx.join_items(route.id)
    if not join_complete(route, items) or not tx.mark_joined(route.id, now):
        return Ingested(event_id=event_id)
    tx.insert_delivery(join_delivery(route, items, now, event_id))
    return Ingested(event_id=event_id, deliveries=1, joined=True)


def join_complete(route: Route, items: Sequence[JoinItem]) -> bool:
    """All expected ids arrived, and at least `expect` distinct items."""
    arrived = {item.item_id for item in items}
    return set(route.expected_ids) <= arrived and len(arrived) >= (route.expect or 0)


def join_body(route: Route, items: Sequence[JoinItem]) -> bytes:
    """`{"route_id", "expected", "received", "events": [...], "missing": [...]}`, with every
    item's body spliced in byte for byte."""
    arrived = [item.item_id for item in items]
    missing = [i for i in route.expected_ids if i not in set(arrived)]
    expected = max(route.expect or 0, len(route.expected_ids))
    head = {
        "route_id": route.id,
        "expected": expected,
        "received": len(arrived),
        "complete": join_complete(route, items),
        "missing_count": max(expected - len(arrived), len(missing)),
        "missing": missing,
        "delivery_ids": arrived,
    }
    prefix = json.dumps(head, separators=(",", ":"))[:-1].encode()
    return prefix + b',"events":[' + b",".join(item.body for item in items) + b"]}"


def join_delivery(
    route: Route, items: Sequence[JoinItem], now: float, event_id: str | None = None
) -> Delivery:
    part = _Part(JOIN_EVENT, route.id, f"{route.id}.join", join_body(route, items))
    return _delivery(route, route.tenant_id, event_id, part, now, now)


def close_join(storage: Storage, route_id: str, now: float) -> Delivery | None:
    """At a join route's deadline: forward what arrived, once. None if already forwarded."""
    with storage.transaction() as tx:
        route = tx.lock_route(route_id)
        if route is None or route.joined_at is not None or route.status is not RouteStatus.ACTIVE:
            return None
        items = tx.join_items(route_id)
        if not tx.mark_joined(route_id, now):
            return None
        delivery = join_delivery(route, items, now)
        tx.insert_delivery(delivery)
        return delivery
