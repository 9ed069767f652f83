"""The relay's Flask application factory (gunicorn-ready).

    gunicorn 'connector.relay:create_app()'          # settings from RELAY_* variables
    app = create_app(RelayConfig(...))               # in code and tests

The app answers inbound webhooks, the management API and the operations endpoints.
It forwards deliveries itself only with `RELAY_EMBEDDED_WORKER=true` (what
`creativeai-connector relay serve` does); otherwise run `relay worker` beside it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from connector.relay import health, inbound, ledger, logs, management, pages
from connector.relay.config import RelayConfig
from connector.relay.errors import ErrorResponse
from connector.relay.metrics import Metrics
from connector.relay.relay import Relay
from connector.relay.storage import Storage, open_storage

log = logs.get_logger("http")

_QUIET_PATHS = ("/healthz", "/readyz", "/metrics")


def create_app(
    config: RelayConfig | None = None,
    *,
    storage: Storage | None = None,
    metrics: Metrics | None = None,
) -> Flask:
    """A relay app. `storage` defaults to the config's database (schema created on start)."""
    config = config if config is not None else RelayConfig.from_env()
    if config.log_json:
        logs.configure(config.log_level)
    relay = Relay.build(config, storage or open_storage(config), metrics)
    relay.metrics.watch_storage(relay.storage.counts)

    app = Flask("connector.relay")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["relay"] = relay
    app.register_blueprint(management.bp)
    app.register_blueprint(ledger.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(pages.bp)
    _install_handlers(app)
    # POST /hooks/<token> is answered before Flask (see inbound.py); the rest goes on to it.
    app.wsgi_app = inbound.InboundEndpoint(relay, app.wsgi_app)  # type: ignore[method-assign]
    if config.embedded_worker:
        relay.start_forwarder()
    log.info(
        "relay ready",
        extra=logs.fields(
            database=relay.storage.backend,
            embedded_worker=config.embedded_worker,
            max_body_bytes=config.max_body_bytes,
        ),
    )
    return app


def relay_of(app: Flask) -> Relay:
    relay: Relay = app.extensions["relay"]
    return relay


def _install_handlers(app: Flask) -> None:
    @app.errorhandler(ErrorResponse)
    def api_error(exc: ErrorResponse) -> tuple[Response, int]:
        return exc.response()

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        status = exc.code or 500
        code = (exc.name or "error").lower().replace(" ", "_")
        return jsonify({"error": {"code": code, "message": exc.description}}), status

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[Response, int]:
        log.error(
            "request failed",
            extra=logs.fields(error=type(exc).__name__, path=logs.mask(request.path)),
        )
        return jsonify({"error": {"code": "internal", "message": "the relay failed"}}), 500

    @app.before_request
    def started() -> None:
        g.relay_started = time.perf_counter()

    @app.after_request
    def access_log(response: Response) -> Response:
        # Inbound webhooks log their own outcome; their access line is debug detail.
        level = logging.DEBUG if request.path.startswith("/hooks/") else logging.INFO
        if request.path not in _QUIET_PATHS and log.isEnabledFor(level):
            began: Any = g.get("relay_started")
            took = (time.perf_counter() - began) * 1000 if began else None
            log.log(
                level,
                "request",
                extra=logs.fields(
                    method=request.method,
                    path=logs.mask(request.path),
                    status=response.status_code,
                    ms=None if took is None else round(took, 2),
                ),
            )
        return response
