"""The API blueprint: one route per catalog operation path (aliases included).

Each call goes: key -> rate limits -> body -> catalog validation -> the sandbox -> answer.
Routes, fields, statuses and error codes all come from the catalog; this module only
binds them to the `Sandbox`.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from connector.catalog import (
    CATALOG,
    InvalidInput,
    JobKind,
    Operation,
    OperationKind,
    Upload,
    errors,
    limits,
)
from connector.sandbox import pricing, streams, triggers
from connector.sandbox.apierrors import ErrorResponse
from connector.sandbox.config import ApiKey
from connector.sandbox.engine import Sandbox, image_size, retry_headers
from connector.sandbox.jobs import Job
from connector.sandbox.ratelimit import Bucket

__all__ = ["ROUTES", "bp", "current_sandbox", "operations_for_endpoint"]

bp = Blueprint("api", __name__)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"
MAX_EDIT_PIXELS = 4096 * 4096


def current_sandbox() -> Sandbox:
    sandbox: Sandbox = current_app.extensions["sandbox"]
    return sandbox


# -- routes from the catalog -----------------------------------------------------------------


def _routes() -> dict[tuple[str, str], tuple[Operation, ...]]:
    """(method, path) -> the operations served there (two video creates share one path)."""
    table: dict[tuple[str, str], list[Operation]] = {}
    for op in CATALOG.operations.values():
        for path in (op.path, *op.aliases):
            table.setdefault((op.method, path), []).append(op)
    return {route: tuple(ops) for route, ops in table.items()}


ROUTES = _routes()
_ENDPOINT_OPS: dict[str, tuple[str, ...]] = {}


def operations_for_endpoint(endpoint: str | None) -> tuple[str, ...]:
    return _ENDPOINT_OPS.get(endpoint or "", ())


def _choose(ops: tuple[Operation, ...], body: dict[str, Any]) -> Operation:
    """The operation a body means when several share a path: the one whose required fields
    the body gives most of (an `image_url` makes a video create image-to-video)."""
    if len(ops) == 1:
        return ops[0]

    def given(op: Operation) -> int:
        return sum(1 for use in op.fields if use.required and body.get(use.field.name) is not None)

    return max(ops, key=given)


# -- the steps of every call -----------------------------------------------------------------


def _authenticate(sandbox: Sandbox) -> ApiKey:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    key = sandbox.authenticate(token.strip()) if scheme.lower() == "bearer" else None
    if key is None:
        what = "was not recognised" if header else "is missing"
        raise ErrorResponse(
            errors.AUTHENTICATION,
            f"The API key {what}. Send it as 'Authorization: Bearer <API key>'.",
        )
    return key


def _buckets(key: ApiKey, op: Operation) -> list[Bucket]:
    buckets = [Bucket("plan", key.per_minute)]
    resuming = bool(request.headers.get("Last-Event-ID"))  # reopening a stream creates nothing
    if op.kind is OperationKind.CREATE and op.resource in ("video", "batch") and not resuming:
        buckets.append(Bucket("video_create", limits.VIDEO_CREATE_PER_MINUTE))
    if op.kind is OperationKind.GET:
        buckets.append(Bucket("poll", limits.POLL_PER_MINUTE))
    return buckets


def _limit(sandbox: Sandbox, key: ApiKey, op: Operation) -> None:
    if not sandbox.config.rate_limits:
        return
    decision = sandbox.limiter.hit(key.name, _buckets(key, op))
    reset = int(sandbox.clock.real_epoch(decision.reset_at)) + 1
    g.rate_headers = dict(
        zip(
            limits.RATE_LIMIT_HEADERS,
            (str(decision.limit), str(decision.remaining), str(reset)),
            strict=True,
        )
    )
    if not decision.allowed:
        raise ErrorResponse(
            errors.RATE_LIMIT,
            f"Rate limit exceeded: {decision.limit} requests per minute ({decision.bucket}) "
            f"for this key. Retry after {decision.retry_after:.2f} s.",
            headers=retry_headers(decision.retry_after),
        )
    if not sandbox.limiter.enter(key.name, limits.MAX_PARALLEL_REQUESTS):
        raise ErrorResponse(
            errors.RATE_LIMIT,
            f"More than {limits.MAX_PARALLEL_REQUESTS} requests in parallel for this key.",
            headers=retry_headers(1),
        )
    g.parallel_slot = key.name


@bp.after_app_request
def _finish(response: Response) -> Response:
    for name, value in getattr(g, "rate_headers", {}).items():
        response.headers[name] = value
    slot = getattr(g, "parallel_slot", None)
    if slot is not None:
        limiter = current_sandbox().limiter
        response.call_on_close(lambda: limiter.leave(slot))
        g.parallel_slot = None
    return response


def _json_body() -> dict[str, Any]:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ErrorResponse(errors.INVALID_REQUEST, f"The body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ErrorResponse(errors.INVALID_REQUEST, "The body must be a JSON object.")
    return data


def _multipart_body(op: Operation) -> dict[str, Any]:
    if not request.mimetype.startswith("multipart/form-data"):
        names = ", ".join(use.field.name for use in op.fields)
        raise ErrorResponse(
            errors.INVALID_REQUEST,
            f"{op.path} takes multipart/form-data (fields: {names}), got "
            f"{request.mimetype or 'no content type'}.",
        )
    data: dict[str, Any] = request.form.to_dict()
    for name, upload in request.files.items():
        data[name] = (upload.filename or name, upload.read(), upload.mimetype)
    return data


def _validated(op: Operation, data: dict[str, Any]) -> dict[str, Any]:
    """The request checked against the catalog, as the wire body (fixed fields removed)."""
    for use in op.fields:
        f = use.field
        if f.fixed is None:
            continue
        given = data.pop(f.name, None)
        if given is not None and given != f.fixed:
            raise ErrorResponse(
                errors.INVALID_REQUEST,
                f"{f.name}: {given!r} is not allowed; this endpoint needs {json.dumps(f.fixed)}",
                param=f.name,
            )
    try:
        model = CATALOG.validate(op.key, data)
    except InvalidInput as exc:
        raise ErrorResponse(errors.INVALID_REQUEST, str(exc), param=exc.param or None) from None
    body = model.to_wire()
    for use in op.fields:
        if use.field.fixed is not None:
            body.pop(use.field.name, None)
    return body


def _model_headers(job: Job) -> dict[str, str]:
    if not job.model_actual:
        return {}
    return {
        limits.MODEL_ACTUAL_HEADER: job.model_actual,
        limits.FAILOVER_USED_HEADER: "true" if job.failover_used else "false",
    }


def _answer(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(payload)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


# -- handlers ------------------------------------------------------------------------------------

Handler = Callable[[Sandbox, ApiKey, Operation, dict[str, Any], dict[str, str]], Response]


def _video_create(
    sandbox: Sandbox, key: ApiKey, op: Operation, body: dict[str, Any], _: dict[str, str]
) -> Response:
    job = sandbox.create_video(key, op.key, body, request.host_url)
    return _answer(
        sandbox.read(lambda: job.video_view(sandbox.clock.iso)), 202, _model_headers(job)
    )


def _video_get(
    sandbox: Sandbox, key: ApiKey, op: Operation, body: dict[str, Any], params: dict[str, str]
) -> Response:
    job = sandbox.job(key, params["id"], JobKind.VIDEO)
    return _answer(
        sandbox.read(lambda: job.video_view(sandbox.clock.iso)), 200, _model_headers(job)
    )


def _batch_create(
    sandbox: Sandbox, key: ApiKey, op: Operation, body: dict[str, Any], _: dict[str, str]
) -> Response:
    batch = sandbox.create_batch(key, body, request.host_url)
    return _answer(sandbox.read(batch.created_view), 202)


def _batch_get(
    sandbox: Sandbox, key: ApiKey, op: Operation, body: dict[str, Any], params: dict[str, str]
) -> Response:
    batch = sandbox.batch(key, params["batch_id"])
    return _answer(sandbox.read(batch.status_view))


def _shared_create(
    sandbox: Sandbox, key: ApiKey, op: Operation, body: dict[str, Any], _: dict[str, str]
) -> Response:
    job = sandbox.create_shared(key, op.key, body, request.host_url)
    return _answer(sandbox.read(lambda: job.shared_view(sandbox.clock.iso)), 202)


def _shared_get(
    sandbox: Sandbox, key: ApiKey, op: Operation, body: dict[str, Any], params: dict[str, str]
) -> Response:
    job = sandbox.job(key, params["id"], JobKind.SHARED)
    return _answer(sandbox.read(lambda: job.shared_view(sandbox.clock.iso)))


def _image_result(sandbox: Sandbox, job: Job) -> dict[str, Any]:
    revised = triggers.strip(job.prompt or "") + ", studio lighting, sandbox render"
    return {
        "created": int(sandbox.clock.epoch(job.created_at)),
        "data": [{"url": url, "revised_prompt": revised} for url in job.outputs],
    }


def _upload_size(upload: Upload) -> tuple[int, int] | None:
    """Width and height from a PNG's header, when sensible."""
    head = upload.content[:24]
    if not head.startswith(PNG_SIGNATURE) or len(head) < 24:
        return None
    width, height = struct.unpack(">II", head[16:24])
    if 0 < width * height <= MAX_EDIT_PIXELS:
        return width, height
    return None


