"""Every error code the API documents: meaning, HTTP status, and whether to retry."""

from __future__ import annotations

from http import HTTPStatus

from connector.catalog.limits import API_KEYS_PAGE, DEFAULT_BASE_URL
from connector.catalog.spec import ErrorCode

E = ErrorCode

INVALID_REQUEST = E(
    code="invalid_request_error",
    http_status=400,
    title="Invalid request",
    advice="A field is missing or invalid; the error names it. Fix the input and run again.",
    retryable=False,
)
VALIDATION = E(
    code="validation_error",
    http_status=422,
    title="Validation error",
    advice="A field has the wrong type or value; the error names it.",
    retryable=False,
)
CONTENT_POLICY = E(
    code="content_policy_violation",
    http_status=400,
    title="Blocked by content policy",
    advice="The prompt or image was flagged by moderation (not billed). Rephrase and run again.",
    retryable=False,
)
AUTHENTICATION = E(
    code="authentication_error",
    http_status=401,
    title="Authentication failed",
    advice="The API key is missing or invalid. Check the credential.",
    retryable=False,
)
# The docs do not give the status of insufficient_credits: 402 is assumed, and the code,
# not the status, decides how the client reads it.
INSUFFICIENT_CREDITS = E(
    code="insufficient_credits",
    http_status=402,
    title="Not enough credits",
    advice="Top up at Dashboard → Billing (not billed), then run again.",
    retryable=False,
)
NOT_FOUND = E(
    code="not_found",
    http_status=404,
    title="Not found",
    advice="No such route or generation id. Check the id.",
    retryable=False,
)
RATE_LIMIT = E(
    code="rate_limit_exceeded",
    http_status=429,
    title="Rate limit exceeded",
    advice="Too many requests for this key; wait for the time in Retry-After.",
    retryable=True,
)
SERVER_ERROR = E(
    code="server_error",
    http_status=500,
    title="Server error",
    advice="A transient error on CreativeAI's side; retried with backoff.",
    retryable=True,
)
PROVIDER_UNAVAILABLE = E(
    code="provider_unavailable",
    http_status=503,
    title="Provider unavailable",
    advice="Every provider for this model is down (failover was tried). Try again later.",
    retryable=True,
)

ALL: tuple[ErrorCode, ...] = (
    INVALID_REQUEST,
    VALIDATION,
    CONTENT_POLICY,
    AUTHENTICATION,
    INSUFFICIENT_CREDITS,
    NOT_FOUND,
    RATE_LIMIT,
    SERVER_ERROR,
    PROVIDER_UNAVAILABLE,
)

BY_CODE: dict[str, ErrorCode] = {e.code: e for e in ALL}

#: Codes a *failed job* carries in its `error.code` (the status call itself answers 200;
#: the job's status is failed and its credits are refunded), with what a builder should do.
JOB_FAILURES: dict[str, str] = {
    "generation_timeout": "The generation ran out of time (credits refunded). Run it again.",
    "generation_failed": "The provider could not render it (credits refunded). Run it again "
    "or change the input.",
}


def for_status(status: int) -> ErrorCode:
    """The error code an HTTP status means when the body names none."""
    if status == 400:
        return INVALID_REQUEST
    for e in ALL:
        if e.http_status == status:
            return e
    return SERVER_ERROR if status >= 500 else INVALID_REQUEST


# -- The credential check in words ---------------------------------------------------------
# Saving a credential checks the key with the model list (GET /v1/models). When the Base URL
# answers, the answer names the problem; these are the check's words for it.

#: The key every model list has (`responses.ModelList.data`): a 2xx answer without it is not
#: the API's (a web page, a proxy's or another service's answer).
CHECK_ANSWER_KEY = "data"


def check_not_the_api(path: str) -> str:
    """What the check says when the Base URL answers 2xx with something else than a model list."""
    return (
        f"The Base URL answered {path} with something other than the CreativeAI API (a web "
        f"page?): check it, or leave it at {DEFAULT_BASE_URL}"
    )


def check_refused(status: int, path: str) -> str | None:
    """What the check says when the Base URL answers `status` (4xx or 5xx) to `path`, or None
    when the check has no words of its own for that status."""
    answer = f"{status} {HTTPStatus(status).phrase}"
    if status == AUTHENTICATION.http_status:
        return f"{AUTHENTICATION.title}: {AUTHENTICATION.advice}"
    if status == HTTPStatus.FORBIDDEN:
        return (
            f"The API refused this key ({answer}): it may be disabled or not allowed to list "
            f"models. Check it at {API_KEYS_PAGE}, or the proxy in front of the Base URL."
        )
    if status in (HTTPStatus.NOT_FOUND, HTTPStatus.METHOD_NOT_ALLOWED):
        return (
            f"The Base URL does not serve the CreativeAI API ({answer} at {path}): check it, "
            f"or leave it at {DEFAULT_BASE_URL}"
        )
    if status == RATE_LIMIT.http_status:
        return (
            f"{RATE_LIMIT.title}: too many requests for this key just now, so it could not be "
            "checked. Try again in a minute."
        )
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        return (
            f"The Base URL answered {answer}, an error on the server's side (the API's or a "
            "proxy's), so the key could not be checked. Try again in a few minutes; if it "
            "persists, check the Base URL."
        )
    return None


#: The statuses the check words, in order: the key's, a wrong URL's, and the server errors
#: servers and gateways send (any other status shows the HTTP reason phrase).
CHECK_STATUSES: tuple[int, ...] = (401, 403, 404, 405, 429, 500, 502, 503, 504)
