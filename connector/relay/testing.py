"""Test helpers for the relay (its tests, the crash test, the benchmark).

    with running_target() as target:                 # a local target that records requests
        target.script(Reply(503), Reply(200))        # answers in order, then `target.default`
        ...
        target.wait_for(1)

    with reset_server() as url:                      # a port that resets every connection
        ...

    with slow_target(0.2) as slow:                   # answers one byte every 0.2 s
        ...

    body, headers = api_webhook(payload, key)        # what the CreativeAI API would send

`fast_config(tmp_path, ...)` is a RelayConfig for tests: a scaled schedule, short
timeouts, http and 127.0.0.0/8 allowed, a fresh token key.
"""

from __future__ import annotations

import json
import secrets
import select
import socket
import ssl
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from connector.catalog import events as catalog_events
from connector.relay.config import RelayConfig
from connector.relay.tokens import TokenSealer
from connector.serving import serve
from connector.webhooks import headers_for

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def fast_config(database_url: str, **changes: Any) -> RelayConfig:
    """A config whose whole retry schedule runs in well under a second."""
    base = RelayConfig(
        database_url=database_url,
        token_keys=(TokenSealer.generate_key(),),
        retry_schedule=(0.0, 0.02, 0.04, 0.06),
        retry_jitter=0.0,
        attempt_timeout=0.5,
        connect_timeout=0.5,
        lease=2.0,
        poll_interval=0.05,
        allow_http=True,
        allow_networks=("127.0.0.0/8",),
        workers=4,
        log_json=False,
    )
    return base.with_(**changes)


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'relay.sqlite3'}"


# -- what the API sends ----------------------------------------------------------------------


def video_payload(job_id: str | None = None, state: str = "completed") -> dict[str, Any]:
    """A video completion body (the fields the relay reads; the rest as the docs show)."""
    job_id = job_id or f"vgen_{secrets.token_hex(6)}"
    return {
        "id": job_id,
        "object": "video.generation",
        "status": state,
        "model": "auto",
        "output_url": f"https://cdn.example/{job_id}.mp4" if state == "completed" else None,
        "credits": 30,
        "completed_at": "2026-11-22T10:00:00Z",
    }


def batch_payload(batch_id: str, job_states: list[str]) -> dict[str, Any]:
    jobs = [
        {
            "id": f"{batch_id}_job{i}",
            "prompt": f"prompt {i}",
            "status": state,
            "output_url": f"https://cdn.example/{batch_id}/{i}.mp4",
            "credits": 30,
        }
        for i, state in enumerate(job_states)
    ]
    return {
        "batch_id": batch_id,
        "object": "video.batch",
        "status": "completed",
        "total_jobs": len(jobs),
        "completed": sum(s == "completed" for s in job_states),
        "failed": sum(s == "failed" for s in job_states),
        "jobs": jobs,
        "completed_at": "2026-11-22T10:00:00Z",
    }


def event_for(payload: Mapping[str, Any]) -> str:
    """The catalog event name a payload is sent under."""
    if "batch_id" in payload:
        name = "video.batch.completed"
    else:
        name = f"{payload['object']}.{str(payload['status']).lower()}"
    assert name in catalog_events.BY_NAME, name
    return name


