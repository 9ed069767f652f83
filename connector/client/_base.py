"""The parts both clients share: settings, turning a catalog call into an HTTP request,
reading answers into typed models, and deciding what a failed attempt leads to.

Nothing here does I/O; `CreativeAI` and `AsyncCreativeAI` add the sending and the waiting.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from pydantic import ValidationError

from connector.catalog import CATALOG, InvalidInput, Problem, Upload, limits
from connector.catalog.requests import show
from connector.catalog.responses import ApiModel, ResponseMeta
from connector.catalog.spec import Operation, OperationKind
from connector.client._retry import RetryPolicy, not_sent, parse_retry_after, retryable_status
from connector.client.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    CreativeAIError,
    JobMayExistError,
    error_from_response,
    redacted,
)

log = logging.getLogger("connector.client")

ENV_API_KEY = "CREATIVEAI_API_KEY"
ENV_BASE_URL = "CREATIVEAI_BASE_URL"

#: Connect quickly or fail; allow slow answers (image generation answers when done).
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
#: At most as many connections as the API allows parallel requests per key.
DEFAULT_LIMITS = httpx.Limits(
    max_connections=limits.MAX_PARALLEL_REQUESTS,
    max_keepalive_connections=limits.MAX_PARALLEL_REQUESTS,
)


def _user_agent() -> str:
    try:
        version = metadata.version("creativeai-connector")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        version = "0"
    return f"creativeai-connector-python/{version}"


USER_AGENT = _user_agent()


class UnexpectedResponseError(CreativeAIError):
    """A success status whose body is not what the operation answers."""

    def __init__(
        self, op: Operation, response: httpx.Response, detail: str, *, redact: str | None = None
    ) -> None:
        self.status = response.status_code
        self.body: str = redacted(response.text[:2000], redact)
        detail = redacted(detail, redact)
        note = ""
        if op.kind is OperationKind.CREATE:
            note = (
                " The call was accepted, so the work was probably started: the raw answer is in "
                "`.body`; do not create it again before checking."
            )
        super().__init__(
            f"{op.label}: HTTP {response.status_code} answer does not match {op.response}: "
            f"{detail}.{note}"
        )


class Secret:
    """A string that never shows itself in a repr, a log line or a traceback's locals."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class Settings:
    """Where and how a client talks to the API."""

    base_url: str
    api_key: Secret
    retry: RetryPolicy

    @classmethod
    def resolve(
        cls,
        api_key: str | None,
        base_url: str | None,
        max_retries: int | None,
        retry: RetryPolicy | None,
    ) -> Settings:
        key = api_key if api_key is not None else os.environ.get(ENV_API_KEY)
        if not key:
            raise CreativeAIError(
                f"no API key: pass api_key= or set the {ENV_API_KEY} environment variable"
            )
        url = base_url or os.environ.get(ENV_BASE_URL) or limits.DEFAULT_BASE_URL
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CreativeAIError(f"base_url must be an absolute http(s) URL, not {url!r}")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise CreativeAIError(
                "base_url must not carry credentials, a query or a fragment "
                "(the key goes in api_key=)"
            )
        policy = retry or RetryPolicy()
        if max_retries is not None:
            policy = RetryPolicy(
                max_retries=max_retries,
                initial_delay=policy.initial_delay,
                max_delay=policy.max_delay,
                jitter=policy.jitter,
                max_retry_after=policy.max_retry_after,
                random=policy.random,
            )
        return cls(base_url=url.rstrip("/"), api_key=Secret(key), retry=policy)

    @property
    def headers(self) -> dict[str, str]:
        return {limits.AUTH_HEADER: f"{limits.AUTH_SCHEME} {self.api_key.reveal()}"}


# -- building requests ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Prepared:
    """One call, validated and ready to send as often as the retry rules allow."""

    op: Operation
    url: str
    json: dict[str, Any] | None = None
    data: dict[str, str] | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None
    has_webhook: bool = False
    wire: dict[str, Any] | None = None  # the validated fields, whatever the body's encoding

    @property
    def method(self) -> str:
        return self.op.method

    @property
    def create(self) -> bool:
        return self.op.kind is OperationKind.CREATE

    def request(
        self, http: httpx.Client | httpx.AsyncClient, headers: dict[str, str]
    ) -> httpx.Request:
        return http.build_request(
            self.op.method,
            self.url,
            json=self.json,
            data=self.data,
            files=self.files,
            headers=headers,
        )


