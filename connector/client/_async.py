"""`AsyncCreativeAI`: the asynchronous client, the twin of `CreativeAI`."""

from __future__ import annotations

import asyncio
import copy
import os
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
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
from connector.client.resources import AsyncClientResources
from connector.client.sse import StreamDropped, StreamUpdate, afollow

J = TypeVar("J", bound=Job)


class AsyncCreativeAI(AsyncClientResources):
    """Asynchronous CreativeAI client; the same calls as `CreativeAI`, awaited.

        async with AsyncCreativeAI() as client:
            job = await client.videos.create(prompt="A drone shot over a coastal city")
            done = await client.wait(job)

    `ledger=` keeps record keys, as `CreativeAI`'s does (its calls run in a worker thread).
    `transport=` swaps httpx's async transport; `http_client=` hands in a whole
    `httpx.AsyncClient` (then the caller closes it). `sleep` (awaited) and `clock` are
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
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        ledger: Ledger | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if transport is not None and http_client is not None:
            raise ValueError("pass transport= or http_client=, not both")
        self._settings = Settings.resolve(api_key, base_url, max_retries, retry)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(
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
        return f"AsyncCreativeAI(base_url={self.base_url!r}, max_retries={self.max_retries})"

    def with_options(
        self, *, max_retries: int | None = None, retry: RetryPolicy | None = None
    ) -> AsyncCreativeAI:
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

    async def close(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncCreativeAI:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- calls -------------------------------------------------------------------------------

    async def call(self, op_key: str, /, **fields: Any) -> ApiModel:
        """Run any catalog operation: `await call("voice.create", text="Hello")`."""
        cap = fields.pop(_credits.MAX_CREDITS, None)
        record_key = fields.pop(_record_key.RECORD_KEY, None)
        call = prepare(self._settings.base_url, op_key, fields)
        _credits.checked(call.op, cap)
        keyed = _record_key.keyed(call.op, record_key, self._ledger)
        if keyed is None:
            await self._check_cap([call], cap)
            return await self._execute(call)
        held = keyed.held()
        await asyncio.to_thread(held.__enter__)  # the ledger's calls block: not on the loop
        try:
            kept = await self._kept(keyed)
            if kept is not None:
                return kept
            await self._check_cap([call], cap)
            created = await self._execute(call)
            await asyncio.to_thread(keyed.keep, created)
            return created
        finally:
            await asyncio.to_thread(held.__exit__, None, None, None)

    async def _kept(self, keyed: _record_key.Keyed) -> ApiModel | None:
        """What the record key already started and may be returned, or None."""
        entry = await asyncio.to_thread(keyed.lookup)
        if entry is None:
            return None
        if entry.result is not None:
            return keyed.answer(entry)
        status = keyed.status_call(self._settings.base_url, entry.job_id or "")
        try:
            current = await self._execute(status)
        except NotFoundError:
            return None  # gone: a new job may start
        return keyed.reusable(current)

    async def _check_cap(self, calls: list[Prepared], max_credits: Any) -> None:
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
                quotes.append(await self._execute(price))
            except APIError as exc:
                raise plan.unpriceable(exc) from exc
        plan.check(quotes)

    async def _execute(self, call: Prepared) -> ApiModel:
        return parse(call.op, await self._send(call), self._settings.api_key)

    async def _send(
        self, call: Prepared, *, stream: bool = False, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        policy = self._settings.retry
        retry = 0
        while True:
            request = call.request(self._http, headers or self._headers)
            try:
                response = await self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                delay = after_exception(call, exc, retry, policy)
            else:
                if response.is_success:
                    return response
                if stream:
                    await response.aread()
                    await response.aclose()
                delay = after_response(call, response, retry, policy, self._settings.api_key)
            await self._sleep(delay)
            retry += 1

    # -- waiting -----------------------------------------------------------------------------

    @overload
    async def wait(
        self,
        job: BatchCreated | BatchStatus,
        *,
        interval: float | None = None,
        timeout: float | None = None,
        on_progress: Callable[[BatchStatus], object] | None = None,
        raise_on_failure: bool = True,
    ) -> BatchStatus: ...

    @overload
    async def wait(
        self,
        job: J,
        *,
        interval: float | None = None,
        timeout: float | None = None,
        on_progress: Callable[[J], object] | None = None,
        raise_on_failure: bool = True,
    ) -> J: ...

    async def wait(
        self,
        job: ApiModel,
        *,
        interval: float | None = None,
        timeout: float | None = None,
        on_progress: Callable[[Any], object] | None = None,
        raise_on_failure: bool = True,
    ) -> ApiModel:
        """Poll a job until it ends; see `CreativeAI.wait`. `on_progress` may be a coroutine
        function."""
        return await self._wait(job, interval, timeout, on_progress, raise_on_failure)

    async def _wait(
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
            await self._sleep(p.interval)
        while True:
            current = await self._execute(prepare(self._settings.base_url, key, p.fields))
            if on_progress is not None:
                outcome = on_progress(current)
                if asyncio.iscoroutine(outcome):
                    await outcome
            if _jobs.finished(current, raise_on_failure=raise_on_failure, operation=key):
                return current
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise WaitTimeoutError(p.job_id, p.timeout, current, status_operation=p.status_op)
            await self._sleep(min(p.interval, remaining))

    # -- many videos -------------------------------------------------------------------------

    async def generate_videos(
        self,
        items: Iterable[_batching.Item],
        *,
        wait: bool = False,
        interval: float | None = None,
        timeout: float | None = None,
        on_progress: Callable[[BatchStatus], object] | None = None,
        **shared: Unpack[BatchCreateParams],
    ) -> list[_batching.ItemResult]:
        """Create any number of videos through batch calls; see `CreativeAI.generate_videos`.

        At most `limits.MAX_PARALLEL_REQUESTS` batches are in flight at once.
        """
        fields: dict[str, Any] = dict(shared)
        cap = fields.pop(_credits.MAX_CREDITS, None)
        _record_key.not_for_many(_batching.operation(), fields.pop(_record_key.RECORD_KEY, None))
        done, chunks = _batching.plan(items, fields)
        count = len(done) + sum(len(c.indices) for c in chunks)
        if chunks:  # the cap is for every batch of the call: all priced before any starts
            await self._check_cap(_batching.prepared(self._settings.base_url, chunks, fields), cap)
        gate = asyncio.Semaphore(limits.MAX_PARALLEL_REQUESTS)

        async def run(chunk: _batching.Chunk) -> list[_batching.ItemResult]:
            async with gate:
                try:
                    batch = await self._create_batch(chunk, fields)
                except CreativeAIError as exc:  # InvalidInput too
                    return _batching.failed(chunk, exc)
                results = _batching.created(chunk, batch)
                if not wait:
                    return results
                try:
                    status = await self.wait(
                        batch, interval=interval, timeout=timeout, on_progress=on_progress
                    )
                except CreativeAIError as exc:
                    return [_batching.ItemResult(r.index, r.job, exc, r.batch_id) for r in results]
                return _batching.finished(results, status)

        parts = await asyncio.gather(*(run(chunk) for chunk in chunks))
        return _batching.in_order(count, [done, *parts])

    async def _create_batch(self, chunk: _batching.Chunk, shared: dict[str, Any]) -> BatchCreated:
        created = await self.call(_batching.OP, **{_batching.PROMPTS: chunk.prompts}, **shared)
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
    ) -> AsyncIterator[StreamUpdate]:
        """Start a streaming operation and yield its progress; see `CreativeAI.stream`.

        Input is checked at once (`InvalidInput`); the request goes out on first iteration.
        """
        cap = fields.pop(_credits.MAX_CREDITS, None)
        call = prepare(self._settings.base_url, op_key, fields)
        _credits.checked(call.op, cap)  # a bad cap is refused at once, like any field
        plan = _streaming.Plan(call, self._headers, dialect, poll_interval)
        return self._follow(plan, cap)

    async def _follow(self, plan: _streaming.Plan, cap: Any = None) -> AsyncIterator[StreamUpdate]:
        await self._check_cap([plan.call], cap)

        async def connect(last_event_id: str | None) -> tuple[int, AsyncIterable[bytes]]:
            response = await self._send(plan.call, stream=True, headers=plan.headers)
            if not plan.is_stream(response):
                await response.aread()
                await response.aclose()
                raise plan.not_a_stream(response, self._settings.api_key)
            if response.status_code != 200:  # 204: nothing to follow
                await response.aclose()
            return response.status_code, _chunks(response)

        try:
            # Opened once: reopening would send the paid create again.
            async for update in afollow(connect, max_reconnects=0, sleep=self._sleep):
                yield update
            return
        except StreamDropped as exc:
            settle = plan.settle(self._settings.base_url, exc)
        try:
            job = await self._execute(settle.call)
        except NotFoundError as exc:
            raise plan.unknown_job(settle, exc) from exc
        final = await self._wait(job, plan.poll_interval, None, None, False, fresh=True)
        last = _streaming.update_from_job(final)
        if last is not None:
            yield last

    # -- outputs -------------------------------------------------------------------------------

    async def download(self, url: str, path: str | os.PathLike[str]) -> _download.Downloaded:
        """Stream an output to `path` atomically; see `CreativeAI.download`."""
        _download.check_url(url)
        dest = _download.target(url, path)
        same = _download.same_origin(url, self._settings.base_url)
        headers = self._headers if same else {}
        policy = self._settings.retry
        retry = 0
        while True:
            try:
                async with self._http.stream(
                    "GET", url, headers=headers, follow_redirects=True
                ) as r:
                    if r.is_success:
                        return await _save(r, dest)
                    if retry >= policy.max_retries or not retryable_status(
                        r.status_code, create=False
                    ):
                        raise _download.status_error(url, r)
                    delay = policy.delay(retry, r.headers)
            except httpx.TransportError as exc:
                if retry >= policy.max_retries:
                    raise _download.transport_error(url, exc) from exc
                delay = policy.backoff(retry)
            await self._sleep(delay)
            retry += 1


async def _save(response: httpx.Response, dest: Path) -> _download.Downloaded:
    handle, temp = _download.open_temp(dest)
    written = 0
    try:
        async for chunk in response.aiter_bytes(_download.CHUNK):
            handle.write(chunk)
            written += len(chunk)
        await asyncio.to_thread(_download.commit, handle, temp, dest)
    except BaseException:
        _download.discard(handle, temp)
        raise
    return _download.Downloaded(dest, written)


async def _chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_bytes():
            yield chunk
    finally:
        await response.aclose()
