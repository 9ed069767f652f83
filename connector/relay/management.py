"""The management API (`/v1/...`), authenticated with the caller's CreativeAI API key.

`Authorization: Bearer <API key>`. The relay keeps no API key: the tenant is
`tenant_id(key)` (a one-way hash), and the key itself only travels sealed inside the
webhook URLs the relay hands out, where it verifies the API's signatures. A tenant
never sees or touches another tenant's objects: they answer 404.

    POST   /v1/routes                    a webhook URL for one job (or a join of N jobs)
    GET    /v1/routes/<id>               DELETE /v1/routes/<id>
    POST   /v1/routes/<id>/expected      tell a join route the ids it waits for
    GET    /v1/inbox                     the tenant's one URL, fanned out to subscriptions
    POST   /v1/subscriptions             GET /v1/subscriptions[/<id>]   DELETE …/<id>
    GET    /v1/deliveries                filters: status, event, since, until, route_id,
                                         subscription_id, limit, cursor
    GET    /v1/deliveries/<id>           with every attempt
    POST   /v1/deliveries/<id>/retry     POST /v1/deliveries/replay {since, until?, status?}
    GET    /v1/ledger/<operation>/<key>  PUT …  {job_id} or {result}   DELETE …
                                         the record-key ledger (ledger.py)
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flask import Blueprint, Response, jsonify, request

from connector.catalog import events as catalog_events
from connector.catalog import limits
from connector.relay import signing
from connector.relay.errors import ErrorResponse, Invalid, NotFound, Unauthorized
from connector.relay.inputs import BadInput, ascii_int, ascii_seconds, checked_time, strict_json
from connector.relay.logs import fields, get_logger, target_host
from connector.relay.relay import Relay, current_relay
from connector.relay.ssrf import TargetRefused, parse_target, resolve_and_check
from connector.relay.storage import (
    REPLAYABLE,
    DeliveryFilter,
    DeliveryStatus,
    Route,
    RouteStatus,
    Subscription,
    SubscriptionStatus,
    iso,
    new_id,
)
from connector.relay.tokens import MAX_TOKEN_LENGTH, Claims, tenant_id

bp = Blueprint("management", __name__, url_prefix="/v1")
log = get_logger("management")

T = TypeVar("T")

MAX_API_KEY_BYTES = 128
MAX_JSON_BYTES = 256 * 1024
MAX_EXPECT = 1000
MAX_FILTERS = 50
MAX_PAGE = 200
MIN_TTL = 60.0
_EVENT_PATTERN = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?$|^\*$")
_ID = re.compile(r"^[a-z]{2,4}_[0-9a-f]{12,40}$")
_ROUTE_FIELDS = (
    "target_url",
    "events",
    "expires_in",
    "expect",
    "expected_ids",
    "deadline",
    "fan_out_batch",
    "accept_409",
)
_SUBSCRIPTION_FIELDS = ("target_url", "events", "fan_out_batch", "accept_409")


# -- request helpers ---------------------------------------------------------------------------


class Tenant:
    def __init__(self, key: str) -> None:
        self.key = key
        self.id = tenant_id(key)

    def __repr__(self) -> str:
        return f"Tenant({self.id})"


def authenticate() -> Tenant:
    header = request.headers.get(limits.AUTH_HEADER, "")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != limits.AUTH_SCHEME.lower() or not key:
        raise Unauthorized(
            f"send your CreativeAI API key as '{limits.AUTH_HEADER}: {limits.AUTH_SCHEME} <key>'"
        )
    if len(key.encode("utf-8", "replace")) > MAX_API_KEY_BYTES or not key.isprintable():
        raise Unauthorized(
            f"the bearer credential is not a CreativeAI API key (printable, at most "
            f"{MAX_API_KEY_BYTES} bytes)"
        )
    return Tenant(key)


def json_body(allowed: tuple[str, ...]) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        raise ErrorResponse(413, "too_large", f"request body is larger than {MAX_JSON_BYTES} bytes")
    raw = request.get_data(cache=False)
    if len(raw) > MAX_JSON_BYTES:
        raise ErrorResponse(413, "too_large", f"request body is larger than {MAX_JSON_BYTES} bytes")
    if not raw.strip():
        data: Any = {}
    else:
        try:
            data = strict_json(raw)
        except BadInput as bad:
            raise Invalid(bad.where, bad.value, bad.allowed) from None
    if not isinstance(data, dict):
        raise Invalid("body", type(data).__name__, "a JSON object")
    for name in data:
        if name not in allowed:
            raise Invalid(name, data[name], "not a known field; known: " + ", ".join(allowed))
    return data


def _bool(data: Mapping[str, Any], name: str, default: bool) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise Invalid(name, value, "true or false")
    return value


def _number(data: Mapping[str, Any], name: str, low: float, high: float) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if _finite(value) is None or not low <= value <= high:
        raise Invalid(name, value, f"a number of seconds from {low:g} to {high:g}")
    return float(value)


def _finite(value: Any) -> float | None:
    """A JSON number as a finite float (None for a bool, a non-number or one too large)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int) and abs(value) > 2**53:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _string_list(
    data: Mapping[str, Any], name: str, check: Callable[[str], bool], allowed: str, most: int
) -> tuple[str, ...] | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not value or len(value) > most:
        raise Invalid(name, value, f"a non-empty list of at most {most} strings: {allowed}")
    for item in value:
        if not isinstance(item, str) or not check(item):
            raise Invalid(f"{name}[]", item, allowed)
    return tuple(dict.fromkeys(value))


