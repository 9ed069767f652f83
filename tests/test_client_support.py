"""A scripted HTTP server on 127.0.0.1 for the client's tests, and a runner for both clients.

`ScriptedServer` answers each request from a script (or a routing function) and records
what it received. Besides ordinary answers it can misbehave exactly: close the connection
after reading a request (`drop`), reset it (`reset`), hold it open (`hang`) or stream
server-sent events and then stop. `run(mode, ...)` runs one scenario against the sync or
the async client with an injected sleep, returning the result or error and every wait.

This module holds no tests itself; the `test_client_*` modules import it.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from connector.client import AsyncCreativeAI, CreativeAI
from connector.sandbox.harness import RunningSandbox

KEY = "sk-test-0123456789abcdef"

Action = Literal["answer", "drop", "reset", "hang", "stream"]


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list → JSON, bytes/str → as is
    headers: dict[str, str] = field(default_factory=dict)
    action: Action = "answer"
    # For "stream": pieces of the event stream, and whether to cut the connection at the end
    # (True) or end the response properly (False).
    events: list[bytes] = field(default_factory=list)
    cut: bool = False
    delay: float = 0.0  # seconds before answering

    def payload(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


def error_body(code: str, message: str, param: str | None = None) -> dict[str, Any]:
    return {
        "error": {"code": code, "message": message, "type": "invalid_request_error", "param": param}
    }


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


Script = list[Reply] | Callable[[Received], Reply]


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # many clients connect at once in the parallelism tests


class ScriptedServer:
    """An HTTP/1.1 server on 127.0.0.1 answering from `script`; see the module docstring."""

    def __init__(self, script: Script | None = None, port: int = 0) -> None:
        self.script: Script = script if script is not None else []
        self.received: list[Received] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self.stop = threading.Event()
        self._server = _Server(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def next_reply(self, got: Received) -> Reply:
        with self._lock:
            self.received.append(got)
            if callable(self.script):
                return self.script(got)
            if not self.script:
                return Reply(599, {"error": "script exhausted"})
            return self.script.pop(0)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                got = Received(self.command, self.path, dict(self.headers.items()), body)
                with server._lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    reply = server.next_reply(got)
                    if reply.delay:
                        server.stop.wait(reply.delay)
                    self._act(reply)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def _act(self, reply: Reply) -> None:
                if reply.action == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if reply.action == "reset":
                    self.close_connection = True
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.connection.close()
                    return
                if reply.action == "hang":
                    server.stop.wait(30)
                    self.close_connection = True
                    return
                if reply.action == "stream":
                    self._stream(reply)
                    return
                payload = reply.payload()
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _stream(self, reply: Reply) -> None:
                self.close_connection = True
                self.send_response(reply.status)
                headers = {"Content-Type": "text/event-stream", **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Connection", "close")
                self.end_headers()
                for piece in reply.events:
                    self.wfile.write(piece)
                    self.wfile.flush()
                if reply.cut:
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                self.connection.shutdown(socket.SHUT_RDWR)

        return Handler


def free_port() -> int:
    """A port nothing listens on (connections to it are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- running a scenario on both clients ----------------------------------------------------


@dataclass
class Outcome:
    result: Any = None
    error: BaseException | None = None
    sleeps: list[float] = field(default_factory=list)

    def raised(self, cls: type[BaseException]) -> Any:
        assert isinstance(self.error, cls), f"expected {cls.__name__}, got {self.error!r}"
        return self.error


def against(mode: str, sandbox: RunningSandbox, action: Any, **options: Any) -> Outcome:
    """`run` against a sandbox, with its URL and key."""
    return run(mode, sandbox.url, action, api_key=sandbox.api_key, **options)


def run(
    mode: str,
    base_url: str,
    action: Callable[[Any], Any],
    *,
    on_sleep: Callable[[float], None] | None = None,
    **options: Any,
) -> Outcome:
    """Run `action(client)` on a fresh sync or async client (`mode`); for async, `action`
    returns an awaitable or an async iterator (collected into a list)."""
    outcome = Outcome()

    def record(seconds: float) -> None:
        outcome.sleeps.append(seconds)
        if on_sleep is not None:
            on_sleep(seconds)

    options.setdefault("api_key", KEY)
    if mode == "sync":
        try:
            with CreativeAI(base_url=base_url, sleep=record, **options) as client:
                result = action(client)
                outcome.result = list(result) if isinstance(result, Iterator) else result
        except Exception as exc:
            outcome.error = exc
        return outcome

    async def asleep(seconds: float) -> None:
        record(seconds)

    async def main() -> None:
        async with AsyncCreativeAI(base_url=base_url, sleep=asleep, **options) as client:
            result = action(client)
            if hasattr(result, "__aiter__"):
                outcome.result = [item async for item in result]
            else:
                outcome.result = await result

    try:
        asyncio.run(main())
    except Exception as exc:
        outcome.error = exc
    return outcome


class FakeClock:
    """A clock that moves only when the injected sleep is called."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