def api_webhook(
    payload: Mapping[str, Any], key: str, event: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """The raw body and headers the API sends for `payload`, signed with `key`."""
    body = json.dumps(payload).encode()
    delivery_id = str(payload.get("batch_id") or payload["id"])
    return body, headers_for(event or event_for(payload), delivery_id, body, key)


# -- a target that records and answers from a script ------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b'{"ok":true}'
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (a slow or timing-out target)


@dataclass(frozen=True)
class Received:
    path: str
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


class Target:
    """A WSGI app that records each request and answers with the next scripted reply."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.default = Reply()
        self._script: deque[Reply] = deque()
        self._cond = threading.Condition()
        self.url = ""

    def script(self, *replies: Reply) -> None:
        with self._cond:
            self._script.extend(replies)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        with self._cond:
            reply = self._script.popleft() if self._script else self.default
        if reply.delay:
            time.sleep(reply.delay)
        with self._cond:
            self.received.append(
                Received(
                    path=environ.get("PATH_INFO", ""),
                    query=environ.get("QUERY_STRING", ""),
                    headers=headers,
                    body=body,
                    at=time.time(),
                )
            )
            self._cond.notify_all()
        start_response(
            f"{reply.status} X",
            [("Content-Type", "application/json"), *reply.headers.items()],
        )
        return [reply.body]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until at least `count` requests arrived; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"target got {len(self.received)} requests, expected {count}"
                    )
                self._cond.wait(left)
            return list(self.received)


@contextmanager
def running_target() -> Iterator[Target]:
    target = Target()
    with serve(target) as server:
        target.url = server.url
        yield target


@contextmanager
def reset_server() -> Iterator[str]:
    """A local port whose every connection is reset (RST) once the request starts."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.1)
    stop = threading.Event()
    hits: list[float] = []

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            conn.settimeout(1.0)
            with suppress(OSError):
                conn.recv(1024)
            hits.append(time.time())
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        listener.close()


DRIBBLED = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


class SlowTarget:
    """A raw-socket HTTP target on 127.0.0.1 that reads each request, then sends its
    answer one byte every `interval` seconds (by default a whole 200 in about 17 s at
    0.2 s: its status line alone takes 3 s). Counts connections and the most at once."""

    def __init__(self, interval: float = 0.2, answer: bytes = DRIBBLED) -> None:
        self.interval = interval
        self.answer = answer
        self.url = ""
        self.requests = 0
        self.active = 0
        self.most_at_once = 0
        self.bodies: list[bytes] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def serve(self, listener: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5.0)
            try:
                body = _read_request(conn)
            except OSError:
                return
            with self._lock:
                self.requests += 1
                self.active += 1
                self.most_at_once = max(self.most_at_once, self.active)
                self.bodies.append(body)
            try:
                for byte in self.answer:
                    if self._stop.is_set() or self._closed(conn):
                        break  # the relay gave up and closed the connection
                    conn.sendall(bytes([byte]))
            except OSError:
                pass
            finally:
                with self._lock:
                    self.active -= 1

    def _closed(self, conn: socket.socket) -> bool:
        """Wait `interval`; True as soon as the other side closes the connection."""
        readable, _, _ = select.select([conn], [], [], self.interval)
        return bool(readable) and not conn.recv(1, socket.MSG_PEEK)


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise OSError("closed before the request ended")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return body


@contextmanager
def slow_target(interval: float = 0.2, answer: bytes = DRIBBLED) -> Iterator[SlowTarget]:
    """A `SlowTarget` listening on a free port until the block ends."""
    target = SlowTarget(interval, answer)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.1)
    target.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    thread = threading.Thread(target=target.serve, args=(listener,), daemon=True)
    thread.start()
    try:
        yield target
    finally:
        target._stop.set()
        thread.join(2)
        listener.close()


def wait_until(check: Callable[[], Any], timeout: float = 10.0, every: float = 0.01) -> Any:
    """Poll `check` until it returns something truthy; AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(every)


# -- storage for tests ------------------------------------------------------------------------

TABLES = (
    "attempts",
    "join_items",
    "deliveries",
    "events",
    "routes",
    "subscriptions",
    "tenants",
    "ledger",
)


def postgres_available(url: str = PG_URL) -> bool:
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=2):
            return True
    except Exception:
        return False


@contextmanager
def postgres_schema(url: str = PG_URL) -> Iterator[str]:
    """A fresh schema `relay_test_<random>` with the relay's tables; dropped afterwards."""
    from connector.relay.storage.postgres import PostgresStorage

    name = f"relay_test_{secrets.token_hex(5)}"
    store = PostgresStorage(url, schema=name)
    try:
        store.migrate()
        store.close()
        yield name
    finally:
        PostgresStorage(url, schema=name).drop_schema()


def empty(storage: Any) -> None:
    """Delete every row (between tests sharing one PostgreSQL schema)."""
    with storage.transaction() as tx:
        for table in TABLES:
            tx.run(f"DELETE FROM {table}")


# -- a running relay ----------------------------------------------------------------------------


_VERIFY = ssl.create_default_context()  # made once: each httpx client would load it again


@dataclass
class RunningRelay:
    url: str
    app: Any
    relay: Any  # connector.relay.relay.Relay

    def api(self, key: str) -> httpx.Client:
        """An httpx client for the management API, authenticated with `key`."""
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
            verify=_VERIFY,
        )


@contextmanager
def running_relay(config: RelayConfig, *, clean: bool = False) -> Iterator[RunningRelay]:
    """A relay app served on a free port; `clean` empties its database first."""
    from connector.relay.app import create_app, relay_of

    app = create_app(config.with_(embedded_worker=False))
    relay = relay_of(app)
    try:
        if clean:
            empty(relay.storage)
        if config.embedded_worker:
            relay.start_forwarder()
        with serve(app) as server:
            yield RunningRelay(url=server.url, app=app, relay=relay)
    finally:
        relay.close()
