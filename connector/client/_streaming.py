"""Progress streams: the request side of `stream()`, shared by both clients.

`sse.follow`/`afollow` do the reading; this module decides what the one connection sends,
how a drop is settled through the status endpoint (never by sending the create again), how
the job found there becomes the stream's last update, and which error a caller finally sees.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urlencode

import httpx

from connector.catalog import CATALOG, limits
from connector.catalog.responses import ApiModel, Job
from connector.catalog.spec import NormalizedState
from connector.client._base import Prepared, Secret, UnexpectedResponseError, prepare
from connector.client.errors import (
    CreativeAIError,
    JobMayExistError,
    NotFoundError,
    StreamInterruptedError,
)
from connector.client.sse import StreamDropped, StreamUpdate

DIALECT_PARAM = "dialect"  # query parameter of servers that speak several dialects


#: Dialects whose frames never carry their job's id (1: named `progress`/`complete`/`error`
#: events, 3: typed frames); after a drop only an event id may hint at the job.
UNNAMED_DIALECTS = ("1", "3")


class Plan:
    """One streaming call: its single create, and how a drop is settled.

    The stream is opened once. The API docs never mention `Last-Event-ID`; reopening the
    stream would send the paid create again (a server that ignores the header starts a second
    job). After a drop the job's status endpoint settles the outcome instead: with the job id
    the frames gave (dialect 2), or with the one an event id carries (`<job id>:<n>`), which is
    only a hint until the status endpoint knows it.
    """

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
        self.headers = {**auth, "Accept": limits.STREAM_MEDIA_TYPE}
        status = call.op.status_operation
        self.status_op = CATALOG.operation(status) if status else None

    def is_stream(self, response: httpx.Response) -> bool:
        """Whether the first success answer is an event stream (then it is established)."""
        media = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        self.established = response.status_code == 204 or media == limits.STREAM_MEDIA_TYPE
        return self.established

    def not_a_stream(self, response: httpx.Response, key: Secret) -> UnexpectedResponseError:
        """The error for a success answer that is not a stream (its body already read)."""
        media = response.headers.get("content-type", "")
        return UnexpectedResponseError(
            self.call.op,
            response,
            f"expected {limits.STREAM_MEDIA_TYPE}, got {media!r}",
            redact=key.reveal(),
        )

    def settle(self, base_url: str, exc: StreamDropped) -> Settle:
        """After a drop: the status call that settles it, or the error that says why not."""
        cause = exc.__cause__
        if isinstance(cause, CreativeAIError):  # InvalidInput too
            raise cause from None
        hint = job_hint(exc.last_event_id)
        job_id = exc.job_id or hint
        if self.status_op is None or job_id is None:
            if job_id is None and self.established:
                raise self.may_exist(exc, _drop(exc) + _UNNAMED) from exc
            raise StreamInterruptedError(
                self.call.op.key, job_id, _no_status(str(exc), self.status_op is None)
            ) from exc
        (param,) = self.status_op.path_params
        call = prepare(base_url, self.status_op.key, {param.name: job_id})
        return Settle(call, job_id, hinted=exc.job_id is None, dropped=exc)

    def unknown_job(self, settle: Settle, error: NotFoundError) -> CreativeAIError:
        """The status endpoint does not know the job the drop left us with."""
        assert self.status_op is not None
        where = f"{self.status_op.method} {self.status_op.path}"
        if settle.hinted:
            what = (
                f"{_drop(settle.dropped)}; its event id suggested job {settle.job_id!r}, but "
                f"{where} does not know it (HTTP {error.status})" + _UNNAMED
            )
            return self.may_exist(settle.dropped, what)
        return StreamInterruptedError(
            self.call.op.key,
            settle.job_id,
            f"{settle.dropped}; {where} does not know job {settle.job_id!r} (HTTP {error.status})",
            status=error.status,
        )

    def may_exist(self, exc: StreamDropped, what: str) -> JobMayExistError:
        return JobMayExistError(
            self.call.op, exc, has_webhook=self.call.has_webhook, what_happened=what
        )


@dataclass(frozen=True)
class Settle:
    """The status call that settles a dropped stream."""

    call: Prepared
    job_id: str
    hinted: bool  # the id comes only from an event id, not from a frame
    dropped: StreamDropped


_UNNAMED = (
    ". Progress frames of the named-event and typed-frame formats (dialects "
    + " and ".join(UNNAMED_DIALECTS)
    + ") never name their job, so only an event id could point at it"
)


def job_hint(last_event_id: str) -> str | None:
    """The job id an event id of the form `<job id>:<n>` carries, if it has that form."""
    job_id, sep, seq = last_event_id.strip().rpartition(":")
    if not sep or not job_id or not seq.isdigit():
        return None
    return job_id


def _no_status(detail: str, no_endpoint: bool) -> str:
    if no_endpoint:
        return detail + "; this operation has no status endpoint to settle it"
    return detail


def _drop(exc: StreamDropped) -> str:
    what = "its progress stream dropped before naming the job"
    if exc.last_event_id:
        what += f" (last event id {exc.last_event_id!r})"
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
