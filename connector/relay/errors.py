"""The relay's error answers: `{"error": {"code", "message", ...}}` with a fitting status.

A validation error names the field, the value received and what is allowed:

    {"error": {"code": "invalid_request", "field": "expires_in", "value": -5,
               "allowed": "a number of seconds from 60 to 2592000",
               "message": "expires_in=-5 is not valid: a number of seconds from 60 to 2592000"}}
"""

from __future__ import annotations

import math
from typing import Any

from flask import Response, jsonify


class ErrorResponse(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, object]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}

    def response(self) -> tuple[Response, int]:
        return jsonify(self.body()), self.status


class Invalid(ErrorResponse):
    def __init__(self, field: str, value: Any, allowed: str) -> None:
        shown = _short(value)
        super().__init__(
            400,
            "invalid_request",
            f"{field}={shown} is not valid: {allowed}",
            field=field,
            value=value if _jsonable(value) else shown,
            allowed=allowed,
        )


class NotFound(ErrorResponse):
    def __init__(self, what: str, ident: str) -> None:
        super().__init__(404, "not_found", f"no {what} {ident!r} for this API key")


class Unauthorized(ErrorResponse):
    def __init__(self, message: str) -> None:
        super().__init__(401, "unauthorized", message)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _jsonable(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return abs(value) <= 2**53
    if isinstance(value, float):
        return math.isfinite(value)  # NaN and Infinity are no JSON
    if isinstance(value, str):
        return len(value) <= 2048
    if isinstance(value, list):
        return len(value) <= 100 and all(_jsonable(v) for v in value)
    return False