def _event_filter(data: Mapping[str, Any]) -> tuple[str, ...] | None:
    known = catalog_events.BY_NAME

    def ok(name: str) -> bool:
        if name in known:
            return True
        return name.endswith("*") and bool(_EVENT_PATTERN.match(name))

    return _string_list(
        data,
        "events",
        ok,
        "event names (" + ", ".join(known) + ") or patterns such as 'video.*'",
        MAX_FILTERS,
    )


def _target(relay: Relay, data: Mapping[str, Any]) -> str:
    url = data.get("target_url")
    if not isinstance(url, str) or not url.strip():
        raise Invalid("target_url", url, "an https URL of the workflow step to call")
    url = url.strip()
    if len(url) > 2048:
        raise Invalid("target_url", url, "a URL of at most 2048 characters")
    try:
        target = parse_target(url, relay.policy)
        resolve_and_check(target.host, target.port, relay.policy)
    except TargetRefused as exc:
        raise Invalid(
            "target_url", url, f"a URL the relay may call; refused ({exc.reason}): {exc.detail}"
        ) from None
    except OSError:
        raise Invalid("target_url", url, "a URL whose host name resolves") from None
    return url


def _deadline(data: Mapping[str, Any], now: float, expires_at: float) -> float | None:
    value = data.get("deadline")
    if value is None:
        return None
    allowed = "seconds from now (number) or an RFC 3339 time, before the route expires"
    if isinstance(value, bool):
        raise Invalid("deadline", value, allowed)
    if isinstance(value, int | float):
        seconds = _finite(value)
        if seconds is None or not 0 < seconds <= expires_at - now:
            raise Invalid("deadline", value, allowed)
        moment = now + seconds
    elif isinstance(value, str):
        try:
            moment = checked_time(value)
        except ValueError:
            raise Invalid("deadline", value, allowed) from None
    else:
        raise Invalid("deadline", value, allowed)
    if moment <= now or moment > expires_at:
        raise Invalid("deadline", value, allowed)
    return moment


def _query_time(name: str) -> float | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    allowed = "an RFC 3339 time (2026-11-22T10:00:00Z) or unix seconds"
    seconds = ascii_seconds(raw)
    if seconds is not None:
        return seconds
    try:
        return checked_time(raw)
    except ValueError:
        raise Invalid(name, raw, allowed) from None


def _found(value: T | None, what: str, ident: str) -> T:
    if value is None:
        raise NotFound(what, ident)
    return value


def _webhook_url(relay: Relay, token: str) -> str:
    base = relay.config.public_url or request.host_url.rstrip("/")
    return f"{base}/hooks/{token}"


# -- routes ---------------------------------------------------------------------------------


