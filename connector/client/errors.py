"""Everything the client raises, each with a message a workflow builder can act on.

    CreativeAIError                  base of all of them (connector.errors), and of InvalidInput
    ├── APIError                     the API answered with an error (status, code, param, ...)
    │   ├── InvalidRequestError      400 invalid_request_error (param names the field)
    │   ├── UnprocessableError       422 validation_error
    │   ├── ContentPolicyError       400 content_policy_violation (not billed)
    │   ├── AuthenticationError      401
    │   ├── InsufficientCreditsError insufficient_credits (not billed)
    │   ├── NotFoundError            404
    │   ├── RateLimitError           429 (retry_after in seconds, when the answer gave one)
    │   ├── RedirectError            3xx: never followed (the base URL is probably wrong)
    │   ├── ServerError              500 and any other 5xx
    │   └── ProviderUnavailableError 503 provider_unavailable
    ├── APIConnectionError           no answer at all (APITimeoutError: no answer in time)
    ├── JobMayExistError             a create was sent but its answer was lost: not retried
    ├── CreditCapError               max_credits: over the estimate, or unpriceable: not started
    ├── JobFailedError               a job ended failed or canceled (carries the job)
    ├── WaitTimeoutError             a job did not finish within the wait (carries its id)
    └── DownloadError                an output could not be downloaded (maybe expired)
        └── InvalidURLError          not an absolute http(s) URL (also a ValueError)

The subclass is chosen by the body's `error.code` first and the HTTP status second, using
the catalog's error table, whose title and advice make up the message. Invalid input is
refused before any request with the catalog's own `InvalidInput`, a `CreativeAIError` (and a
`ValueError`) too, so one `except CreativeAIError` catches everything a call can raise.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from connector.catalog import CATALOG, limits, steps
from connector.catalog import errors as codes
from connector.catalog.responses import ApiModel, BatchItem, Job
from connector.catalog.spec import ErrorCode, JobKind, Operation
from connector.errors import CreativeAIError

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "ContentPolicyError",
    "CreativeAIError",
    "CreditCapError",
    "DownloadError",
    "InsufficientCreditsError",
    "InvalidRequestError",
    "InvalidURLError",
    "JobFailedError",
    "JobMayExistError",
    "NotFoundError",
    "ProviderUnavailableError",
    "RateLimitError",
    "RedirectError",
    "ServerError",
    "StreamInterruptedError",
    "UnprocessableError",
    "WaitTimeoutError",
    "error_from_response",
]

_MAX_MESSAGE = 500  # characters of a server's message quoted in an error


class APIError(CreativeAIError):
    """The API answered with an error status."""

    error_code: ErrorCode = codes.SERVER_ERROR  # the catalog entry this class stands for

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        *,
        param: str | None = None,
        type: str | None = None,
        operation: str | None = None,
        headers: httpx.Headers | None = None,
        body: Any = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.type = type
        self.operation = operation
        self.headers = headers if headers is not None else httpx.Headers()
        self.body = body
        self.retry_after = retry_after
        super().__init__(self._describe())

    @property
    def status_code(self) -> int:  # the name httpx and openai-python use
        return self.status

    def _describe(self) -> str:
        known = self.error_code
        what = f"HTTP {self.status}" + (f", {self.code}" if self.code else "")
        head = f"{known.title} ({what})"
        if self.operation in CATALOG.operations:
            head = f"{CATALOG.operations[self.operation].label}: {head}"
        detail = self.message.strip()
        if self.param:
            detail = f"{self.param}: {detail}" if detail else f"{self.param} was refused"
        parts = [head + (f": {detail}" if detail else "")]
        if self.retry_after is not None and "retry after" not in detail.lower():
            parts.append(f"Retry after {self.retry_after:g} s.")
        parts.append(known.advice)
        return " ".join(p if p.endswith((".", "!", "?")) else p + "." for p in parts)


class InvalidRequestError(APIError):
    error_code = codes.INVALID_REQUEST


class UnprocessableError(APIError):
    error_code = codes.VALIDATION


class ContentPolicyError(APIError):
    error_code = codes.CONTENT_POLICY


class AuthenticationError(APIError):
    error_code = codes.AUTHENTICATION


class InsufficientCreditsError(APIError):
    error_code = codes.INSUFFICIENT_CREDITS


class NotFoundError(APIError):
    error_code = codes.NOT_FOUND


class RateLimitError(APIError):
    error_code = codes.RATE_LIMIT


class ServerError(APIError):
    error_code = codes.SERVER_ERROR


class ProviderUnavailableError(APIError):
    error_code = codes.PROVIDER_UNAVAILABLE


REDIRECT = ErrorCode(
    code="redirect",
    http_status=301,
    title="Redirected instead of answered",
    advice=(
        "CreativeAI answers API calls directly, so the base URL is probably wrong (http "
        "instead of https, or a path that moved): set it to the address the redirect names "
        "if you trust it. The redirect was not followed, so neither the request nor the key "
        "went there."
    ),
    retryable=False,
)


class RedirectError(APIError):
    """The API answered a redirect (3xx); not followed, so the key stays with the API."""

    error_code = REDIRECT

    @property
    def location(self) -> str | None:
        value: str | None = self.headers.get("location")
        return value

    def _describe(self) -> str:
        head = f"{self.error_code.title} (HTTP {self.status}"
        head += f" to {self.location})" if self.location else ")"
        if self.operation in CATALOG.operations:
            head = f"{CATALOG.operations[self.operation].label}: {head}"
        return f"{head}. {self.error_code.advice}"


#: One class per catalog error code.
ERROR_CLASSES: dict[str, type[APIError]] = {
    cls.error_code.code: cls
    for cls in (
        InvalidRequestError,
        UnprocessableError,
        ContentPolicyError,
        AuthenticationError,
        InsufficientCreditsError,
        NotFoundError,
        RateLimitError,
        ServerError,
        ProviderUnavailableError,
    )
}
assert set(ERROR_CLASSES) == set(codes.BY_CODE), "every catalog error code needs a class"


class APIConnectionError(CreativeAIError):
    """The request got no answer: the connection failed, was reset or closed."""

    def __init__(self, message: str, *, operation: str | None = None) -> None:
        self.operation = operation
        op = CATALOG.operations.get(operation or "")
        super().__init__(f"{op.label}: {message}" if op else message)


class APITimeoutError(APIConnectionError):
    """The request got no answer in time."""


class JobMayExistError(CreativeAIError):
    """A create call reached the server but its answer was lost; it was not retried.

    Retrying could start (and bill) the same work twice, so the caller must reconcile:
    `message` says how for this operation.
    """

    def __init__(
        self,
        operation: Operation,
        cause: BaseException,
        *,
        has_webhook: bool,
        what_happened: str | None = None,
    ) -> None:
        self.operation = operation.key
        self.cause = cause
        what = what_happened or (
            f"the connection failed before the answer arrived ({type(cause).__name__})"
        )
        super().__init__(_may_exist_message(operation, what, has_webhook=has_webhook))


def _may_exist_message(op: Operation, what_happened: str, *, has_webhook: bool) -> str:
    first = (
        f"{op.label}: the request ({op.method} {op.path}) reached CreativeAI but "
        f"{what_happened}. It was not retried, because a retry could start and bill the same "
        "work twice."
    )
    if op.job is None and op.status_operation is None:
        credits = f" (about {op.credits_example} credits)" if op.credits_example else ""
        return (
            f"{first} The result may have been produced and billed{credits}, but it is lost: "
            "run the call again only if you accept a second charge."
        )
    noun = "batch" if op.job is JobKind.BATCH else "job"
    how = (
        f"The {noun} may have been created; its id is unknown because the answer was lost. "
        "Before creating it again, look for it: "
    )
    if has_webhook:
        how += (
            "its completion webhook (sent to the webhook_url you gave, header "
            f"{limits.DELIVERY_ID_HEADER}) will carry the id, and the CreativeAI dashboard "
            "lists recent jobs."
        )
    else:
        how += (
            "the CreativeAI dashboard lists recent jobs (no webhook_url was given, so no "
            "completion webhook will report it)."
        )
    if op.status_operation:
        status = CATALOG.operation(op.status_operation)
        how += f" With the id, {status.method} {status.path} gives its status."
    return f"{first} {how}"


class StreamInterruptedError(APIConnectionError):
    """A progress stream dropped and could be neither reopened nor settled by its job id."""

    def __init__(
        self, operation: str, job_id: str | None, detail: str, *, status: int | None = None
    ) -> None:
        self.job_id = job_id
        self.status = status
        hint = f"; the job id is {job_id}: look it up to see how it ended" if job_id else ""
        status_op = CATALOG.operations.get(CATALOG.operations[operation].status_operation or "")
        if job_id and status_op is not None:
            hint = f". {fetch_later(job_id, status_op)}"
        super().__init__(detail + hint, operation=operation)


class CreditCapError(CreativeAIError):
    """A paid call was not started: its estimate is over `max_credits`, or it cannot be
    priced (then `estimate` is None). Nothing was billed."""

    def __init__(
        self,
        operation: Operation,
        cap: float,
        estimate: float | None,
        *,
        count: int = 1,
        reason: str | None = None,
    ) -> None:
        self.operation = operation.key
        self.cap = cap
        self.estimate = estimate
        each = f" ({count} generations together)" if count > 1 else ""
        if estimate is not None:
            what = steps.over_cap(f"{estimate:g}", f"{cap:g}") + each
        else:
            what = steps.unpriceable(reason or "no reason given", f"{cap:g}")
        super().__init__(f"{operation.label}: {what}.")


class JobFailedError(CreativeAIError):
    """A job ended failed or canceled; `job` is its last known state."""

    def __init__(self, job: Job | BatchItem, *, operation: str | None = None) -> None:
        self.job = job
        self.job_id = job.id
        self.operation = operation
        reason = _job_failure(job)
        super().__init__(f"job {job.id} ended {job.status}" + (f": {reason}" if reason else ""))


def _job_failure(job: Job | BatchItem) -> str | None:
    if isinstance(job, Job):
        message = job.failure_message
        code = job.error.code if job.error is not None else None
        return f"{message} ({code})" if message and code else message or code
    return job.error_message


class WaitTimeoutError(CreativeAIError, TimeoutError):
    """A job was still running when the wait's timeout ran out; it may still finish.

    `job_id` is kept, and the message names the call that fetches the result later."""

    def __init__(
        self,
        job_id: str,
        timeout: float,
        last: ApiModel | None = None,
        *,
        status_operation: Operation | None = None,
    ) -> None:
        self.job_id = job_id
        self.timeout = timeout
        self.last = last
        self.status_operation = status_operation.key if status_operation else None
        status = getattr(last, "status", None) or getattr(last, "state", None)
        seen = f" (last status: {status})" if status else ""
        super().__init__(
            f"job {job_id} did not finish within {timeout:g} s{seen}; it keeps running. "
            + fetch_later(job_id, status_operation)
        )


def fetch_later(job_id: str, status_operation: Operation | None) -> str:
    """How to fetch a job's result later, once a wait or a stream gave up on it."""
    how = f"Fetch its result later with the id {job_id}"
    if status_operation is not None and status_operation.path_params:
        (param,) = status_operation.path_params
        path = status_operation.path.replace("{" + param.name + "}", job_id)
        how += (
            f": {status_operation.method} {path} (client.wait on it, or "
            f"`creativeai-connector status {job_id}`)"
        )
    return how + "; its completion webhook also reports it."