def _image_generate(
    sandbox: Sandbox, key: ApiKey, op: Operation, body: dict[str, Any], _: dict[str, str]
) -> Response:
    job = sandbox.generate_images(key, op.key, body, request.host_url, image_size(body.get("size")))
    return _answer(_image_result(sandbox, job), 200, _model_headers(job))


def _image_edit(
    sandbox: Sandbox, key: ApiKey, op: Operation, body: dict[str, Any], _: dict[str, str]
) -> Response:
    image: Upload = body["image"]
    if not image.content.startswith((PNG_SIGNATURE, JPEG_SIGNATURE)):
        raise ErrorResponse(
            errors.INVALID_REQUEST,
            f"image: {image.filename!r} is not allowed; expected a PNG or JPEG file",
            param="image",
        )
    mask: Upload | None = body.get("mask")
    if mask is not None and not mask.content.startswith(PNG_SIGNATURE):
        raise ErrorResponse(
            errors.INVALID_REQUEST,
            f"mask: {mask.filename!r} is not allowed; expected a PNG file",
            param="mask",
        )
    size = image_size(body["size"]) if body.get("size") else _upload_size(image) or image_size(None)
    wire = {k: v for k, v in body.items() if not isinstance(v, Upload)}
    wire["image"] = image.filename
    job = sandbox.generate_images(key, op.key, wire, request.host_url, size)
    return _answer(_image_result(sandbox, job), 200, _model_headers(job))