def route_view(relay: Relay, route: Route) -> dict[str, Any]:
    view: dict[str, Any] = {
        "route_id": route.id,
        "target_url": route.target_url,
        "events": list(route.events) if route.events is not None else None,
        "status": route.status.value,
        "ended_reason": route.ended_reason,
        "fan_out_batch": route.fan_out_batch,
        "accept_409": route.accept_409,
        "created_at": iso(route.created_at),
        "expires_at": iso(route.expires_at),
    }
    if route.is_join:
        view.update(
            expect=route.expect,
            expected_ids=list(route.expected_ids),
            deadline=iso(route.deadline_at),
            joined_at=iso(route.joined_at),
        )
    return view


@bp.post("/routes")
def create_route() -> tuple[Response, int]:
    relay = current_relay()
    tenant = authenticate()
    data = json_body(_ROUTE_FIELDS)
    target = _target(relay, data)
    now = time.time()
    ttl = _number(data, "expires_in", MIN_TTL, relay.config.route_ttl_max)
    expires_at = now + (ttl if ttl is not None else relay.config.route_ttl)
    expected_ids = _string_list(
        data,
        "expected_ids",
        lambda s: 0 < len(s) <= 256,
        "delivery ids (generation or batch ids) of at most 256 characters",
        MAX_EXPECT,
    )
    expect = data.get("expect")
    if expect is not None and (
        isinstance(expect, bool) or not isinstance(expect, int) or not 1 <= expect <= MAX_EXPECT
    ):
        raise Invalid("expect", expect, f"a whole number of completions from 1 to {MAX_EXPECT}")
    if expected_ids and expect is None:
        expect = len(expected_ids)
    if expected_ids and expect is not None and len(expected_ids) > expect:
        raise Invalid("expected_ids", list(expected_ids), f"at most expect ({expect}) ids")
    deadline = _deadline(data, now, expires_at)
    if deadline is not None and expect is None:
        raise Invalid("deadline", data["deadline"], "only with expect (a join route)")
    route_id = new_id("rt")
    secret = signing.new_secret()
    route = Route(
        id=route_id,
        tenant_id=tenant.id,
        target_url=target,
        secret_sealed=relay.sealer.seal(Claims("route", route_id, tenant.id, secret, None)),
        created_at=now,
        expires_at=expires_at,
        events=_event_filter(data),
        accept_409=_bool(data, "accept_409", True),
        fan_out_batch=_bool(data, "fan_out_batch", False),
        expect=expect,
        expected_ids=expected_ids or (),
        deadline_at=(deadline or expires_at) if expect is not None else None,
    )
    try:
        token = relay.sealer.seal(Claims("route", route_id, tenant.id, tenant.key, expires_at))
    except ValueError:
        raise Unauthorized("the API key is too long to be sealed in a webhook URL") from None
    assert len(token) <= MAX_TOKEN_LENGTH
    relay.storage.create_route(route)
    log.info(
        "route created",
        extra=fields(
            route_id=route_id, tenant=tenant.id, target=target_host(target), expect=expect
        ),
    )
    view = route_view(relay, route)
    view.update(webhook_url=_webhook_url(relay, token), signing_secret=secret)
    return jsonify(view), 201


@bp.get("/routes/<route_id>")
def get_route(route_id: str) -> Response:
    relay = current_relay()
    tenant = authenticate()
    route = _found(relay.storage.get_route(route_id, tenant.id), "route", route_id)
    view = route_view(relay, route)
    if route.is_join:
        view["received_ids"] = relay.storage.join_item_ids(route.id)
    return jsonify(view)


@bp.delete("/routes/<route_id>")
def delete_route(route_id: str) -> tuple[Response, int]:
    relay = current_relay()
    tenant = authenticate()
    if not relay.storage.delete_route(tenant.id, route_id, time.time()):
        _found(relay.storage.get_route(route_id, tenant.id), "route", route_id)
    log.info("route deleted", extra=fields(route_id=route_id, tenant=tenant.id))
    return Response(status=204), 204


