"""Progress streams: the request side of `stream()`, shared by both clients.

`sse.follow`/`afollow` do the reading and reconnecting; this module decides what each
(re)connection sends, when a reconnection is not safe, how a job fetched from the status
endpoint becomes the stream's last update, and which error a caller finally sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from urllib.parse import urlencode

import httpx

from connector.catalog import CATALOG, InvalidInput, limits
from connector.catalog.responses import ApiModel, Job
from connector.catalog.spec import NormalizedState
from connector.catalog.states import STATUSES
from connector.client._base import Prepared, UnexpectedResponseError
from connector.client.errors import CreativeAIError, JobMayExistError, StreamInterruptedError
from connector.client.sse import StreamDropped, StreamUpdate

LAST_EVENT_ID = "Last-Event-ID"  # WHATWG server-sent events
DIALECT_PARAM = "dialect"  # query parameter of servers that speak several dialects


class CannotResume(Exception):
    """The stream dropped before any event id: reopening it would start the work again."""


class Plan:
    """One streaming call across its (re)connections."""

    def __init__(
        self,
        call: Prepared,
        auth: dict[str, str],
        dialect: str | None,
        poll_interval: float | None = None,
    ) -> None:
        self.poll_interval = poll_interval
        if dialect is not None:  # a server speaking several dialects (the sandbox) picks one
            call = replace(call, url=f"{call.url}?{urlencode({DIALECT_PARAM: dialect})}")
        self.call = call
        self.established = False
        self._headers = {**auth, "Accept": limits.STREAM_MEDIA_TYPE}
        status = call.op.status_operation
        self.status_op = CATALOG.operation(status) if status else None

    def headers(self, last_event_id: str | None) -> dict[str, str]:
        if not last_event_id:
            return self._headers
        return {**self._headers, LAST_EVENT_ID: last_event_id}

    def is_stream(self, response: httpx.Response) -> bool:
        """Whether the first success answer is an event stream (then it is established)."""
        media = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        self.established = response.status_code == 204 or media == limits.STREAM_MEDIA_TYPE
        return self.established

    def not_a_stream(self, response: httpx.Response) -> UnexpectedResponseError:
        """The error for a success answer that is not a stream (its body already read)."""
        media = response.headers.get("content-type", "")
        return UnexpectedResponseError(
            self.call.op, response, f"expected {limits.STREAM_MEDIA_TYPE}, got {media!r}"
        )

    def check_resume(self, last_event_id: str | None) -> None:
        if not last_event_id:
            raise CannotResume

    def status_job(self, job_id: str) -> ApiModel | None:
        """A stand-in job for `wait`, or None when the operation has no status endpoint."""
        if self.status_op is None or self.status_op.job is None:
            return None
        model = CATALOG.response_model(self.status_op.key)
        pending = next(
            raw
            for raw, state in STATUSES[self.status_op.job].items()
            if state is NormalizedState.PENDING
        )
        return model.model_validate({"id": job_id, "status": pending})

    @contextmanager
    def translating(self) -> Iterator[None]:
        """Turn `StreamDropped` into the error that says what happened."""
        try:
            yield
        except StreamDropped as exc:
            cause = exc.__cause__
            if isinstance(cause, CreativeAIError | InvalidInput):
                raise cause from None
            if exc.job_id is None and self.established:
                raise JobMayExistError(
                    self.call.op, exc, has_webhook=self.call.has_webhook, what_happened=_drop(exc)
                ) from exc
            raise StreamInterruptedError(
                self.call.op.key, exc.job_id, str(exc), status=exc.status
            ) from exc


def _drop(exc: StreamDropped) -> str:
    what = "its progress stream dropped before naming the job"
    if exc.last_event_id:
        what += f" (last event id {exc.last_event_id!r})"
    if exc.status is not None:
        what += f", and reopening it answered HTTP {exc.status}"
    return what


def update_from_job(job: ApiModel) -> StreamUpdate | None:
    """The stream's final update, settled through the status endpoint."""
    if not isinstance(job, Job):
        return None
    state = job.state
    if not state.terminal:
        return None
    raw = job.model_dump(mode="json")
    if state is NormalizedState.COMPLETED:
        urls = (job.output_url,) if job.output_url else ()
        return StreamUpdate("completed", urls=urls, job_id=job.id, status=job.status, raw=raw)
    code = job.error.code if job.error is not None else None
    if state is NormalizedState.CANCELED:
        code = code or "canceled"
    return StreamUpdate(
        "failed", code=code, message=job.failure_message, job_id=job.id, status=job.status, raw=raw
    )
