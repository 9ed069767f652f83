"""Server-Sent Events for CreativeAI progress streams.

Three layers, each usable alone and none tied to an HTTP client:

* :class:`SSEDecoder` turns raw bytes into :class:`ServerSentEvent` objects following the WHATWG
  "event stream interpretation" rules (BOM, CR/LF/CRLF, comments, ``data`` joining, ``id``
  persistence, digit-only ``retry``, discarding an unterminated last event).
* :func:`normalize` maps the three progress dialects the API documents onto one
  :class:`StreamUpdate` (``progress`` / ``completed`` / ``failed``).
* :func:`follow` / :func:`afollow` consume a stream through a ``connect`` callable, optionally
  reconnect with ``Last-Event-ID`` after a drop (``max_reconnects``; the client's POST streams
  use 0, since reopening one re-sends its create), stop on HTTP 204, and reconcile by job id when
  the stream cannot be reopened.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
)
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "DEFAULT_RETRY_MS",
    "SSEDecoder",
    "ServerSentEvent",
    "StreamDropped",
    "StreamUpdate",
    "afollow",
    "aiter_events",
    "follow",
    "iter_events",
    "normalize",
]

DEFAULT_RETRY_MS = 1000
"""Reconnection delay used until the server sends a ``retry`` field."""


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event.

    ``id`` is the last event id in force when the event was dispatched (it persists across
    events); ``retry`` is the ``retry`` value given inside this event's block, if any.
    """

    event: str
    data: str
    id: str
    retry: int | None


_new_event = ServerSentEvent.__new__
_set = object.__setattr__


def _make_event(event: str, data: str, last_id: str, retry: int | None) -> ServerSentEvent:
    # Same result as ServerSentEvent(...), minus the frozen-dataclass __init__ overhead on the
    # hot path (one call per dispatched event).
    ev = _new_event(ServerSentEvent)
    _set(ev, "event", event)
    _set(ev, "data", data)
    _set(ev, "id", last_id)
    _set(ev, "retry", retry)
    return ev


class SSEDecoder:
    """Incremental WHATWG event-stream decoder.

    ``feed`` bytes as they arrive; it returns the events completed by them. ``close`` ends the
    stream: a partial line or an event without its terminating blank line is discarded, and the
    decoder is ready for a new stream (a reconnection) while keeping ``last_event_id`` and
    ``retry``, as an ``EventSource`` does.
    """

    __slots__ = (
        "_cr",
        "_data",
        "_event",
        "_event_retry",
        "_id_buffer",
        "_started",
        "_tail",
        "_utf8",
        "last_event_id",
        "retry",
    )

    def __init__(self) -> None:
        self.last_event_id: str = ""
        """The last event id in force: set when an event is dispatched (its blank line
        arrives), never by the ``id`` line of an unfinished event; persists across events and
        reconnections."""
        self.retry: int | None = None
        """Reconnection time in milliseconds announced by the server, if any."""
        self._reset_stream()

    def _reset_stream(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._started = False  # has the first character (possible BOM) been seen?
        self._cr = False  # did the previous text end with CR (a CRLF may straddle chunks)?
        self._tail: list[str] = []  # pieces of the current, unterminated line
        self._data: list[str] = []
        self._event = ""
        self._event_retry: int | None = None
        # The "last event ID buffer": what `id` lines set; it becomes `last_event_id` only
        # when an event is dispatched, so an event cut off before its blank line counts for
        # nothing.
        self._id_buffer = self.last_event_id

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        text = self._utf8.decode(chunk)
        if not self._started:
            if not text:
                return []
            self._started = True
            if text[0] == "\ufeff":
                text = text[1:]
        if self._cr and text:
            self._cr = False
            if text[0] == "\n":
                text = text[1:]
        if not text:
            return []
        if "\r" in text:
            self._cr = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")

        lines = text.split("\n")
        if len(lines) == 1:
            self._tail.append(text)
            return []
        if self._tail:
            self._tail.append(lines[0])
            lines[0] = "".join(self._tail)
            self._tail = []
        last = lines.pop()
        if last:
            self._tail.append(last)

        out: list[ServerSentEvent] = []
        data = self._data
        event = self._event
        last_id = self.last_event_id
        buffer = self._id_buffer
        retry = self._event_retry
        for line in lines:
            if not line:  # blank line: dispatch
                last_id = buffer
                if data:
                    out.append(_make_event(event or "message", "\n".join(data), last_id, retry))
                    data = []
                event = ""
                retry = None
                continue
            name, _, value = line.partition(":")
            if value and value[0] == " ":
                value = value[1:]
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value
            elif name == "id" and "\0" not in value:
                buffer = value
            elif name == "retry" and value.isdigit() and value.isascii():
                retry = self.retry = int(value)
            # Anything else, including comments (empty field name), is ignored.
        self._data = data
        self._event = event
        self.last_event_id = last_id
        self._id_buffer = buffer
        self._event_retry = retry
        return out

    def close(self) -> list[ServerSentEvent]:
        """End of stream: discard any unterminated line or event and reset for a new stream."""
        self._utf8.decode(b"", final=True)
        self._reset_stream()
        return []


def iter_events(chunks: Iterable[bytes]) -> Iterator[ServerSentEvent]:
    decoder = SSEDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.close()


async def aiter_events(chunks: AsyncIterable[bytes]) -> AsyncIterator[ServerSentEvent]:
    decoder = SSEDecoder()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.close():
        yield event


# --------------------------------------------------------------------------------------------
# Normalization of the progress dialects
# --------------------------------------------------------------------------------------------

Kind = Literal["progress", "completed", "failed"]


@dataclass(frozen=True)
class StreamUpdate:
    kind: Kind
    percent: float | None = None
    urls: tuple[str, ...] = ()
    code: str | None = None
    message: str | None = None
    job_id: str | None = None
    status: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def terminal(self) -> bool:
        return self.kind != "progress"


# The word deciding the kind comes from "type" (dialect 3), "status" (dialects 1 and 2) or the
# SSE event name (dialect 1's named events), matched case-insensitively.
_KINDS: dict[str, Kind | None] = {
    **dict.fromkeys(
        [
            "progress",
            "pending",
            "processing",
            "queued",
            "in_queue",
            "in_progress",
            "running",
            "starting",
            "started",
            "created",
            "submitted",
            "waiting",
        ],
        "progress",
    ),
    **dict.fromkeys(
        ["complete", "completed", "succeeded", "success", "done", "finished"], "completed"
    ),
    **dict.fromkeys(["error", "failed", "failure", "canceled", "cancelled"], "failed"),
    "log": None,
    "output": None,
}
_CANCELED = ("canceled", "cancelled")
_PERCENT_KEYS = ("percent", "percentage", "progress")
_URL_KEYS = (
    "url",
    "urls",
    "output_url",
    "output_urls",
    "outputs",
    "output",
    "video_url",
    "image_url",
    "audio_url",
)
_ID_KEYS = ("id", "job_id", "generation_id", "task_id", "request_id")


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().rstrip("%"))
        except ValueError:
            return None
    return None