class DownloadError(CreativeAIError):
    """An output could not be downloaded."""

    def __init__(self, url: str, message: str, *, status: int | None = None) -> None:
        self.url = url
        self.status = status
        super().__init__(message)


class InvalidURLError(DownloadError, ValueError):
    """A download URL that is not an absolute http(s) URL; nothing was sent."""


# -- reading error answers -----------------------------------------------------------------


def error_from_response(
    response: httpx.Response,
    *,
    operation: str | None = None,
    retry_after: float | None = None,
    redact: str | None = None,
) -> APIError:
    """The typed error for an error answer; `redact` is removed from anything quoted."""
    body = redacted(_json_or_none(response), redact)
    code, message, param, type_ = _fields(body)
    if message is None:
        text = response.text.strip() if not isinstance(body, dict) else ""
        message = redacted(text, redact)[:_MAX_MESSAGE]
    known = codes.BY_CODE.get(code or "") or codes.for_status(response.status_code)
    cls = ERROR_CLASSES[known.code]
    if response.is_redirect or 300 <= response.status_code < 400:
        cls = RedirectError
    return cls(
        response.status_code,
        code,
        message[:_MAX_MESSAGE],
        param=param,
        type=type_,
        operation=operation,
        headers=redacted_headers(response.headers, redact),
        body=body,
        retry_after=retry_after,
    )


