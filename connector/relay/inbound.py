"""`POST /hooks/<token>`: where the CreativeAI API delivers completion webhooks.

Checks, in order, each with its own answer (never a 5xx for bad input):

    404 unknown or forged token (or its route is gone)    410 expired token / ended route
    415 not a JSON content type                           413 body over RELAY_MAX_BODY_BYTES
    401 missing or bad X-CreativeAI-Signature             400 malformed event

then stores the event and its deliveries in one committed transaction and answers
202 `{"accepted": true, "event_id", "deliveries"}`, or 200 `{"duplicate": true}` for a
delivery it already has (the API retries). Nothing unverified is stored or forwarded.
"""

from __future__ import annotations

import json
import logging
import time
from typing import IO

from flask import Blueprint, Response, request

from connector.catalog import limits
from connector.relay import ingest
from connector.relay.errors import ApiError
from connector.relay.logs import fields, get_logger, log_fast
from connector.relay.state import Relay, current_relay
from connector.relay.tokens import Claims, TokenExpired, TokenInvalid
from connector.webhooks import WebhookError, parse, verify

bp = Blueprint("inbound", __name__)
log = get_logger("inbound")

_CHUNK = 64 * 1024


class Rejected(ApiError):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(status, reason, message)
        self.reason = reason


def is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def read_limited(stream: IO[bytes], limit: int) -> bytes | None:
    """The body, or None as soon as it grows past `limit` bytes."""
    body = bytearray()
    while True:
        chunk = stream.read(min(_CHUNK, limit + 1 - len(body)))
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > limit:
            return None


@bp.post("/hooks/<token>")
def receive(token: str) -> tuple[Response, int]:
    started = time.perf_counter()
    relay = current_relay()
    try:
        with relay.storage.arriving():
            answer = _receive(relay, token)
    except Rejected as rejected:
        relay.metrics.rejected.labels(reason=rejected.reason).inc()
        log_fast(
            log,
            logging.INFO,
            "webhook refused",
            fields(reason=rejected.reason, status=rejected.status),
        )
        answer = rejected.response()
    relay.metrics.ack_seconds.observe(time.perf_counter() - started)
    return answer


def _open(relay: Relay, token: str) -> Claims:
    try:
        return relay.sealer.open(token)
    except TokenExpired:
        raise Rejected(410, "expired", "this webhook URL has expired") from None
    except TokenInvalid:
        raise Rejected(404, "unknown_token", "no such webhook URL") from None


def _receive(relay: Relay, token: str) -> tuple[Response, int]:
    claims = _open(relay, token)
    if not is_json(request.mimetype):
        raise Rejected(
            415,
            "unsupported_media_type",
            f"Content-Type {request.mimetype or '(none)'!r} is not accepted: application/json",
        )
    limit = relay.config.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise Rejected(413, "too_large", f"body is larger than {limit} bytes")
    body = read_limited(request.stream, limit)
    if body is None:
        raise Rejected(413, "too_large", f"body is larger than {limit} bytes")
    signature = request.headers.get(limits.SIGNATURE_HEADER)
    if not signature:
        raise Rejected(401, "bad_signature", f"missing {limits.SIGNATURE_HEADER} header")
    if not verify(body, signature, claims.secret):
        raise Rejected(401, "bad_signature", f"{limits.SIGNATURE_HEADER} does not match the body")
    # Everything parse() reads is among the X-CreativeAI-* headers kept with the event.
    headers = ingest.kept_environ_headers(request.environ)
    try:
        hook = parse(body, headers)
    except WebhookError as exc:
        raise Rejected(400, "malformed", str(exc)) from None
    route_id = claims.id if claims.kind == "route" else None
    try:
        result = ingest.ingest(
            relay.storage,
            kind=claims.kind,
            tenant_id=claims.tenant,
            route_id=route_id,
            hook=hook,
            raw_body=body,
            headers=headers,
            now=time.time(),
            first_delay=relay.config.scaled_schedule()[0],
        )
    except ingest.RouteNotFound:
        raise Rejected(404, "unknown_token", "no such webhook URL") from None
    except ingest.RouteEnded as ended:
        raise Rejected(410, "route_ended", f"this webhook URL has ended ({ended.reason})") from None
    info = fields(
        event_id=result.event_id,
        event=hook.event,
        kind=claims.kind,
        route_id=route_id,
        tenant=claims.tenant,
        deliveries=result.deliveries,
    )
    if result.duplicate:
        relay.metrics.duplicates.inc()
        log_fast(log, logging.INFO, "duplicate webhook: already stored", info)
        return _json({"duplicate": True, "event_id": result.event_id}), 200
    relay.metrics.received.labels(kind=claims.kind).inc()
    if result.joined:
        relay.metrics.joins.labels(complete="true").inc()
    if result.deliveries:
        relay.wake()
    log_fast(log, logging.INFO, "webhook accepted", info)
    answer = {"accepted": True, "event_id": result.event_id, "deliveries": result.deliveries}
    if result.late:
        answer["late"] = True
    return _json(answer), 202


def _json(answer: dict[str, object]) -> Response:
    """jsonify's answer for the hot path, without its per-call provider lookups."""
    return Response(json.dumps(answer, separators=(",", ":")), mimetype="application/json")
