"""Every error code the API documents: meaning, HTTP status, and whether to retry."""

from __future__ import annotations

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