REDACTED = "***"


def redacted(value: Any, secret: str | None) -> Any:
    """`value` (text, or parsed JSON) with every occurrence of `secret` replaced by `***`:
    an answer that echoes the key is kept without it, in messages, `.body` and headers."""
    if not secret:
        return value
    if isinstance(value, str):
        return value.replace(secret, REDACTED)
    if isinstance(value, list):
        return [redacted(item, secret) for item in value]
    if isinstance(value, dict):
        return {redacted(k, secret): redacted(v, secret) for k, v in value.items()}
    return value


def redacted_headers(headers: httpx.Headers, secret: str | None) -> httpx.Headers:
    if not secret:
        return headers
    return httpx.Headers([(k, redacted(v, secret)) for k, v in headers.multi_items()])


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _fields(body: Any) -> tuple[str | None, str | None, str | None, str | None]:
    """(code, message, param, type) from `{"error": {...}}`, a legacy `{"error": "..."}`, or a
    flat `{"code", "message"}` body (streams answer so before they start)."""
    if not isinstance(body, dict):
        return None, None, None, None
    error = body.get("error")
    if isinstance(error, dict):
        return (
            _text(error.get("code")),
            _text(error.get("message")),
            _text(error.get("param")),
            _text(error.get("type")),
        )
    message = _text(body.get("message")) or _text(error) or _text(body.get("detail"))
    return _text(body.get("code")), message, _text(body.get("param")), _text(body.get("type"))
