"""Operations endpoints: `/healthz` (the process answers), `/readyz` (the database
answers too) and `/metrics` (Prometheus text format)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from connector.relay.logs import get_logger
from connector.relay.metrics import CONTENT_TYPE
from connector.relay.relay import current_relay

bp = Blueprint("health", __name__)
log = get_logger("health")


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


@bp.get("/metrics")
def metrics() -> Response:
    return Response(current_relay().metrics.render(), mimetype=None, content_type=CONTENT_TYPE)
