"""Health endpoints: `/healthz` (the process answers), `/readyz` (the database answers
too) and `/metrics` (Prometheus text format).

`/metrics` can be closed two ways (README, Operations):

- `RELAY_METRICS_TOKEN`: the page needs `Authorization: Bearer <token>` (401 otherwise);
- `RELAY_METRICS_PORT`: the page is served on that port only (`metrics_app`, started by
  `relay serve` and `relay worker`), and the main port answers 404 for it.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import Blueprint, Response, jsonify, request

from connector.relay.config import RelayConfig
from connector.relay.errors import ErrorResponse
from connector.relay.logs import get_logger
from connector.relay.metrics import CONTENT_TYPE, Metrics
from connector.relay.relay import current_relay

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

bp = Blueprint("health", __name__)
log = get_logger("health")

METRICS_PATH = "/metrics"


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    relay = current_relay()
    try:
        relay.storage.ping()
    except Exception as exc:
        log.warning("database not reachable", extra={"fields": {"error": type(exc).__name__}})
        return jsonify({"status": "unavailable", "database": type(exc).__name__}), 503
    forwarder = relay.forwarder
    return jsonify(
        {
            "status": "ready",
            "database": relay.storage.backend,
            "forwarder": "running" if forwarder is not None and forwarder.running else "external",
        }
    ), 200


def metrics_refusal(config: RelayConfig, authorization: str | None) -> ErrorResponse | None:
    """Why this scrape is refused (401 without the metrics token), or None."""
    token = config.metrics_token
    if token is None:
        return None
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8", "replace"), token.encode()
    ):
        return None
    return ErrorResponse(
        401, "unauthorized", "/metrics needs Authorization: Bearer <RELAY_METRICS_TOKEN>"
    )


@bp.get(METRICS_PATH)
def metrics() -> Response | tuple[Response, int]:
    relay = current_relay()
    if relay.config.metrics_port is not None:  # served on its own port only
        return ErrorResponse(404, "not_found", "The requested URL was not found.").response()
    refused = metrics_refusal(relay.config, request.headers.get("Authorization"))
    if refused is not None:
        answer, status = refused.response()
        answer.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return answer, status
    return Response(relay.metrics.render(), mimetype=None, content_type=CONTENT_TYPE)


class MetricsApp:
    """`/metrics` alone, as a WSGI app for `RELAY_METRICS_PORT` (the token applies too)."""

    def __init__(self, config: RelayConfig, metrics: Metrics) -> None:
        self.config = config
        self.metrics = metrics

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != METRICS_PATH or environ.get("REQUEST_METHOD") not in (
            "GET",
            "HEAD",
        ):
            return _plain(start_response, "404 Not Found", b"not found\n")
        refused = metrics_refusal(self.config, environ.get("HTTP_AUTHORIZATION"))
        if refused is not None:
            return _plain(
                start_response,
                "401 Unauthorized",
                refused.message.encode() + b"\n",
                [("WWW-Authenticate", 'Bearer realm="metrics"')],
            )
        body = self.metrics.render()
        start_response(
            "200 OK", [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body)))]
        )
        return [body]


def _plain(
    start_response: StartResponse,
    status: str,
    body: bytes,
    extra: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    start_response(status, [*headers, *(extra or [])])
    return [body]
