"""Error answers as the sandbox sends them: `{"error": {"code", "message", "type", "param"}}`.

`ErrorResponse` is what a request handler raises to answer so; the client calls what it receives
from the API `APIError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, jsonify

from connector.catalog import ErrorCode, errors

__all__ = ["ErrorResponse", "error_type"]


def error_type(code: ErrorCode) -> str:
    """The `type` of an error body: the docs' example gives `invalid_request_error` for a
    refused request; keys and server trouble get their own."""
    if code is errors.AUTHENTICATION:
        return errors.AUTHENTICATION.code
    if code.http_status >= 500:
        return errors.SERVER_ERROR.code
    return errors.INVALID_REQUEST.code


class ErrorResponse(Exception):
    """Raised anywhere in a request to answer with the API's error shape."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        param: str | None = None,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param
        self.status = status or code.http_status
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code.code,
                "message": self.message,
                "type": error_type(self.code),
                "param": self.param,
            }
        }

    def response(self) -> Response:
        answer = jsonify(self.body())
        answer.status_code = self.status
        for name, value in self.headers.items():
            answer.headers[name] = value
        return answer
