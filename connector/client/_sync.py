"""`CreativeAI`: the synchronous client."""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar, overload

import httpx
from typing_extensions import Unpack

from connector.catalog import limits
from connector.catalog.responses import ApiModel, BatchCreated, BatchStatus, Job
from connector.client import _batching, _credits, _download, _jobs, _record_key, _streaming
from connector.client._base import (
    DEFAULT_LIMITS,
    DEFAULT_TIMEOUT,
    USER_AGENT,
    Prepared,
    Settings,
    after_exception,
    after_response,
    parse,
    prepare,
)
from connector.client._retry import RetryPolicy, retryable_status
from connector.client.errors import APIError, CreativeAIError, NotFoundError, WaitTimeoutError
from connector.client.ledger import Ledger
from connector.client.params import BatchCreateParams
from connector.client.resources import ClientResources
from connector.client.sse import StreamDropped, StreamUpdate, follow

J = TypeVar("J", bound=Job)


class CreativeAI(ClientResources):
    """Synchronous CreativeAI client.

        client = CreativeAI()                       # CREATIVEAI_API_KEY, CREATIVEAI_BASE_URL
        job = client.videos.create(prompt="A drone shot over a coastal city")
        done = client.wait(job)                     # polls at the catalog's cadence
        client.download(done.output_url, "clip.mp4")

    `ledger=` keeps record keys (`FileLedger(path)`, `RelayLedger(relay_url, api_key)`): a
    paid create given `record_key=` returns the job that key already started instead of
    paying again. `transport=` swaps httpx's transport (a mock, a proxy); `http_client=`
    hands in a whole `httpx.Client` (then the caller closes it). `sleep` and `clock` are
    injectable so tests never wait.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
        ledger: Ledger | None = None,
        sleep: Callable[[float], object] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if transport is not None and http_client is not None:
            raise ValueError("pass transport= or http_client=, not both")
        self._settings = Settings.resolve(api_key, base_url, max_retries, retry)
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(
            transport=transport,
            timeout=timeout,
            limits=DEFAULT_LIMITS,
            headers={"User-Agent": USER_AGENT},
        )
        self._headers = self._settings.headers
        self._ledger = ledger
        self._sleep = sleep
        self._clock = clock
        self._attach_resources(self)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self._settings.base_url

    @property
    def max_retries(self) -> int:
        return self._settings.retry.max_retries

    def __repr__(self) -> str:
        return f"CreativeAI(base_url={self.base_url!r}, max_retries={self.max_retries})"

    def with_options(
        self, *, max_retries: int | None = None, retry: RetryPolicy | None = None
    ) -> CreativeAI:
        """A client sharing this one's connections, with other retry settings."""
        clone = copy.copy(self)
        settings = self._settings
        clone._settings = Settings.resolve(
            settings.api_key.reveal(), settings.base_url, max_retries, retry or settings.retry
        )
        clone._headers = clone._settings.headers
        clone._owns_http = False
        clone._attach_resources(clone)
        return clone

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> CreativeAI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- calls -------------------------------------------------------------------------------

    def call(self, op_key: str, /, **fields: Any) -> ApiModel:
        """Run any catalog operation: `call("voice.create", text="Hello")`.

        Fields are checked by the catalog first (`InvalidInput` names every problem), the
        answer comes back as the operation's typed model with the headers in `.meta`. A paid
        create also takes `max_credits=` (priced first, see `_credits`) and `record_key=`
        (one job per record, kept in the client's `ledger=`).
        """
        cap = fields.pop(_credits.MAX_CREDITS, None)
        record_key = fields.pop(_record_key.RECORD_KEY, None)
        call = prepare(self._settings.base_url, op_key, fields)
        _credits.checked(call.op, cap)
        keyed = _record_key.keyed(call.op, record_key, self._ledger)
        if keyed is None:
            self._check_cap([call], cap)
            return self._execute(call)
        with keyed.held():
            kept = self._kept(keyed)
            if kept is not None:
                return kept
            self._check_cap([call], cap)
            created = self._execute(call)
            keyed.keep(created)
            return created

    def _kept(self, keyed: _record_key.Keyed) -> ApiModel | None:
        """What the record key already started and may be returned, or None."""
        entry = keyed.lookup()
        if entry is None:
            return None
        if entry.result is not None:
            return keyed.answer(entry)
        try:
            current = self._execute(keyed.status_call(self._settings.base_url, entry.job_id or ""))
        except NotFoundError:
            return None  # gone: a new job may start
        return keyed.reusable(current)

    def _check_cap(self, calls: list[Prepared], max_credits: Any) -> None:
        """With a cap: price the calls (each create's own body) and raise `CreditCapError`
        before anything paid is sent when their sum is over it, or when one cannot be
        priced."""
        cap = _credits.checked(calls[0].op, max_credits)
        if cap is None:
            return
        plan = _credits.plan(self._settings.base_url, calls, cap)
        quotes = []
        for price in plan.prices:
            try:
                quotes.append(self._execute(price))
            except APIError as exc:
                raise plan.unpriceable(exc) from exc
        plan.check(quotes)

    def _execute(self, call: Prepared) -> ApiModel:
        return parse(call.op, self._send(call), self._settings.api_key)

    def _send(
        self, call: Prepared, *, stream: bool = False, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        policy = self._settings.retry
        retry = 0
        while True:
            request = call.request(self._http, headers or self._headers)
            try:
                response = self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                delay = after_exception(call, exc, retry, policy)
            else:
                if response.is_success:
                    return response
                if stream:
                    response.read()
                    response.close()
                delay = after_response(call, response, retry, policy, self._settings.api_key)
            self._sleep(delay)
            retry += 1

    # -- waiting -----------------------------------------------------------------------------

    @overload
    def wait(
        self,
        job: BatchCreated | BatchStatus,
        *,
        interval: float | None = None,
        timeout: float | None = None,
        on_progress: Callable[[BatchStatus], object] | None = None,
        raise_on_failure: bool = True,
    ) -> BatchStatus: ...

    @overload
    def wait(
        self,
        job: J,
        *,
        interval: float | None = None,
        timeout: float | None = None,
        on_progress: Callable[[J], object] | None = None,
        raise_on_failure: bool = True,
    ) -> J: ...

    def wait(
        self,
        job: ApiModel,
        *,
        interval: float | None = None,
        timeout: float | None = None,
        on_progress: Callable[[Any], object] | None = None,
        raise_on_failure: bool = True,
    ) -> ApiModel:
        """Poll a video, shared-status job or batch until it ends, and return its final state.

        Polls at once, then every `interval` seconds (default: the catalog's cadence for the
        kind of job), for at most `timeout` seconds (`WaitTimeoutError` carries the job id).
        `on_progress` sees every state fetched. A failed or canceled job raises
        `JobFailedError` unless `raise_on_failure=False`; a batch ends when all its videos
        do, and reports failures per video.
        """
        return self._wait(job, interval, timeout, on_progress, raise_on_failure)

    def _wait(
        self,
        job: ApiModel,
        interval: float | None,
        timeout: float | None,
        on_progress: Callable[[Any], object] | None,
        raise_on_failure: bool,
        *,
        fresh: bool = False,
    ) -> ApiModel:
        # `fresh`: `job` was fetched just now, so the first poll waits one interval.
        p = _jobs.plan(job, interval, timeout)
        key = p.status_op.key
        if _jobs.finished(job, raise_on_failure=raise_on_failure, operation=key):
            return job
        deadline = self._clock() + p.timeout
        if fresh:
            self._sleep(p.interval)
        while True:
            current = self._execute(prepare(self._settings.base_url, key, p.fields))
            if on_progress is not None:
                on_progress(current)
            if _jobs.finished(current, raise_on_failure=raise_on_failure, operation=key):
                return current
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise WaitTimeoutError(p.job_id, p.timeout, current, status_operation=p.status_op)
            self._sleep(min(p.interval, remaining))

    # -- many videos -------------------------------------------------------------------------

    def generate_videos(
        self,
        items: Iterable[_batching.Item],
        *,
        wait: bool = False,
        interval: float | None = None,
        timeout: float | None = None,
        on_progress: Callable[[BatchStatus], object] | None = None,
        **shared: Unpack[BatchCreateParams],
    ) -> list[_batching.ItemResult]:
        """Create any number of videos through batch calls and report on each item.

        Items (prompt texts, or mappings with a prompt and an optional image_url) go out in
        batches of at most `limits.BATCH_MAX_PROMPTS`, at most
        `limits.MAX_PARALLEL_REQUESTS` calls at a time; `shared` fields apply to every
        batch. Results come back in input order: an invalid item, or one whose batch call
        failed, carries that error; with `wait=True` each batch is polled to its end and a
        failed video carries its `JobFailedError`.
        """
        fields: dict[str, Any] = dict(shared)
        cap = fields.pop(_credits.MAX_CREDITS, None)
        _record_key.not_for_many(_batching.operation(), fields.pop(_record_key.RECORD_KEY, None))
        done, chunks = _batching.plan(items, fields)
        count = len(done) + sum(len(c.indices) for c in chunks)
        if chunks:  # the cap is for every batch of the call: all priced before any starts
            self._check_cap(_batching.prepared(self._settings.base_url, chunks, fields), cap)

        def run(chunk: _batching.Chunk) -> list[_batching.ItemResult]:
            try:
                batch = self._create_batch(chunk, fields)
            except CreativeAIError as exc:  # InvalidInput too
                return _batching.failed(chunk, exc)
            results = _batching.created(chunk, batch)
            if not wait:
                return results
            try:
                status = self.wait(
                    batch, interval=interval, timeout=timeout, on_progress=on_progress
                )
            except CreativeAIError as exc:
                return [_batching.ItemResult(r.index, r.job, exc, r.batch_id) for r in results]
            return _batching.finished(results, status)

        if not chunks:
            return _batching.in_order(count, [done])
        workers = min(limits.MAX_PARALLEL_REQUESTS, len(chunks))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="creativeai") as pool:
            parts = list(pool.map(run, chunks))
        return _batching.in_order(count, [done, *parts])

    def _create_batch(self, chunk: _batching.Chunk, shared: dict[str, Any]) -> BatchCreated:
        created = self.call(_batching.OP, **{_batching.PROMPTS: chunk.prompts}, **shared)
        assert isinstance(created, BatchCreated)
        return created

    # -- progress streams ----------------------------------------------------------------------

    def stream(
        self,
        op_key: str,
        /,
        *,
        dialect: str | None = None,
        poll_interval: float | None = None,
        **fields: Any,
    ) -> Iterator[StreamUpdate]:
        """Start a streaming operation and yield its progress as `StreamUpdate`s.

        429 and 5xx answers are retried only before the stream is established. The stream is
        never reopened (that would send the paid create again): after a drop the job's status
        endpoint settles the outcome, polled until the job ends, with the job id the frames
        gave or, for dialects whose frames never name their job, the one an event id carries
        (checked there). With no id at all, `JobMayExistError`. `dialect` asks a server that
        speaks several progress dialects (the sandbox: "1", "2", "3") for one; every
        dialect is read the same way. `poll_interval` sets how often the status endpoint
        is polled when settling (default: the catalog's cadence).
        """
        cap = fields.pop(_credits.MAX_CREDITS, None)
        call = prepare(self._settings.base_url, op_key, fields)
        _credits.checked(call.op, cap)  # a bad cap is refused at once, like any field
        plan = _streaming.Plan(call, self._headers, dialect, poll_interval)
        return self._follow(plan, cap)

    def _follow(self, plan: _streaming.Plan, cap: Any = None) -> Iterator[StreamUpdate]:
        self._check_cap([plan.call], cap)

        def connect(last_event_id: str | None) -> tuple[int, Iterable[bytes]]:
            response = self._send(plan.call, stream=True, headers=plan.headers)
            if not plan.is_stream(response):
                response.read()
                response.close()
                raise plan.not_a_stream(response, self._settings.api_key)
            if response.status_code != 200:  # 204: nothing to follow
                response.close()
            return response.status_code, _chunks(response)

        try:
            # Opened once: reopening would send the paid create again.
            yield from follow(connect, max_reconnects=0, sleep=self._sleep)
            return
        except StreamDropped as exc:
            settle = plan.settle(self._settings.base_url, exc)
        try:
            job = self._execute(settle.call)
        except NotFoundError as exc:
            raise plan.unknown_job(settle, exc) from exc
        final = self._wait(job, plan.poll_interval, None, None, False, fresh=True)
        update = _streaming.update_from_job(final)
        if update is not None:
            yield update

    # -- outputs -------------------------------------------------------------------------------

    def download(self, url: str, path: str | os.PathLike[str]) -> _download.Downloaded:
        """Stream an output to `path` (a file, or a directory to put it in) atomically.

        Returns the path written and its size. The API key is sent only to the API's own
        origin, never to a CDN. A 403/404/410 says the output may have expired.
        """
        same = _download.same_origin(url, self._settings.base_url)
        headers = self._headers if same else {}
        return _fetch(self._http, url, path, headers, self._settings.retry, self._sleep)


