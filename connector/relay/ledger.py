"""The record-key ledger (`/v1/ledger/...`): one job per record, on every platform.

A paid create started with a Record key looks the key up here first; a key that already
started a job answers that job (or, for a synchronous create, the API's answer) instead
of paying again. Authenticated like the rest of the management API; an entry is the
tenant's own (another API key sees 404).

    GET    /v1/ledger/<operation>/<key>   200 the entry, 404 when none or expired
    GET    /v1/ledger/<operation>?key=<key>   200 {"data": [the entry]} or {"data": []}
    PUT    /v1/ledger/<operation>/<key>   {"job_id": "…"} or {"result": {…}}: 200 the entry
    DELETE /v1/ledger/<operation>/<key>   204, also when there was none

`<operation>` is a paid create (`steps.capped`); `<key>` is percent-encoded whole
(`steps.LEDGER.path_for`), so a `/` in it is part of it. The facts (path, limits,
lifetime) are `steps.LEDGER`'s.
"""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import unquote_to_bytes

from flask import Blueprint, Response, jsonify, request
from werkzeug.routing import BaseConverter

from connector.catalog import CATALOG, steps
from connector.relay.errors import Invalid, NotFound
from connector.relay.logs import fields, get_logger
from connector.relay.management import authenticate, json_body
from connector.relay.relay import current_relay
from connector.relay.storage import LedgerEntry

LEDGER = steps.LEDGER
#: The operations a Record key belongs to: every paid create.
OPERATIONS = tuple(op.key for op in steps.capped(CATALOG.operations.values()))
_FIELDS = ("job_id", "result")
_MAX_JOB_ID_CHARS = 256

bp = Blueprint("ledger", __name__, url_prefix=LEDGER.path)
log = get_logger("ledger")


class KeyConverter(BaseConverter):
    """The rest of the path, as it is: empty, with a leading `/`, or with `//` in it."""

    regex = r"[\s\S]*"  # newlines too: a key with one is refused by name, not a 404
    part_isolating = False


class OperationConverter(BaseConverter):
    """One path segment, empty too: a missing operation is refused by name, not a 404."""

    regex = "[^/]*"


@bp.record_once
def _register_converters(state: Any) -> None:
    state.app.url_map.converters.update(
        ledger_key=KeyConverter, ledger_operation=OperationConverter
    )


def _operation(operation: str | None) -> str:
    if operation not in OPERATIONS:
        raise Invalid("operation", operation, "a paid create: " + ", ".join(OPERATIONS))
    return operation


def _key(key: str | None) -> str:
    if key is None or key == "":
        raise Invalid("key", key, LEDGER.key_rule + " (percent-encoded in the path)")
    if not _utf8_as_sent():
        raise Invalid("key", key, LEDGER.key_rule + ", percent-encoded from UTF-8")
    if not LEDGER.allows_key(key):
        raise Invalid("key", key, LEDGER.key_rule)
    return key


def _utf8_as_sent() -> bool:
    """Whether the path and query as sent are UTF-8 once percent-decoded (the key is in
    one of them). The server decodes both leniently (U+FFFD for bytes that are no UTF-8),
    which would let two keys meet as one; the raw request line (`RAW_URI`, `REQUEST_URI`:
    werkzeug's and gunicorn's) tells."""
    environ = request.environ
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not isinstance(raw, str):
        return True
    try:
        unquote_to_bytes(raw.replace("+", " ").encode("latin-1")).decode("utf-8")
    except UnicodeError:
        return False
    return True


def _entry_body(data: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    job_id, result = data.get("job_id"), data.get("result")
    exactly_one = 'exactly one of {"job_id": "<job or batch id>"} or {"result": {...}}'
    if (job_id is None) == (result is None):
        raise Invalid("body", sorted(data), exactly_one)
    if job_id is not None and (
        not isinstance(job_id, str)
        or not 0 < len(job_id) <= _MAX_JOB_ID_CHARS
        or any(unicodedata.category(c) == "Cc" for c in job_id)
    ):
        raise Invalid(
            "job_id",
            job_id,
            f"the id of the job (or batch) the key started: 1 to {_MAX_JOB_ID_CHARS} "
            "characters, no control characters",
        )
    if result is not None:
        if not isinstance(result, dict):
            raise Invalid("result", result, "a JSON object: the API's answer of the create")
        size = LEDGER.result_bytes(result)
        if size > LEDGER.max_result_bytes:
            raise Invalid(
                "result",
                f"<{size} bytes>",
                f"a JSON object of at most {LEDGER.max_result_bytes} bytes (compact JSON)",
            )
    return job_id, result


@bp.route("", methods=["GET", "PUT", "DELETE"], merge_slashes=False)
@bp.route("/<ledger_operation:operation>", methods=["PUT", "DELETE"], merge_slashes=False)
def incomplete(operation: str | None = None) -> Response:
    """A path without an operation or a key: the field that is missing, as a 400."""
    authenticate()
    _operation(operation)
    _key(None)
    raise AssertionError("unreachable: _key(None) raises")


@bp.get("/<ledger_operation:operation>", merge_slashes=False)
def find_entries(operation: str) -> Response:
    """The key's entry as a list of none or one: 200 either way, for a platform that cannot
    take a 404 as an answer (Make stops a module at any 4xx: developers.make.com, error
    handling). The key is the `key` query parameter, so it needs no encoding of its own."""
    relay = current_relay()
    tenant = authenticate()
    operation, key = _operation(operation), _key(request.args.get(LEDGER.lookup_query))
    entry = relay.storage.get_ledger(tenant.id, operation, key, relay.clock())
    return jsonify({"data": [entry.public()] if entry is not None else []})


@bp.get("/<ledger_operation:operation>/<ledger_key:key>", merge_slashes=False)
def get_entry(operation: str, key: str) -> Response:
    relay = current_relay()
    tenant = authenticate()
    operation, key = _operation(operation), _key(key)
    entry = relay.storage.get_ledger(tenant.id, operation, key, relay.clock())
    if entry is None:
        raise NotFound("ledger entry", f"{operation}/{key}")
    return jsonify(entry.public())


@bp.put("/<ledger_operation:operation>/<ledger_key:key>", merge_slashes=False)
def put_entry(operation: str, key: str) -> Response:
    relay = current_relay()
    tenant = authenticate()
    operation, key = _operation(operation), _key(key)
    job_id, result = _entry_body(json_body(_FIELDS))
    now = relay.clock()
    entry = LedgerEntry(
        tenant_id=tenant.id,
        operation=operation,
        key=key,
        job_id=job_id,
        result=result,
        created_at=now,
        expires_at=now + LEDGER.lifetime_seconds,
    )
    relay.storage.put_ledger(entry)
    log.info(
        "ledger entry stored",
        extra=fields(tenant=tenant.id, operation=operation, job_id=job_id),
    )
    return jsonify(entry.public())


@bp.delete("/<ledger_operation:operation>/<ledger_key:key>", merge_slashes=False)
def delete_entry(operation: str, key: str) -> tuple[Response, int]:
    relay = current_relay()
    tenant = authenticate()
    operation, key = _operation(operation), _key(key)
    relay.storage.delete_ledger(tenant.id, operation, key)
    return Response(status=204), 204
