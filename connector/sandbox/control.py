"""The control blueprint under `/_sandbox/`: clock, faults, credits, jobs, webhook log.

Registered only when `SandboxConfig.control` is true, and answers loopback callers only
(anyone else gets 403). No API key is needed.

    GET    /_sandbox/                 overview: clock, keys, counts, armed faults
    POST   /_sandbox/reset            forget jobs, outputs, faults, webhook log; restore credits
    GET    /_sandbox/clock            {"now", "time_scale"}
    POST   /_sandbox/clock            {"advance": seconds} runs everything that falls due
    GET    /_sandbox/jobs             every job (?status=completed, ?operation=voice.create)
    GET    /_sandbox/jobs/<id>        one job
    GET    /_sandbox/batches          every batch
    GET    /_sandbox/webhooks         every delivery attempt (?event=..., ?url=...)
    DELETE /_sandbox/webhooks         clear that log
    GET    /_sandbox/faults           armed faults; POST arms one (see `faults`); DELETE clears
    GET    /_sandbox/keys             keys by name with plan and credits
    POST   /_sandbox/credits          {"key": name or "api_key": key, "credits": n}
    GET    /_sandbox/files            names of the outputs served under /files/
"""

from __future__ import annotations

import ipaddress
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from connector.catalog import errors
from connector.sandbox.api import current_sandbox
from connector.sandbox.apierrors import ErrorResponse
from connector.sandbox.faults import FaultSpecError

__all__ = ["PREFIX", "bp"]

PREFIX = "/_sandbox"
bp = Blueprint("control", __name__, url_prefix=PREFIX)


def _body() -> dict[str, Any]:
    data = request.get_json(force=True, silent=True)
    if data is None and request.get_data():
        raise ErrorResponse(errors.INVALID_REQUEST, "The body is not valid JSON.")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ErrorResponse(errors.INVALID_REQUEST, "The body must be a JSON object.")
    return data


def _number(body: dict[str, Any], name: str, *, whole: bool = False) -> float:
    value = body.get(name)
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    if ok and whole:
        ok = float(value).is_integer()  # type: ignore[arg-type]
    if not ok:
        kind = "a whole number" if whole else "a number"
        raise ErrorResponse(
            errors.INVALID_REQUEST,
            f"{name}: {value!r} is not allowed; expected {kind}, 0 or more",
            param=name,
        )
    return float(value)  # type: ignore[arg-type]


@bp.before_request
def _loopback_only() -> None:
    try:
        loopback = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        abort(403)


@bp.get("/")
def overview() -> Response:
    sandbox = current_sandbox()
    return jsonify(
        now=sandbox.clock.now(),
        time=sandbox.clock.iso(),
        time_scale=sandbox.clock.time_scale,
        keys=sandbox.keys_view(),
        jobs=len(sandbox.jobs_view()),
        faults=sandbox.faults.armed(),
        webhook_attempts=len(sandbox.deliveries.log()),
        rate_limits=sandbox.config.rate_limits,
    )


@bp.post("/reset")
def reset() -> Response:
    sandbox = current_sandbox()
    sandbox.reset()
    return jsonify(reset=True, now=sandbox.clock.now())


@bp.get("/clock")
def clock() -> Response:
    sandbox = current_sandbox()
    return jsonify(
        now=sandbox.clock.now(), time=sandbox.clock.iso(), time_scale=sandbox.clock.time_scale
    )


@bp.post("/clock")
def advance() -> Response:
    sandbox = current_sandbox()
    seconds = _number(_body(), "advance")
    now = sandbox.advance(seconds)
    return jsonify(now=now, time=sandbox.clock.iso(), time_scale=sandbox.clock.time_scale)


@bp.get("/jobs")
def jobs() -> Response:
    views = current_sandbox().jobs_view()
    for name in ("state", "operation", "key"):
        wanted = request.args.get(name)
        if wanted:
            views = [v for v in views if v.get(name) == wanted]
    status = request.args.get("status")
    if status:
        views = [v for v in views if str(v.get("status", "")).lower() == status.lower()]
    return jsonify(jobs=views)


@bp.get("/jobs/<job_id>")
def job(job_id: str) -> Response:
    sandbox = current_sandbox()
    found = sandbox.any_job(job_id)
    if found is None:
        raise ErrorResponse(errors.NOT_FOUND, f"No job with id {job_id!r}.", param="id")
    return jsonify(sandbox.job_control_view(found))


@bp.get("/batches")
def batches() -> Response:
    return jsonify(batches=current_sandbox().batches_view())


@bp.get("/webhooks")
def webhooks() -> Response:
    attempts = current_sandbox().deliveries.log()
    for name in ("event", "url", "delivery_id", "outcome"):
        wanted = request.args.get(name)
        if wanted:
            attempts = [a for a in attempts if a.get(name) == wanted]
    return jsonify(attempts=attempts)


@bp.delete("/webhooks")
def clear_webhooks() -> Response:
    current_sandbox().deliveries.clear_log()
    return jsonify(cleared=True)


@bp.get("/faults")
def faults() -> Response:
    return jsonify(faults=current_sandbox().faults.armed())


@bp.post("/faults")
def add_fault() -> Response:
    try:
        fault = current_sandbox().faults.add(_body())
    except FaultSpecError as exc:
        raise ErrorResponse(errors.INVALID_REQUEST, str(exc), param=exc.param) from None
    answer = jsonify(fault.view())
    answer.status_code = 201
    return answer


@bp.delete("/faults")
def clear_faults() -> Response:
    current_sandbox().faults.clear()
    return jsonify(faults=[])


@bp.get("/keys")
def keys() -> Response:
    return jsonify(keys=current_sandbox().keys_view())


@bp.post("/credits")
def credits() -> Response:
    sandbox = current_sandbox()
    body = _body()
    amount = int(_number(body, "credits", whole=True))
    if body.get("api_key"):
        key = sandbox.authenticate(str(body["api_key"]))
        which = "api_key: no such key"  # never echo a key
    else:
        name = body.get("key") or sandbox.config.api_keys[0].name
        key = sandbox.key_named(str(name))
        which = f"key: {name!r} is not a key name; known: " + ", ".join(
            k["name"] for k in sandbox.keys_view()
        )
    if key is None:
        param = "api_key" if body.get("api_key") else "key"
        raise ErrorResponse(errors.INVALID_REQUEST, which, param=param)
    sandbox.set_credits(key, amount)
    return jsonify(key=key.name, credits=sandbox.balance(key))


@bp.get("/files")
def files() -> Response:
    return jsonify(files=current_sandbox().store.names())