def prepare(base_url: str, op_key: str, fields: Mapping[str, Any]) -> Prepared:
    """Validate `fields` against the operation and build its URL and body.

    Path parameters (`id`, `batch_id`) are taken from `fields`; every other field goes
    through the catalog's request model. Raises `InvalidInput` before anything is sent.
    """
    op = CATALOG.operation(op_key)
    rest = dict(fields)
    path = op.path
    if op.path_params:
        values: dict[str, str] = {}
        problems: list[Problem] = []
        for f in op.path_params:
            value = rest.pop(f.name, None)
            if isinstance(value, str) and value.strip():
                values[f.name] = quote(value, safe="")
            else:
                problems.append(
                    Problem(f.name, value, f"{show(value)} is not allowed; expected {f.allowed()}")
                )
        if problems:
            raise InvalidInput(op, problems)
        path = path.format(**values)
    url = base_url + path
    if op.body == "none":
        if rest:
            allowed = ", ".join(f.name for f in op.path_params) or "no fields"
            raise InvalidInput(
                op,
                [
                    Problem(k, v, f"is not a field here; allowed: {allowed}")
                    for k, v in rest.items()
                ],
            )
        return Prepared(op, url)
    wire = CATALOG.validate(op_key, rest).to_wire()
    has_webhook = bool(wire.get("webhook_url"))
    if op.body == "multipart":
        data, files = _multipart(wire)
        return Prepared(op, url, data=data, files=files, has_webhook=has_webhook, wire=wire)
    return Prepared(op, url, json=wire, has_webhook=has_webhook, wire=wire)


def _multipart(wire: dict[str, Any]) -> tuple[dict[str, str], dict[str, tuple[str, bytes, str]]]:
    data: dict[str, str] = {}
    files: dict[str, tuple[str, bytes, str]] = {}
    for name, value in wire.items():
        if isinstance(value, Upload):
            files[name] = (value.filename, value.content, value.content_type)
        elif isinstance(value, bool):
            data[name] = "true" if value else "false"
        elif isinstance(value, str):
            data[name] = value
        elif isinstance(value, int | float):
            data[name] = str(value)
        else:
            data[name] = json.dumps(value)
    return data, files


# -- reading answers -----------------------------------------------------------------------


def parse(op: Operation, response: httpx.Response, key: Secret | None = None) -> ApiModel:
    """The operation's typed answer, with the answer's headers in `.meta`; `key` is kept out
    of the error for an answer that does not fit."""
    model = CATALOG.response_model(op.key)
    try:
        obj = model.model_validate_json(response.content)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        redact = key.reveal() if key is not None else None
        raise UnexpectedResponseError(
            op, response, f"{where}: {first['msg']}", redact=redact
        ) from None
    obj._meta = meta_from(response)
    return obj


def meta_from(response: httpx.Response) -> ResponseMeta:
    h = response.headers
    limit_h, remaining_h, reset_h = limits.RATE_LIMIT_HEADERS
    remaining = _number(h.get(remaining_h))
    limit = _number(h.get(limit_h))
    return ResponseMeta(
        status_code=response.status_code,
        rate_limit_limit=int(limit) if limit is not None else None,
        rate_limit_remaining=int(remaining) if remaining is not None else None,
        rate_limit_reset=_number(h.get(reset_h)),
        model_actual=h.get(limits.MODEL_ACTUAL_HEADER) or None,
        failover_used=_flag(h.get(limits.FAILOVER_USED_HEADER)),
    )


def _number(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def _flag(raw: str | None) -> bool | None:
    if raw is None:
        return None
    word = raw.strip().lower()
    if word in ("true", "1", "yes"):
        return True
    if word in ("false", "0", "no"):
        return False
    return None


# -- what a failed attempt leads to ----------------------------------------------------------


def after_response(
    call: Prepared, response: httpx.Response, retry: int, policy: RetryPolicy, key: Secret
) -> float:
    """The wait before retrying an error answer; raises its `APIError` when not retrying."""
    status = response.status_code
    if retry < policy.max_retries and retryable_status(status, create=call.create):
        delay = policy.delay(retry, response.headers)
        log.info(
            "%s %s answered %s; retry %d of %d in %.2f s",
            call.method,
            call.op.path,
            status,
            retry + 1,
            policy.max_retries,
            delay,
        )
        return delay
    raise api_error(call, response, key)


def api_error(call: Prepared, response: httpx.Response, key: Secret) -> APIError:
    return error_from_response(
        response,
        operation=call.op.key,
        retry_after=parse_retry_after(response.headers),
        redact=key.reveal(),
    )


def after_exception(
    call: Prepared, exc: httpx.TransportError, retry: int, policy: RetryPolicy
) -> float:
    """The wait before retrying after a transport error; raises when not retrying.

    A create that may have reached the server raises `JobMayExistError` at once.
    """
    if call.create and not not_sent(exc):
        raise JobMayExistError(call.op, exc, has_webhook=call.has_webhook) from exc
    if retry < policy.max_retries:
        delay = policy.backoff(retry)
        log.info(
            "%s %s failed (%s); retry %d of %d in %.2f s",
            call.method,
            call.op.path,
            type(exc).__name__,
            retry + 1,
            policy.max_retries,
            delay,
        )
        return delay
    attempts = retry + 1
    tried = f" after {attempts} attempts" if attempts > 1 else ""
    cls = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
    detail = str(exc) or type(exc).__name__
    raise cls(
        f"{call.method} {call.op.path} got no answer{tried} ({type(exc).__name__}: {detail})",
        operation=call.op.key,
    ) from exc


def monotonic() -> float:
    return time.monotonic()
