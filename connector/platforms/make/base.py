"""The base (shared by every module, RPC and webhook call) and the connection.

The one Make-specific decision here is `make_error_type`: which of Make's error types an
API error code becomes, since that decides what Make does next (deactivate the scenario,
delay the next run, keep an incomplete execution for the user to fix).
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus

from connector.catalog import Catalog, ErrorCode, errors, limits
from connector.platforms.make import iml
from connector.platforms.make.iml import path, text, tpl
from connector.platforms.make.model import API_KEY, APP_LABEL, CONNECTION_ID, Component, Json

_API_MESSAGE = f"ifempty({path('body', 'error', 'message')}, {path('body', 'error')})"


def make_error_type(code: ErrorCode) -> str:
    """Which of Make's error types an API error code is, by what its HTTP status means."""
    status = HTTPStatus(code.http_status)
    if status is HTTPStatus.UNAUTHORIZED:
        return "InvalidAccessTokenError"  # Make deactivates the scenario and says why
    if status is HTTPStatus.TOO_MANY_REQUESTS:
        return "RateLimitError"  # Make delays the next run
    if status in (HTTPStatus.BAD_REQUEST, HTTPStatus.UNPROCESSABLE_ENTITY):
        return "DataError"  # the input is wrong: an incomplete execution the user can fix
    if code.retryable:
        return "ConnectionError"  # transient on the API's side: Make tries again later
    return "RuntimeError"


#: The catalog's advice for a server error describes the Python client, which retries with
#: backoff; Make does not retry a module by itself, so its message says what to do instead.
_MAKE_ADVICE = {
    errors.SERVER_ERROR.code: "A transient error on CreativeAI's side. Run the scenario again "
    "later (with incomplete executions stored, you can resume this run from its record).",
}


def advice(code: ErrorCode) -> str:
    return _MAKE_ADVICE.get(code.code, code.advice)


def _message(code: ErrorCode) -> str:
    """`<title>: <the API's message> (field: <param>). <advice>` as one IML expression."""
    parts = [text(f"{code.title}: "), _API_MESSAGE]
    kind = make_error_type(code)
    if kind == "DataError":
        param = path("body", "error", "param")
        parts.append(f"if({param}, ' (field: ' + {param} + ')', '')")
    parts.append(text(f". {advice(code)}"))
    if kind == "RateLimitError":
        delay = path("headers", limits.RETRY_AFTER_HEADER.lower())
        parts.append(f"if({delay}, ' Retry after ' + {delay} + ' s.', '')")
    return iml.concat(*parts)


def _per_code(status: int, codes: list[ErrorCode], pick: Callable[[ErrorCode], str]) -> str:
    """One expression for a status that several codes share: branch on `error.code`."""
    default = errors.for_status(status)
    if default not in codes:
        default = codes[0]
    expression = pick(default)
    for code in reversed([c for c in codes if c is not default]):
        test = f"{path('body', 'error', 'code')} == {text(code.code)}"
        expression = f"if({test}, {pick(code)}, {expression})"
    return expression


def error_directive() -> Json:
    """`response.error`: a type and a message for every status the API documents."""
    directive: Json = {
        "type": "RuntimeError",
        "message": tpl(iml.concat("'[' + statusCode + '] '", _API_MESSAGE)),
    }
    by_status: dict[int, list[ErrorCode]] = {}
    for code in errors.ALL:
        by_status.setdefault(code.http_status, []).append(code)
    for status, codes in sorted(by_status.items()):
        kinds = {make_error_type(c) for c in codes}
        kind = (
            kinds.pop()
            if len(kinds) == 1
            else tpl(_per_code(status, codes, lambda c: text(make_error_type(c))))
        )
        directive[str(status)] = {"type": kind, "message": tpl(_per_code(status, codes, _message))}
    return directive


def auth_headers(key_expression: str) -> Json:
    return {limits.AUTH_HEADER: f"{limits.AUTH_SCHEME} {tpl(key_expression)}"}


#: Make masks these in its logs: the API key travels in the Authorization header.
LOG = {"sanitize": [f"request.headers.{limits.AUTH_HEADER.lower()}"]}


def base() -> Json:
    return {
        "baseUrl": limits.DEFAULT_BASE_URL,
        "headers": auth_headers(path("connection", API_KEY)),
        "response": {"error": error_directive()},
        "log": LOG,
    }


def connection(catalog: Catalog) -> Component:
    """The API key, checked with one request (Make: a connection performs a single request)
    that lists the models."""
    models = catalog.operation("model.list")
    parameters = [
        {
            "name": API_KEY,
            "type": "password",
            "label": "API key",
            "help": f"Your CreativeAI API key, from {limits.API_KEYS_PAGE}. Make masks it in logs.",
            "required": True,
            "editable": True,
        },
    ]
    communication = {
        "url": limits.DEFAULT_BASE_URL + models.path,
        "method": models.method,
        "headers": auth_headers(path("parameters", API_KEY)),
        "log": LOG,
        "response": {"error": error_directive()},
    }
    return Component(
        "connection",
        CONNECTION_ID,
        {"label": APP_LABEL, "connectionType": "basic"},
        {"communication": communication, "params": parameters},
    )