@bp.post("/routes/<route_id>/expected")
def add_expected(route_id: str) -> Response:
    relay = current_relay()
    tenant = authenticate()
    data = json_body(("ids",))
    ids = _string_list(
        data, "ids", lambda s: 0 < len(s) <= 256, "delivery ids of at most 256 chars", MAX_EXPECT
    )
    if not ids:
        raise Invalid("ids", data.get("ids"), "a non-empty list of delivery ids")
    route = _found(relay.storage.get_route(route_id, tenant.id), "route", route_id)
    if not route.is_join:
        raise Invalid("route_id", route_id, "a join route (one created with expect)")
    if route.joined_at is not None or route.status is not RouteStatus.ACTIVE:
        # Completions can all arrive before the step that started the jobs names them
        # (fast jobs, a loaded platform): naming ids the join already forwarded is no error.
        if route.joined_at is not None and set(ids) <= set(relay.storage.join_item_ids(route.id)):
            return jsonify(route_view(relay, route))
        raise ErrorResponse(409, "route_closed", f"route {route_id!r} has already been forwarded")
    merged = set(route.expected_ids) | set(ids)
    if route.expect is not None and len(merged) > route.expect:
        raise Invalid("ids", list(ids), f"at most expect ({route.expect}) ids in all")
    updated = _found(relay.storage.add_expected_ids(tenant.id, route_id, ids), "route", route_id)
    return jsonify(route_view(relay, updated))


# -- inbox and subscriptions ------------------------------------------------------------------


def _inbox_url(relay: Relay, tenant: Tenant) -> str:
    try:
        token = relay.sealer.seal(Claims("tenant", tenant.id, tenant.id, tenant.key, None))
    except ValueError:
        raise Unauthorized("the API key is too long to be sealed in a webhook URL") from None
    return _webhook_url(relay, token)


@bp.get("/inbox")
def inbox() -> Response:
    relay = current_relay()
    tenant = authenticate()
    relay.storage.ensure_tenant(tenant.id, time.time())
    return jsonify({"webhook_url": _inbox_url(relay, tenant), "tenant": tenant.id})


def subscription_view(sub: Subscription) -> dict[str, Any]:
    return {
        "id": sub.id,
        "target_url": sub.target_url,
        "events": list(sub.events) if sub.events is not None else None,
        "status": sub.status.value,
        "ended_reason": sub.ended_reason,
        "fan_out_batch": sub.fan_out_batch,
        "accept_409": sub.accept_409,
        "created_at": iso(sub.created_at),
        "ended_at": iso(sub.ended_at),
    }


@bp.post("/subscriptions")
def create_subscription() -> tuple[Response, int]:
    relay = current_relay()
    tenant = authenticate()
    data = json_body(_SUBSCRIPTION_FIELDS)
    target = _target(relay, data)
    sub_id = new_id("sub")
    secret = signing.new_secret()
    sub = Subscription(
        id=sub_id,
        tenant_id=tenant.id,
        target_url=target,
        secret_sealed=relay.sealer.seal(Claims("route", sub_id, tenant.id, secret, None)),
        created_at=time.time(),
        events=_event_filter(data),
        accept_409=_bool(data, "accept_409", True),
        fan_out_batch=_bool(data, "fan_out_batch", False),
    )
    relay.storage.create_subscription(sub)
    log.info(
        "subscription created",
        extra=fields(subscription=sub_id, tenant=tenant.id, target=target_host(target)),
    )
    view = subscription_view(sub)
    view.update(signing_secret=secret, webhook_url=_inbox_url(relay, tenant))
    return jsonify(view), 201


@bp.get("/subscriptions")
def list_subscriptions() -> Response:
    relay = current_relay()
    tenant = authenticate()
    include = request.args.get("include_ended", "false").lower() in ("1", "true", "yes")
    subs = relay.storage.list_subscriptions(tenant.id, include_ended=include)
    return jsonify({"data": [subscription_view(s) for s in subs]})


@bp.get("/subscriptions/<sub_id>")
def get_subscription(sub_id: str) -> Response:
    relay = current_relay()
    tenant = authenticate()
    sub = _found(relay.storage.get_subscription(tenant.id, sub_id), "subscription", sub_id)
    return jsonify(subscription_view(sub))


@bp.delete("/subscriptions/<sub_id>")
def delete_subscription(sub_id: str) -> tuple[Response, int]:
    relay = current_relay()
    tenant = authenticate()
    if not relay.storage.delete_subscription(tenant.id, sub_id, time.time()):
        sub = _found(relay.storage.get_subscription(tenant.id, sub_id), "subscription", sub_id)
        if sub.status is SubscriptionStatus.ACTIVE:  # pragma: no cover - a race
            raise ErrorResponse(409, "conflict", "try again")
    log.info("subscription deleted", extra=fields(subscription=sub_id, tenant=tenant.id))
    return Response(status=204), 204