def _percent(obj: dict[str, Any]) -> float | None:
    for container in (obj, obj.get("data")):
        if isinstance(container, dict):
            for key in _PERCENT_KEYS:
                number = _number(container.get(key))
                if number is not None:
                    return number
    return None


def _add_urls(value: object, out: list[str], depth: int) -> None:
    if isinstance(value, str):
        if value and value not in out:
            out.append(value)
    elif isinstance(value, list):
        for item in value:
            _add_urls(item, out, depth)
    elif isinstance(value, dict) and depth > 0:
        for key in _URL_KEYS:
            if key in value:
                _add_urls(value[key], out, depth - 1)


def _urls(obj: dict[str, Any]) -> tuple[str, ...]:
    out: list[str] = []
    _add_urls(obj, out, 2)
    data = obj.get("data")  # generation objects keep their outputs here
    if isinstance(data, dict | list):
        _add_urls(data, out, 2)
    return tuple(out)


def normalize(event: ServerSentEvent) -> StreamUpdate | None:
    """Map one event of any documented progress dialect to a :class:`StreamUpdate`.

    Returns ``None`` for ``[DONE]``, non-JSON data, ``log``/``output`` frames and anything whose
    kind cannot be recognised. Exception: an event *named* ``error`` whose data is not JSON is a
    failure carrying the data as its message.
    """
    data = event.data
    if data.strip() == "[DONE]":
        return None
    try:
        obj = json.loads(data)
    except ValueError:
        if event.event == "error":
            return StreamUpdate("failed", message=data or None, status="error", raw={})
        return None
    if not isinstance(obj, dict):
        return None

    word: str | None = None
    for candidate in (obj.get("type"), obj.get("status"), event.event):
        if isinstance(candidate, str) and candidate.lower() in _KINDS:
            word = candidate
            break
    if word is None:
        return None
    kind = _KINDS[word.lower()]
    if kind is None:
        return None

    error = obj.get("error")
    code = _text(obj.get("code"))
    message = _text(obj.get("message"))
    if isinstance(error, dict):
        code = code or _text(error.get("code"))
        message = message or _text(error.get("message"))
    elif message is None:
        message = _text(error) or _text(obj.get("detail"))
    if word.lower() in _CANCELED:
        code = "canceled"

    job_id = None
    for key in _ID_KEYS:
        job_id = _text(obj.get(key))
        if job_id:
            break
    status = obj.get("status")
    return StreamUpdate(
        kind=kind,
        percent=_percent(obj),
        urls=_urls(obj),
        code=code if kind == "failed" else None,
        message=message,
        job_id=job_id,
        status=status if isinstance(status, str) else word,
        raw=obj,
    )


# --------------------------------------------------------------------------------------------
# Reconnecting consumer
# --------------------------------------------------------------------------------------------


