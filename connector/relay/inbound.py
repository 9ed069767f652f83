"""`POST /hooks/<token>`: where the CreativeAI API delivers completion webhooks.

Checks, in order, each with its own answer (never a 5xx for bad input):

    404 unknown or forged token (or its route is gone)    410 expired token / ended route
    415 not a JSON content type                           413 body over RELAY_MAX_BODY_BYTES
    401 missing or bad X-CreativeAI-Signature             400 malformed event

then stores the event and its deliveries in one committed transaction and answers
202 `{"accepted": true, "event_id", "deliveries"}`, or 200 `{"duplicate": true}` for a
delivery it already has (the API retries). Nothing unverified is stored or forwarded.

This one path is hit once per event, so it is a plain WSGI app (`InboundEndpoint`) that
`create_app` puts in front of Flask's (`app.wsgi_app`), as Flask's docs show for
middleware: measured under gunicorn, Flask's request context, routing, hooks and response
object cost more than verifying the signature. Every other path goes on to Flask.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from http import HTTPStatus
from typing import IO, TYPE_CHECKING

from werkzeug.exceptions import ClientDisconnected
from werkzeug.wsgi import get_content_length, get_input_stream

from connector.catalog import limits
from connector.catalog.events import BatchEventPayload
from connector.relay import ingest
from connector.relay.errors import ErrorResponse
from connector.relay.inputs import FramedInput, guard_chunked
from connector.relay.logs import fields, get_logger, log_fast
from connector.relay.outbound import travels, travels_as_name
from connector.relay.relay import Relay
from connector.relay.tokens import Claims, TokenExpired, TokenInvalid
from connector.webhooks import Delivery, WebhookError, parse, verify

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = get_logger("inbound")
access = get_logger("http")

_CHUNK = 64 * 1024


class Rejected(ErrorResponse):
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


_HOOKS = "/hooks/"
_SIGNATURE_KEY = "HTTP_" + limits.SIGNATURE_HEADER.upper().replace("-", "_")
_JSON_HEADERS = ("Content-Type", "application/json")


class InboundEndpoint:
    """`POST /hooks/<token>` in front of `app` (a WSGI app: Flask's, for everything else)."""

    def __init__(self, relay: Relay, app: WSGIApplication) -> None:
        self.relay = relay
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        guard_chunked(environ)  # malformed chunked framing is a 400 here and in Flask
        path: str = environ.get("PATH_INFO", "")
        token = path[len(_HOOKS) :]
        if not path.startswith(_HOOKS) or not token or "/" in token:
            return self.app(environ, start_response)
        if environ.get("REQUEST_METHOD") != "POST":
            refused = ErrorResponse(405, "method_not_allowed", "webhooks are POSTed")
            return _answer(start_response, 405, refused.body(), [("Allow", "POST")])
        started = time.perf_counter()
        relay = self.relay
        try:
            with relay.storage.arriving():
                status, answer = _receive(relay, token, environ)
        except Rejected as rejected:
            relay.metrics.rejected.labels(reason=rejected.reason).inc()
            log_fast(
                log,
                logging.INFO,
                "webhook refused",
                fields(reason=rejected.reason, status=rejected.status),
            )
            status, answer = rejected.status, rejected.body()
        except Exception as exc:  # a bug or a failing database: never the request's text
            log.error(
                "request failed", extra=fields(error=type(exc).__name__, path="/hooks/<token>")
            )
            status, answer = 500, ErrorResponse(500, "internal", "the relay failed").body()
        took = time.perf_counter() - started
        relay.metrics.ack_seconds.observe(took)
        if access.isEnabledFor(logging.DEBUG):  # the access line, as app.py logs the others
            access.debug(
                "request",
                extra=fields(
                    method="POST", path="/hooks/<token>", status=status, ms=round(took * 1000, 2)
                ),
            )
        return _answer(start_response, status, answer)


def _answer(
    start_response: StartResponse,
    status: int,
    answer: dict[str, object],
    extra: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    body = json.dumps(answer, separators=(",", ":")).encode()
    headers = [_JSON_HEADERS, ("Content-Length", str(len(body))), *(extra or ())]
    start_response(f"{status} {HTTPStatus(status).phrase}", headers)
    return [body]


def _open(relay: Relay, token: str) -> Claims:
    try:
        return relay.sealer.open(token)
    except TokenExpired:
        raise Rejected(410, "expired", "this webhook URL has expired") from None
    except TokenInvalid:
        raise Rejected(404, "unknown_token", "no such webhook URL") from None


def _check_forwardable(hook: Delivery, headers: dict[str, str]) -> None:
    """400 unless everything forwarded as a header can travel as one: the kept
    X-CreativeAI-* headers, the event name, the delivery id (and a batch's job ids, the
    delivery ids of a fan-out). Accepting it would only dead-letter it after every attempt."""
    what = "a header value: printable ASCII only (no NUL, control or non-ASCII character)"
    for name, value in headers.items():
        if not travels_as_name(name):
            raise Rejected(400, "malformed", f"header name {name!r} cannot be forwarded")
        if not travels(value):
            raise Rejected(400, "malformed", f"{name} {value[:80]!r} cannot be forwarded as {what}")
    if not travels(hook.event):
        raise Rejected(
            400, "malformed", f"event name {hook.event[:80]!r} cannot be forwarded as {what}"
        )
    if not travels(hook.delivery_id):
        raise Rejected(
            400, "malformed", f"delivery id {hook.delivery_id[:80]!r} cannot be forwarded as {what}"
        )
    jobs = hook.body.get("jobs") if isinstance(hook.payload, BatchEventPayload) else None
    for index, job in enumerate(jobs if isinstance(jobs, list) else ()):
        job_id = job.get("id") if isinstance(job, dict) else None
        if isinstance(job_id, str) and not travels(job_id):
            raise Rejected(
                400, "malformed", f"jobs[{index}].id {job_id[:80]!r} cannot be forwarded as {what}"
            )


def _receive(relay: Relay, token: str, environ: WSGIEnvironment) -> tuple[int, dict[str, object]]:
    claims = _open(relay, token)
    mimetype = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
    if not is_json(mimetype):
        raise Rejected(
            415,
            "unsupported_media_type",
            f"Content-Type {mimetype or '(none)'!r} is not accepted: application/json",
        )
    limit = relay.config.max_body_bytes
    length = get_content_length(environ)
    if length is not None and length > limit:
        raise Rejected(413, "too_large", f"body is larger than {limit} bytes")
    try:
        body = read_limited(get_input_stream(environ), limit)
    except ClientDisconnected:  # shorter than its Content-Length, or bad chunked framing
        raise Rejected(400, "malformed", FramedInput.MESSAGE) from None
    if body is None:
        raise Rejected(413, "too_large", f"body is larger than {limit} bytes")
    signature = environ.get(_SIGNATURE_KEY)
    if not signature:
        raise Rejected(401, "bad_signature", f"missing {limits.SIGNATURE_HEADER} header")
    if not verify(body, signature, claims.secret):
        raise Rejected(401, "bad_signature", f"{limits.SIGNATURE_HEADER} does not match the body")
    # Everything parse() reads is among the X-CreativeAI-* headers kept with the event.
    headers = ingest.kept_environ_headers(environ)
    try:
        hook = parse(body, headers)
    except WebhookError as exc:
        raise Rejected(400, "malformed", str(exc)) from None
    _check_forwardable(hook, headers)
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
        return 200, {"duplicate": True, "event_id": result.event_id}
    relay.metrics.received.labels(kind=claims.kind).inc()
    if result.joined:
        relay.metrics.joins.labels(complete="true").inc()
    if result.deliveries:
        relay.wake()
    log_fast(log, logging.INFO, "webhook accepted", info)
    answer: dict[str, object] = {
        "accepted": True,
        "event_id": result.event_id,
        "deliveries": result.deliveries,
    }
    if result.late:
        answer["late"] = True
    return 202, answer