def _model_list(
    sandbox: Sandbox, key: ApiKey, op: Operation, body: dict[str, Any], _: dict[str, str]
) -> Response:
    sample = op.sample_response["data"][0]
    data = [
        {"id": m.id, "object": sample["object"], "owned_by": sample["owned_by"], "type": m.type}
        for m in pricing.MODELS.values()
    ]
    return _answer({"object": op.sample_response["object"], "data": data})


def _price(
    sandbox: Sandbox, key: ApiKey, op: Operation, body: dict[str, Any], _: dict[str, str]
) -> Response:
    """What the generation request in `body` would be charged (any paid create's body)."""
    try:
        priced = pricing.quote(body)
    except pricing.Unpriceable as exc:
        raise ErrorResponse(
            errors.INVALID_REQUEST, f"This request cannot be priced: {exc}", param=exc.param
        ) from None
    return _answer({"model": priced.model, "type": priced.type, "credits": priced.credits})


def _stream(
    sandbox: Sandbox, key: ApiKey, op: Operation, body: dict[str, Any], _: dict[str, str]
) -> Response:
    dialect = request.args.get("dialect", streams.DIALECTS[0])
    if dialect not in streams.DIALECTS:
        raise ErrorResponse(
            errors.INVALID_REQUEST,
            f"dialect: {dialect!r} is not allowed; expected one of {', '.join(streams.DIALECTS)}",
            param="dialect",
        )
    start = 0
    last = request.headers.get("Last-Event-ID")
    if last:
        job, start = _resume(sandbox, key, op, last)
        if start > sandbox.config.stream_steps:
            return Response(status=204)  # the terminal event was already sent: stop
    elif op.resource == "image":
        job = sandbox.start_image_stream(key, body, request.host_url, image_size(body.get("size")))
    else:
        job = sandbox.create_video(key, op.key, body, request.host_url)
    fault = sandbox.faults.take_request(("stream_drop",), request.method, request.path, (op.key,))
    events = streams.frames(
        sandbox, job, dialect, start=start, drop_after=fault.after_events if fault else None
    )
    response = Response(events, mimetype=limits.STREAM_MEDIA_TYPE)
    response.headers["Cache-Control"] = "no-cache"
    for name, value in _model_headers(job).items():
        response.headers[name] = value
    return response