class StreamDropped(Exception):
    """The stream ended before a terminal update and could not be reopened or reconciled."""

    def __init__(
        self, job_id: str | None, *, last_event_id: str = "", status: int | None = None
    ) -> None:
        detail = f"job {job_id}" if job_id else "no job id seen"
        if status is not None:
            detail += f", reconnect answered HTTP {status}"
        super().__init__(f"progress stream dropped before a terminal update ({detail})")
        self.job_id = job_id
        self.last_event_id = last_event_id
        self.status = status


class _Session:
    """State shared by follow/afollow: decoding, job id tracking and reconnect budget."""

    def __init__(self, max_reconnects: int) -> None:
        self.decoder = SSEDecoder()
        self.job_id: str | None = None
        self.max_reconnects = max_reconnects
        self.failures = 0  # reconnects since the last connection that delivered an event
        self.finished = False

    @property
    def last_event_id(self) -> str | None:
        return self.decoder.last_event_id or None

    def feed(self, chunk: bytes) -> list[StreamUpdate]:
        updates: list[StreamUpdate] = []
        for event in self.decoder.feed(chunk):
            self.failures = 0
            if event.data.strip() == "[DONE]":
                self.finished = True
                break
            update = normalize(event)
            if update is None:
                continue
            if update.job_id:
                self.job_id = update.job_id
            updates.append(update)
            if update.terminal:
                self.finished = True
                break
        return updates

    def next_delay(self) -> float | None:
        """After a drop: seconds to wait before reconnecting, or None when out of budget."""
        self.decoder.close()
        if self.failures >= self.max_reconnects:
            return None
        self.failures += 1
        retry = self.decoder.retry
        return (DEFAULT_RETRY_MS if retry is None else retry) / 1000

    def dropped(self, status: int | None = None) -> StreamDropped:
        return StreamDropped(self.job_id, last_event_id=self.decoder.last_event_id, status=status)


def follow(
    connect: Callable[[str | None], tuple[int, Iterable[bytes]]],
    *,
    max_reconnects: int = 5,
    sleep: Callable[[float], object] = time.sleep,
    reconcile: Callable[[str], StreamUpdate | None] | None = None,
) -> Iterator[StreamUpdate]:
    """Yield normalized updates until a terminal one, reconnecting after drops.

    ``connect(last_event_id)`` opens the stream (``None`` on the first call or when no id is
    known) and returns the HTTP status and the body's byte chunks. A stream that ends or raises
    before a terminal update is reopened after the server's ``retry`` (default 1000 ms), at most
    ``max_reconnects`` times in a row without receiving an event. HTTP 204 stops quietly;
    ``data: [DONE]`` ends the stream. When the stream cannot be reopened (``connect`` raises, a
    status other than 200/204, or the budget is spent) the last seen job id is passed to
    ``reconcile`` and its result yielded; without a job id or a result, :class:`StreamDropped`.
    """
    session = _Session(max_reconnects)
    cause: BaseException | None = None
    status: int | None = None
    while True:
        try:
            status, chunks = connect(session.last_event_id)
        except Exception as exc:
            cause = exc
            break
        if status == 204:
            return
        if status != 200:
            _close(chunks)
            break
        status = None
        try:
            for chunk in chunks:
                yield from session.feed(chunk)
                if session.finished:
                    return
        except Exception as exc:  # the transport's error type is unknown here
            cause = exc
        finally:
            _close(chunks)
        delay = session.next_delay()
        if delay is None:
            break
        sleep(delay)

    if session.job_id is not None and reconcile is not None:
        result = reconcile(session.job_id)
        if result is not None:
            yield result
            return
    raise session.dropped(status) from cause


async def afollow(
    connect: Callable[[str | None], Awaitable[tuple[int, AsyncIterable[bytes]]]],
    *,
    max_reconnects: int = 5,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    reconcile: Callable[[str], Awaitable[StreamUpdate | None]] | None = None,
) -> AsyncIterator[StreamUpdate]:
    """Async twin of :func:`follow`; ``connect``, ``sleep`` and ``reconcile`` are awaited."""
    session = _Session(max_reconnects)
    cause: BaseException | None = None
    status: int | None = None
    while True:
        try:
            status, chunks = await connect(session.last_event_id)
        except Exception as exc:
            cause = exc
            break
        if status == 204:
            return
        if status != 200:
            await _aclose(chunks)
            break
        status = None
        try:
            async for chunk in chunks:
                for update in session.feed(chunk):
                    yield update
                if session.finished:
                    return
        except Exception as exc:
            cause = exc
        finally:
            await _aclose(chunks)
        delay = session.next_delay()
        if delay is None:
            break
        await sleep(delay)

    if session.job_id is not None and reconcile is not None:
        result = await reconcile(session.job_id)
        if result is not None:
            yield result
            return
    raise session.dropped(status) from cause


def _close(chunks: object) -> None:
    close = getattr(chunks, "close", None)
    if callable(close):
        close()


async def _aclose(chunks: object) -> None:
    aclose = getattr(chunks, "aclose", None)
    if callable(aclose):
        await aclose()
