"""A local stand-in for the CreativeAI API, for tests, demos and builders without credits.

    from connector.sandbox import create_app, SandboxConfig
    from connector.serving import serve

    app = create_app(SandboxConfig(time_scale=0.01))   # or create_app() to read SANDBOX_*
    with serve(app) as server:
        ...  # point a client at server.url with the key "sk-sandbox"

Every catalog operation answers as the docs show: video, batch, voice, compose, chart and
image calls, `GET /v1/models`, the price calculator and both progress streams. Jobs run on
the sandbox clock (`time_scale`) and finish with real media served under `/files/`: MP4 for
videos and charts, MP3 for voice (as long as the text takes to say), PNG for images, and for
compose the real mix of the job's two input files when both are this sandbox's outputs.
Finished jobs send signed completion webhooks, retried 0/5/30 s (scaled) until a 2xx.

Outcomes from ordinary input (for no-code builders): put a marker in any text field, e.g.
a prompt, a narration text or a chart title.

    [sandbox:content_policy]        400 content_policy_violation (not billed)
    [sandbox:provider_unavailable]  503 provider_unavailable (not billed)
    [sandbox:server_error]          500 server_error (not billed)
    [sandbox:rate_limit]            429 rate_limit_exceeded with Retry-After: 1 (not billed)
    [sandbox:failover]              runs on another model: model_actual, failover_used true,
                                    x-model-actual / x-failover-used (failover=false: 503)
    [sandbox:fail]                  the job ends failed, error.code generation_timeout, a
                                    *.failed webhook, credits refunded (images: 500, not billed)
    [sandbox:flaky]                 fails once: with webhook_auto_retry=true it runs again and
                                    completes, else it ends failed with generation_failed

Tests steer it through the control API under `/_sandbox/` (see `control`): advance the
clock, arm fault switches (failing statuses, reset connections, delays, dropped streams,
dropped or delayed webhooks; see `faults`), set credits, list jobs and webhook attempts.

Configuration: `SandboxConfig` (see `config`), or `SANDBOX_*` environment variables
(`config.ENV_VARS`) when `create_app()` gets no config.
"""

from __future__ import annotations

import logging
import socket
import struct
import time

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from connector.catalog import errors
from connector.sandbox.apierrors import ErrorResponse
from connector.sandbox.config import DEFAULT_API_KEY, ApiKey, SandboxConfig
from connector.sandbox.engine import Sandbox, retry_headers

__all__ = ["DEFAULT_API_KEY", "ApiKey", "Sandbox", "SandboxConfig", "create_app", "sandbox_of"]

log = logging.getLogger(__name__)


def sandbox_of(app: Flask) -> Sandbox:
    """The `Sandbox` behind an app made by `create_app` (to close it, or drive it directly)."""
    sandbox: Sandbox = app.extensions["sandbox"]
    return sandbox


def create_app(config: SandboxConfig | None = None) -> Flask:
    """A sandbox app. Call `sandbox_of(app).close()` when done with it."""
    from connector.sandbox import api, control, files

    config = config if config is not None else SandboxConfig.from_env()
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the docs' field order
    app.config["SANDBOX"] = config
    app.extensions["sandbox"] = Sandbox(config)
    app.register_blueprint(api.bp)
    app.register_blueprint(files.bp)
    if config.control:
        app.register_blueprint(control.bp)
    app.before_request(_before)
    app.after_request(_after)
    app.register_error_handler(ErrorResponse, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    return app


# -- fault switches and clock, before every non-control request --------------------------------


def _is_control() -> bool:
    from connector.sandbox.control import PREFIX

    return request.path == PREFIX or request.path.startswith(PREFIX + "/")


def _before() -> Response | None:
    sandbox = sandbox_of(current_app)
    if _is_control():
        return None
    sandbox.settle()  # what fell due by now has happened before we answer
    from connector.sandbox.api import operations_for_endpoint

    ops = operations_for_endpoint(request.endpoint)
    faults = sandbox.faults
    delay = faults.take_request(("delay",), request.method, request.path, ops)
    if delay is not None and delay.seconds:
        time.sleep(delay.seconds)
    fault = faults.take_request(("fail", "reset"), request.method, request.path, ops)
    if fault is None:
        return None
    if fault.action == "reset":
        if fault.when == "after":
            g.reset_after = True
            return None
        _drop_connection()
        return Response(status=204)  # never reaches the client
    code = errors.for_status(fault.status or 500)
    headers = {}
    if fault.status == errors.RATE_LIMIT.http_status or fault.retry_after is not None:
        headers = retry_headers(fault.retry_after if fault.retry_after is not None else 1.0)
    message = fault.message or f"{code.title} (sandbox fault switch #{fault.id})."
    raise ErrorResponse(code, message, status=fault.status, headers=headers)


def _after(response: Response) -> Response:
    if getattr(g, "reset_after", False):
        g.reset_after = False
        _drop_connection()  # the work is done; the answer is lost
    return response


def _drop_connection() -> None:
    """Close the client's connection without an answer (the client sees a reset)."""
    sock = request.environ.get("werkzeug.socket")
    if not isinstance(sock, socket.socket):
        raise ConnectionAbortedError("sandbox fault: connection reset")
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already gone


# -- errors as JSON ------------------------------------------------------------------------------


def _api_error(exc: ErrorResponse) -> Response:
    return exc.response()


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status == 404:
        error = ErrorResponse(
            errors.NOT_FOUND, f"No route {request.method} {request.path}.", status=404
        )
    elif status == 405:
        allowed = ", ".join(sorted(getattr(exc, "valid_methods", None) or ()))
        error = ErrorResponse(
            errors.INVALID_REQUEST,
            f"{request.method} is not allowed on {request.path}; use {allowed}.",
            status=405,
        )
    elif status == 403:
        error = ErrorResponse(
            errors.INVALID_REQUEST, "The control API answers loopback callers only.", status=403
        )
    else:
        error = ErrorResponse(errors.for_status(status), exc.description or exc.name, status=status)
    return error.response()


def _unexpected(exc: Exception) -> Response:
    log.exception("sandbox request failed: %s %s", request.method, request.path)
    return ErrorResponse(errors.SERVER_ERROR, f"Sandbox error: {type(exc).__name__}").response()