def _resume(sandbox: Sandbox, key: ApiKey, op: Operation, last: str) -> tuple[Job, int]:
    parsed = streams.parse_event_id(last)
    job = sandbox.any_job(parsed[0]) if parsed else None
    if parsed is None or job is None or job.key_name != key.name or job.op != op.key:
        raise ErrorResponse(
            errors.NOT_FOUND,
            f"Last-Event-ID {last!r} names no stream of this key to resume; "
            "start a new one without it.",
            param="Last-Event-ID",
        )
    return job, parsed[1] + 1


#: Operations whose behaviour is their own. Every other operation is handled as its kind of
#: job is (`handler_for`): a new job on the shared status endpoint needs no entry here.
HANDLERS: dict[str, Handler] = {
    "video.create_from_text": _video_create,
    "video.create_from_image": _video_create,
    "video.get": _video_get,
    "batch.create": _batch_create,
    "batch.get": _batch_get,
    "image.generate": _image_generate,
    "image.edit": _image_edit,
    "model.list": _model_list,
    "price.calculate": _price,
    "video.stream": _stream,
    "image.stream": _stream,
}

#: The handler of each kind of job, for operations HANDLERS does not name.
BY_JOB: dict[tuple[JobKind, OperationKind], Handler] = {
    (JobKind.SHARED, OperationKind.CREATE): _shared_create,
    (JobKind.SHARED, OperationKind.GET): _shared_get,
}


def handler_for(op: Operation) -> Handler:
    """The sandbox's handler of `op`: its own, else its kind of job's."""
    found = HANDLERS.get(op.key) or (BY_JOB.get((op.job, op.kind)) if op.job else None)
    if found is None:  # a new catalog operation that is not a shared-status job
        raise RuntimeError(f"the sandbox has no handler for {op.key!r}: add it to HANDLERS")
    return found


for _op in CATALOG.operations.values():
    handler_for(_op)  # fail at import, not at the first request


def _view(ops: tuple[Operation, ...]) -> Callable[..., Response]:
    def view(**params: str) -> Response:
        sandbox = current_sandbox()
        key = _authenticate(sandbox)
        first = ops[0]
        _limit(sandbox, key, first)
        if first.body == "none":
            data: dict[str, Any] = {}
        elif first.body == "multipart":
            data = _multipart_body(first)
        else:
            data = _json_body()
        op = _choose(ops, data)
        if op.key == "price.calculate":  # any create's body: the price handler checks it
            body = data
        else:
            body = _validated(op, data) if op.body != "none" else {}
        return handler_for(op)(sandbox, key, op, body, params)

    return view


for (method, path), ops in ROUTES.items():
    aliases = ops[0].aliases
    suffix = f"_alias{aliases.index(path) + 1}" if path in aliases else ""
    endpoint = ops[0].key.replace(".", "_") + suffix
    _ENDPOINT_OPS[f"{bp.name}.{endpoint}"] = tuple(op.key for op in ops)
    rule = path.replace("{", "<").replace("}", ">")
    bp.add_url_rule(rule, endpoint, _view(ops), methods=[method])
