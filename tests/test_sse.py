"""connector.client.sse: WHATWG parsing rules, dialect normalization, reconnecting consumer.

The reconnect tests run a real threaded HTTP server on 127.0.0.1 that serves scripted SSE
responses (chunked, optionally cut off before the terminating chunk) and records the
Last-Event-ID header of every request; httpx is the client inside the ``connect`` callables.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from connector.client.sse import (
    ServerSentEvent,
    SSEDecoder,
    StreamDropped,
    StreamUpdate,
    afollow,
    aiter_events,
    follow,
    iter_events,
    normalize,
)


def parse(*chunks: bytes) -> list[ServerSentEvent]:
    return list(iter_events(chunks))


def datas(*chunks: bytes) -> list[str]:
    return [event.data for event in parse(*chunks)]


def msg(data: Any, event: str = "message") -> ServerSentEvent:
    text = data if isinstance(data, str) else json.dumps(data)
    return ServerSentEvent(event=event, data=text, id="", retry=None)


# --------------------------------------------------------------------------------------------
# WHATWG parsing rules, one test each
# --------------------------------------------------------------------------------------------


def test_leading_bom_stripped_once_only_at_stream_start() -> None:
    bom = "\ufeff".encode()
    assert datas(bom + b"data: a\n\n") == ["a"]
    assert datas(bom[:1], bom[1:] + b"data: a\n\n") == ["a"]  # BOM split across chunks
    # A second BOM is not stripped: it becomes part of the field name, which is then unknown.
    assert datas(bom + bom + b"data: a\n\ndata: b\n\n") == ["b"]
    # A BOM later in the stream is ordinary data.
    assert datas(b"data: a\n\n", bom + b"data: b\n\ndata: \xef\xbb\xbfc\n\n") == ["a", "\ufeffc"]


def test_cr_lf_and_crlf_all_end_lines() -> None:
    expected = [("message", "a\nb"), ("x", "c")]
    for nl in (b"\r", b"\n", b"\r\n"):
        stream = b"data: a" + nl + b"data: b" + nl + nl + b"event: x" + nl + b"data: c" + nl + nl
        assert [(e.event, e.data) for e in parse(stream)] == expected, nl


def test_crlf_split_across_two_chunks_is_one_line_end() -> None:
    # If the LF after a chunk-final CR counted as a second line end, "a" would be dispatched
    # alone by the resulting blank line.
    assert datas(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n") == ["a\nb"]


def test_lines_starting_with_colon_are_comments() -> None:
    assert datas(b": hello\ndata: x\n:data: y\n\n") == ["x"]
    assert parse(b":\n\n: keep-alive\n\n") == []


def test_field_split_on_first_colon_and_one_leading_space_removed() -> None:
    assert datas(b"data:a:b: c\n\n") == ["a:b: c"]
    assert datas(b"data:  two\n\n") == [" two"]
    assert datas(b"data:\tx\n\n") == ["\tx"]
    assert datas(b"data\n\n") == [""]  # no colon: the whole line is the field name


def test_data_lines_joined_with_newline() -> None:
    assert datas(b"data: a\ndata:\ndata: b\n\n") == ["a\n\nb"]


def test_blank_line_dispatches_only_with_data_and_resets_event_type() -> None:
    events = parse(b"event: ping\nid: 1\n\n\n\ndata: x\n\n")
    assert [(e.event, e.data, e.id) for e in events] == [("message", "x", "1")]


def test_event_type_defaults_to_message() -> None:
    events = parse(b"data: a\n\nevent:\ndata: b\n\nevent: done\ndata: c\n\n")
    assert [e.event for e in events] == ["message", "message", "done"]


def test_id_containing_nul_is_ignored() -> None:
    events = parse(b"id: 7\ndata: a\n\nid: 8\x009\ndata: b\n\n")
    assert [e.id for e in events] == ["7", "7"]


def test_last_event_id_persists_across_events() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"id: 41\ndata: a\n\ndata: b\n\nid: 42\n\ndata: c\n\n")
    assert [e.id for e in events] == ["41", "41", "42"]  # an id-only block still sets it
    assert decoder.last_event_id == "42"


def test_an_id_counts_only_once_its_event_is_dispatched() -> None:
    # A stream cut inside the final event, after its `id:` line but before its blank line:
    # that event is discarded, so a resume must ask for what follows the last whole event.
    decoder = SSEDecoder()
    whole = b"".join(b"id: vgen_1:%d\ndata: {}\n\n" % n for n in range(10))
    assert [e.id for e in decoder.feed(whole)][-1] == "vgen_1:9"
    assert decoder.feed(b"id: vgen_1:10\n") == []
    assert decoder.last_event_id == "vgen_1:9"
    decoder.close()  # the connection drops
    assert decoder.last_event_id == "vgen_1:9"
    [event] = decoder.feed(b"data: next\n\n")  # the new stream starts from the last whole one
    assert event.id == "vgen_1:9"


def test_empty_id_resets_last_event_id() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"id: 5\ndata: a\n\nid\ndata: b\n\n")
    assert [e.id for e in events] == ["5", ""]
    assert decoder.last_event_id == ""


def test_retry_accepted_only_if_all_ascii_digits() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"retry: 3000\n\n")
    assert decoder.retry == 3000
    for bad in (b"12a", b"-5", b"+5", b" 12", b"1_000", b"1.5", b"\xd9\xa1\xd9\xa2", b""):
        decoder.feed(b"retry: " + bad + b"\ndata: x\n\n")
        assert decoder.retry == 3000, bad
    [event] = decoder.feed(b"retry: 0250\ndata: y\n\n")
    assert (decoder.retry, event.retry) == (250, 250)


def test_unknown_fields_ignored() -> None:
    events = parse(b"foo: bar\nDATA: no\nData: no\nevent : no\ndata: x\n\n")
    assert [(e.event, e.data) for e in events] == [("message", "x")]


def test_unterminated_last_event_discarded_at_eof() -> None:
    assert datas(b"data: a\n\ndata: b") == ["a"]
    assert datas(b"data: a\n\ndata: b\n") == ["a"]  # line ended, but no blank line
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\ndata: b\n") != []
    assert decoder.close() == []


def test_utf8_decoded_incrementally_across_chunks() -> None:
    stream = "data: żółw 🐢 ✓\n\n".encode()
    assert datas(*(stream[i : i + 1] for i in range(len(stream)))) == ["żółw 🐢 ✓"]


def test_invalid_utf8_replaced() -> None:
    assert datas(b"data: a\xffb\xc3\n\n") == ["a\ufffdb\ufffd"]


def test_any_chunking_gives_the_same_events() -> None:
    stream = "\ufeffid: 1\r\ndata: é\r\n\r\n: c\revent: x\rdata: 🐢\r\rdata: z\n\n".encode()
    expected = parse(stream)
    assert [(e.event, e.data, e.id) for e in expected] == [
        ("message", "é", "1"),
        ("x", "🐢", "1"),
        ("message", "z", "1"),
    ]
    for i in range(len(stream) + 1):
        for j in range(i, len(stream) + 1):
            assert parse(stream[:i], stream[i:j], stream[j:]) == expected, (i, j)


def test_close_starts_a_new_stream_keeping_last_event_id_and_retry() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"retry: 10\nid: 3\ndata: a\n\ndata: partial")
    decoder.close()
    [event] = decoder.feed("\ufeffdata: b\n\n".encode())  # BOM stripped again: new stream
    assert (event.data, event.id, decoder.retry) == ("b", "3", 10)


def test_aiter_events() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for piece in (b"data: a\r", b"\n\r\nid: 9\ndata: b\n\ndata: c"):
            yield piece

    async def collect() -> list[ServerSentEvent]:
        return [event async for event in aiter_events(chunks())]

    events = asyncio.run(collect())
    assert [(e.data, e.id) for e in events] == [("a", ""), ("b", "9")]


# --------------------------------------------------------------------------------------------
# Dialect normalization
# --------------------------------------------------------------------------------------------


def test_dialect1_status_progress_and_complete() -> None:
    update = normalize(msg({"status": "progress", "percent": 40}))
    assert update is not None
    assert (update.kind, update.percent, update.urls) == ("progress", 40.0, ())
    update = normalize(msg({"status": "complete", "url": "https://cdn/x.png"}))
    assert update is not None
    assert (update.kind, update.urls, update.status) == (
        "completed",
        ("https://cdn/x.png",),
        "complete",
    )


def test_dialect1_named_events() -> None:
    progress = normalize(msg({"percent": 55}, event="progress"))
    complete = normalize(msg({"url": "https://cdn/v.mp4"}, event="complete"))
    error = normalize(msg({"code": "nsfw", "message": "blocked"}, event="error"))
    plain_error = normalize(msg("Stream error", event="error"))
    assert progress == StreamUpdate(
        "progress", percent=55.0, status="progress", raw={"percent": 55}
    )
    assert complete is not None and (complete.kind, complete.urls) == (
        "completed",
        ("https://cdn/v.mp4",),
    )
    assert error is not None and (error.kind, error.code, error.message) == (
        "failed",
        "nsfw",
        "blocked",
    )
    assert plain_error is not None
    assert (plain_error.kind, plain_error.message) == ("failed", "Stream error")


def generation(status: str, **extra: Any) -> dict[str, Any]:
    frame = {
        "id": "gen_42",
        "status": status,
        "input": {"prompt": "p", "image_url": "in.png"},
        "data": None,
        "usage": None,
    }
    frame.update(extra)
    return frame


@pytest.mark.parametrize("status", ["PENDING", "PROCESSING"])
def test_dialect2_non_terminal_frames_are_progress_without_percent(status: str) -> None:
    update = normalize(msg(generation(status)))
    assert update is not None
    assert (update.kind, update.percent, update.job_id, update.status, update.urls) == (
        "progress",
        None,
        "gen_42",
        status,
        (),
    )


def test_dialect2_progress_field_gives_percent() -> None:
    update = normalize(msg(generation("PROCESSING", data={"progress": 35})))
    assert update is not None and update.percent == 35.0


@pytest.mark.parametrize(
    "data",
    [
        {"outputs": ["https://cdn/a.mp4"]},
        {"outputs": [{"url": "https://cdn/a.mp4"}]},
        {"output_url": "https://cdn/a.mp4"},
        {"url": "https://cdn/a.mp4"},
    ],
)
def test_dialect2_completed_outputs_found_wherever_they_are(data: dict[str, Any]) -> None:
    update = normalize(msg(generation("COMPLETED", data=data, usage={"credits": 3})))
    assert update is not None
    assert (update.kind, update.urls, update.job_id) == (
        "completed",
        ("https://cdn/a.mp4",),
        "gen_42",
    )


def test_dialect2_failed_carries_code_and_message() -> None:
    update = normalize(msg(generation("FAILED", code="content_policy", message="Not allowed")))
    assert update is not None
    assert (update.kind, update.code, update.message, update.status) == (
        "failed",
        "content_policy",
        "Not allowed",
        "FAILED",
    )


def test_dialect2_canceled_is_failed_with_code_canceled() -> None:
    update = normalize(msg(generation("CANCELED")))
    assert update is not None
    assert (update.kind, update.code, update.job_id) == ("failed", "canceled", "gen_42")


def test_dialect3_progress_complete_and_error() -> None:
    progress = normalize(msg({"type": "progress", "percentage": 25}))
    complete = normalize(msg({"type": "complete", "outputs": ["https://a", "https://b"]}))
    error = normalize(msg({"type": "error", "error": "GPU out of memory"}))
    assert progress is not None and (progress.kind, progress.percent) == ("progress", 25.0)
    assert complete is not None and complete.urls == ("https://a", "https://b")
    assert complete.kind == "completed"
    assert error is not None and (error.kind, error.message) == ("failed", "GPU out of memory")


@pytest.mark.parametrize(
    "frame", [{"type": "log", "message": "step 3"}, {"type": "output", "content": "tok"}]
)
def test_dialect3_log_and_output_frames_are_not_updates(frame: dict[str, Any]) -> None:
    assert normalize(msg(frame)) is None


@pytest.mark.parametrize("data", ["[DONE]", "not json", "[1, 2]", "42", '{"hello": 1}'])
def test_done_non_json_and_unrecognised_data_are_not_updates(data: str) -> None:
    assert normalize(msg(data)) is None


# --------------------------------------------------------------------------------------------
# follow / afollow against a real HTTP server
# --------------------------------------------------------------------------------------------

Respond = Callable[[BaseHTTPRequestHandler], None]


def sse(*frames: str, drop: bool = False) -> Respond:
    """A 200 text/event-stream response, one HTTP chunk per frame; ``drop`` cuts it off."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        for frame in frames:
            body = frame.encode()
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(body), body))
            handler.wfile.flush()
        if drop:  # no terminating chunk; the socket closes: an interrupted body
            handler.close_connection = True
        else:
            handler.wfile.write(b"0\r\n\r\n")

    return respond