# -- the delivery log --------------------------------------------------------------------------


def _statuses(raw: Any, name: str) -> tuple[DeliveryStatus, ...]:
    values = raw if isinstance(raw, list) else str(raw).split(",")
    allowed = ", ".join(s.value for s in DeliveryStatus)
    out = []
    for value in values:
        try:
            out.append(DeliveryStatus(str(value).strip()))
        except ValueError:
            raise Invalid(name, value, f"one or more of {allowed}") from None
    return tuple(out)


@bp.get("/deliveries")
def list_deliveries() -> Response:
    relay = current_relay()
    tenant = authenticate()
    args = request.args
    limit_raw = args.get("limit", "50")
    limit = ascii_int(limit_raw, 1, MAX_PAGE)
    if limit is None:
        raise Invalid("limit", limit_raw, f"a whole number from 1 to {MAX_PAGE}")
    cursor = args.get("cursor")
    if cursor is not None and not _ID.match(cursor):
        raise Invalid("cursor", cursor, "the next_cursor of a previous page")
    flt = DeliveryFilter(
        statuses=_statuses(args["status"], "status") if args.get("status") else (),
        event=args.get("event") or None,
        since=_query_time("since"),
        until=_query_time("until"),
        route_id=args.get("route_id") or None,
        subscription_id=args.get("subscription_id") or None,
        limit=limit,
        cursor=cursor,
    )
    page = relay.storage.list_deliveries(tenant.id, flt)
    return jsonify({"data": [d.public() for d in page.items], "next_cursor": page.next_cursor})


@bp.get("/deliveries/<delivery_id>")
def get_delivery(delivery_id: str) -> Response:
    relay = current_relay()
    tenant = authenticate()
    delivery = _found(relay.storage.get_delivery(tenant.id, delivery_id), "delivery", delivery_id)
    view = delivery.public()
    view["attempts_detail"] = [a.public() for a in relay.storage.attempts(delivery.id)]
    if request.args.get("include") == "body":
        body = delivery.payload
        if body is None and delivery.event_id:
            stored = relay.storage.event_body(tenant.id, delivery.event_id)
            body = stored[0] if stored else None
        view["body"] = None if body is None else body.decode("utf-8", "replace")
    return jsonify(view)


@bp.post("/deliveries/<delivery_id>/retry")
def retry_delivery(delivery_id: str) -> tuple[Response, int]:
    relay = current_relay()
    tenant = authenticate()
    before = _found(relay.storage.get_delivery(tenant.id, delivery_id), "delivery", delivery_id)
    if before.status is DeliveryStatus.DELIVERING:
        raise ErrorResponse(409, "in_flight", f"delivery {delivery_id!r} is being sent right now")
    delivery = relay.storage.retry_delivery(tenant.id, delivery_id, time.time())
    delivery = _found(delivery, "delivery", delivery_id)
    relay.wake()
    log.info("delivery retry requested", extra=fields(delivery=delivery_id, tenant=tenant.id))
    return jsonify(delivery.public()), 202


@bp.post("/deliveries/replay")
def replay() -> tuple[Response, int]:
    relay = current_relay()
    tenant = authenticate()
    data = json_body(("since", "until", "status"))
    allowed_time = "an RFC 3339 time such as 2026-11-22T10:00:00Z"
    bounds: dict[str, float | None] = {}
    for name in ("since", "until"):
        value = data.get(name)
        if value is None:
            if name == "since":
                raise Invalid("since", None, allowed_time + " (required)")
            bounds[name] = None
            continue
        if not isinstance(value, str):
            raise Invalid(name, value, allowed_time)
        try:
            bounds[name] = checked_time(value)
        except ValueError:
            raise Invalid(name, value, allowed_time) from None
    statuses = _statuses(data.get("status", "dead"), "status")
    for status in statuses:
        if status not in REPLAYABLE:
            raise Invalid(
                "status", status.value, "one or more of " + ", ".join(s.value for s in REPLAYABLE)
            )
    since = bounds["since"]
    assert since is not None
    count = relay.storage.replay(tenant.id, since, bounds["until"], statuses, time.time())
    if count:
        relay.wake()
    log.info("replay requested", extra=fields(tenant=tenant.id, replayed=count))
    return jsonify({"replayed": count}), 202