def download(
    url: str,
    path: str | os.PathLike[str],
    *,
    timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
    retry: RetryPolicy | None = None,
    transport: httpx.BaseTransport | None = None,
) -> _download.Downloaded:
    """Download an output (a CDN link) without a client or an API key; see
    `CreativeAI.download`. Links on the API's own origin need the client's key."""
    with httpx.Client(
        transport=transport, timeout=timeout, headers={"User-Agent": USER_AGENT}
    ) as h:
        return _fetch(h, url, path, {}, retry or RetryPolicy(), time.sleep)


def _fetch(
    http: httpx.Client,
    url: str,
    path: str | os.PathLike[str],
    headers: dict[str, str],
    policy: RetryPolicy,
    sleep: Callable[[float], object],
) -> _download.Downloaded:
    _download.check_url(url)
    dest = _download.target(url, path)
    retry = 0
    while True:
        try:
            with http.stream("GET", url, headers=headers, follow_redirects=True) as r:
                if r.is_success:
                    return _save(r, dest)
                if retry >= policy.max_retries or not retryable_status(r.status_code, create=False):
                    raise _download.status_error(url, r)
                delay = policy.delay(retry, r.headers)
        except httpx.TransportError as exc:
            if retry >= policy.max_retries:
                raise _download.transport_error(url, exc) from exc
            delay = policy.backoff(retry)
        sleep(delay)
        retry += 1


def _save(response: httpx.Response, dest: Path) -> _download.Downloaded:
    handle, temp = _download.open_temp(dest)
    written = 0
    try:
        for chunk in response.iter_bytes(_download.CHUNK):
            handle.write(chunk)
            written += len(chunk)
        _download.commit(handle, temp, dest)
    except BaseException:
        _download.discard(handle, temp)
        raise
    return _download.Downloaded(dest, written)


def _chunks(response: httpx.Response) -> Iterator[bytes]:
    try:
        yield from response.iter_bytes()
    finally:
        response.close()