def no_content(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(204)
    handler.end_headers()


def frame(status: str, event_id: str, **extra: Any) -> str:
    return f"id: {event_id}\ndata: {json.dumps(generation(status, **extra))}\n\n"


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up on kept-alive or half-read connections are expected here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ScriptedServer:
    """Each GET /stream takes the next scripted response; GET /api/v1/generation/<id> answers
    a COMPLETED generation object."""

    def __init__(self, *script: Respond) -> None:
        self.script = list(script)
        self.last_event_ids: list[str | None] = []
        self.status_requests: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.startswith("/api/v1/generation/"):
                    job_id = self.path.rsplit("/", 1)[1]
                    owner.status_requests.append(job_id)
                    body = json.dumps(
                        generation("COMPLETED", id=job_id, data={"outputs": ["https://cdn/r.mp4"]})
                    )
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body.encode())
                    return
                owner.last_event_ids.append(self.headers.get("Last-Event-ID"))
                respond = owner.script.pop(0) if owner.script else sse(drop=True)
                respond(self)

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def serve() -> Iterator[Callable[..., ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(*script: Respond) -> ScriptedServer:
        servers.append(ScriptedServer(*script))
        return servers[-1]

    yield start
    for server in servers:
        if server.thread.is_alive():
            server.stop()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


def http_connect(client: httpx.Client, url: str) -> Callable[[str | None], tuple[int, Any]]:
    def connect(last_event_id: str | None) -> tuple[int, Iterator[bytes]]:
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        response = client.send(client.build_request("GET", url, headers=headers), stream=True)
        if response.status_code != 200:
            response.close()
            return response.status_code, iter(())

        def body() -> Iterator[bytes]:
            try:
                yield from response.iter_bytes()
            finally:
                response.close()

        return response.status_code, body()

    return connect


def http_reconcile(client: httpx.Client, base: str) -> Callable[[str], StreamUpdate | None]:
    def reconcile(job_id: str) -> StreamUpdate | None:
        response = client.get(f"{base}/api/v1/generation/{job_id}")
        return normalize(ServerSentEvent("message", response.text, "", None))

    return reconcile


def test_follow_reconnects_with_last_event_id_after_retry(serve: Any, client: httpx.Client) -> None:
    server = serve(
        sse(
            "retry: 25\n\n",
            frame("PROCESSING", "1"),
            frame("PROCESSING", "2", data={"progress": 40}),
            'data: {"half',
            drop=True,
        ),
        sse(frame("COMPLETED", "3", data={"outputs": ["https://cdn/v.mp4"]})),
    )
    sleeps: list[float] = []
    updates = list(follow(http_connect(client, f"{server.base}/stream"), sleep=sleeps.append))
    assert [(u.kind, u.percent) for u in updates] == [
        ("progress", None),
        ("progress", 40.0),
        ("completed", None),
    ]
    assert updates[-1].urls == ("https://cdn/v.mp4",)
    assert server.last_event_ids == [None, "2"]
    assert sleeps == [0.025]


def test_follow_waits_default_1000_ms_without_retry(serve: Any, client: httpx.Client) -> None:
    server = serve(sse(frame("PENDING", "a"), drop=True), sse(frame("FAILED", "b", code="x")))
    sleeps: list[float] = []
    updates = list(follow(http_connect(client, f"{server.base}/stream"), sleep=sleeps.append))
    assert [u.kind for u in updates] == ["progress", "failed"]
    assert (sleeps, server.last_event_ids) == ([1.0], [None, "a"])


def test_follow_stops_reconnecting_on_204(serve: Any, client: httpx.Client) -> None:
    server = serve(sse(frame("PROCESSING", "1"), drop=True), no_content)
    updates = list(follow(http_connect(client, f"{server.base}/stream"), sleep=lambda s: None))
    assert [u.kind for u in updates] == ["progress"]
    assert server.last_event_ids == [None, "1"]  # no third request


def test_follow_stops_after_terminal_update(serve: Any, client: httpx.Client) -> None:
    server = serve(sse(frame("COMPLETED", "1"), frame("PROCESSING", "2")))
    updates = list(follow(http_connect(client, f"{server.base}/stream")))
    assert [u.kind for u in updates] == ["completed"]


def test_follow_reconciles_by_job_id_when_reconnects_are_exhausted(
    serve: Any, client: httpx.Client
) -> None:
    server = serve(sse("retry: 1\n\n", frame("PROCESSING", "1"), drop=True))  # then drops only
    updates = list(
        follow(
            http_connect(client, f"{server.base}/stream"),
            max_reconnects=2,
            sleep=lambda s: None,
            reconcile=http_reconcile(client, server.base),
        )
    )
    assert server.last_event_ids == [None, "1", "1"]
    assert server.status_requests == ["gen_42"]
    assert [(u.kind, u.urls) for u in updates] == [
        ("progress", ()),
        ("completed", ("https://cdn/r.mp4",)),
    ]


def test_follow_reconciles_when_the_stream_cannot_be_reopened(
    serve: Any, client: httpx.Client
) -> None:
    server = serve(sse(frame("PROCESSING", "1"), drop=True))
    status_server = serve()
    stream = follow(
        http_connect(client, f"{server.base}/stream"),
        sleep=lambda s: None,
        reconcile=http_reconcile(client, status_server.base),
    )
    assert next(stream).kind == "progress"
    server.stop()  # the reconnect now fails with a connection error
    assert [u.kind for u in stream] == ["completed"]
    assert status_server.status_requests == ["gen_42"]


def test_follow_raises_stream_dropped_without_job_id(serve: Any, client: httpx.Client) -> None:
    server = serve(sse('id: 9\ndata: {"status": "progress", "percent": 5}\n\n', drop=True))
    with pytest.raises(StreamDropped) as info:
        list(
            follow(
                http_connect(client, f"{server.base}/stream"),
                max_reconnects=1,
                sleep=lambda s: None,
                reconcile=http_reconcile(client, server.base),
            )
        )
    assert (info.value.job_id, info.value.last_event_id) == (None, "9")
    assert isinstance(info.value.__cause__, httpx.RemoteProtocolError)  # the body was cut off
    assert server.last_event_ids == [None, "9"]
    assert server.status_requests == []


def test_afollow_reconnects_with_last_event_id(serve: Any) -> None:
    server = serve(sse(frame("PROCESSING", "7"), drop=True), sse(frame("COMPLETED", "8")))
    sleeps: list[float] = []

    async def no_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def run() -> list[StreamUpdate]:
        async with httpx.AsyncClient(timeout=5) as aclient:

            async def connect(last_event_id: str | None) -> tuple[int, AsyncIterator[bytes]]:
                headers = {"Accept": "text/event-stream"}
                if last_event_id is not None:
                    headers["Last-Event-ID"] = last_event_id
                request = aclient.build_request("GET", f"{server.base}/stream", headers=headers)
                response = await aclient.send(request, stream=True)

                async def body() -> AsyncIterator[bytes]:
                    try:
                        async for chunk in response.aiter_bytes():
                            yield chunk
                    finally:
                        await response.aclose()

                return response.status_code, body()

            return [u async for u in afollow(connect, sleep=no_sleep)]

    updates = asyncio.run(run())
    assert [u.kind for u in updates] == ["progress", "completed"]
    assert (server.last_event_ids, sleeps) == ([None, "7"], [1.0])
