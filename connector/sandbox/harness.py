"""Helpers to run a sandbox (and a webhook receiver) on 127.0.0.1 from tests, demos or a CLI.

    with running_sandbox(time_scale=0.01) as sb, webhook_sink() as sink:
        job = sb.http.post("/v1/video/generations",
                           json={"prompt": "x", "webhook_url": sink.url_for("/hook")}).json()
        sb.advance(30)                       # finish it now
        [delivery] = sink.wait_for(1)        # the signed completion webhook

`RunningSandbox` talks to the sandbox over HTTP (the control API), so what tests do is what
any client could do.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import httpx
from flask import Flask

from connector.sandbox import create_app, sandbox_of
from connector.sandbox.config import SandboxConfig
from connector.sandbox.delivery import tls_context
from connector.sandbox.engine import Sandbox
from connector.serving import serve

__all__ = [
    "ReceivedRequest",
    "RunningSandbox",
    "WebhookSink",
    "running_sandbox",
    "wait_for",
    "webhook_sink",
]

T = TypeVar("T")


def wait_for(
    check: Callable[[], T | None], timeout: float = 5.0, interval: float = 0.005, what: str = ""
) -> T:
    """Poll `check` until it returns something truthy; TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what or check}")
        time.sleep(interval)


@dataclass
class RunningSandbox:
    """A sandbox serving on 127.0.0.1, with its control API at hand."""

    url: str
    api_key: str = field(repr=False)
    app: Flask = field(repr=False)
    http: httpx.Client = field(repr=False)  # base_url = url, the key already set

    @property
    def sandbox(self) -> Sandbox:
        return sandbox_of(self.app)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def control(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """Call `/_sandbox/<path>`; raises for an error answer; returns the JSON."""
        answer = self.http.request(
            method, "/_sandbox/" + path.lstrip("/"), json=body, params=params
        )
        answer.raise_for_status()
        return answer.json()

    def advance(self, seconds: float) -> float:
        """Move the sandbox clock forward; everything due by then has happened on return."""
        return float(self.control("POST", "clock", {"advance": seconds})["now"])

    def now(self) -> float:
        return float(self.control("GET", "clock")["now"])

    def fault(self, action: str, **spec: Any) -> dict[str, Any]:
        """Arm a fault switch (see `connector.sandbox.faults`)."""
        result: dict[str, Any] = self.control("POST", "faults", {"action": action, **spec})
        return result

    def clear_faults(self) -> None:
        self.control("DELETE", "faults")

    def jobs(self, **filters: str) -> list[dict[str, Any]]:
        """Jobs, filtered by `state`, `status`, `operation` or `key`."""
        jobs: list[dict[str, Any]] = self.control("GET", "jobs", params=filters)["jobs"]
        return jobs

    def job(self, job_id: str) -> dict[str, Any]:
        job: dict[str, Any] = self.control("GET", f"jobs/{job_id}")
        return job

    def webhook_attempts(self, **filters: str) -> list[dict[str, Any]]:
        """Delivery attempts, filtered by `event`, `url`, `delivery_id` or `outcome`."""
        attempts: list[dict[str, Any]] = self.control("GET", "webhooks", params=filters)["attempts"]
        return attempts

    def set_credits(self, credits: int, key: str | None = None) -> int:
        body: dict[str, Any] = {"credits": credits}
        if key:
            body["key"] = key
        return int(self.control("POST", "credits", body)["credits"])

    def credits(self, key: str | None = None) -> int:
        keys = self.control("GET", "keys")["keys"]
        chosen = next(k for k in keys if key is None or k["name"] == key)
        return int(chosen["credits"])

    def reset(self) -> None:
        self.control("POST", "reset")

    def wait_for(self, check: Callable[[], T | None], timeout: float = 5.0, what: str = "") -> T:
        return wait_for(check, timeout=timeout, what=what)


@contextmanager
def running_sandbox(
    config: SandboxConfig | None = None, **changes: Any
) -> Iterator[RunningSandbox]:
    """Serve a sandbox app on a free port of 127.0.0.1 until the block ends.

    `changes` adjust `config` (default `SandboxConfig()`), e.g. `time_scale=0.01`.
    """
    settings = (config or SandboxConfig()).with_(**changes)
    app = create_app(settings)
    api_key = settings.api_keys[0].key
    try:
        with (
            serve(app) as server,
            httpx.Client(
                base_url=server.url,
                headers={"Authorization": f"Bearer {api_key}"},
                timeout=30,
                verify=tls_context(),
            ) as http,
        ):
            yield RunningSandbox(url=server.url, api_key=api_key, app=app, http=http)
    finally:
        sandbox_of(app).close()


# -- a webhook receiver ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str] = field(repr=False)  # names in lower case
    body: bytes = field(repr=False)
    received_at: float  # time.monotonic()
    status: int  # what the sink answered

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class WebhookSink:
    """A tiny HTTP receiver: records every request and answers as told (200 by default)."""

    def __init__(self) -> None:
        self.url = ""
        self._requests: list[ReceivedRequest] = []
        self._queue: deque[_Answer] = deque()
        self._default = _Answer(200, b'{"ok":true}', {"Content-Type": "application/json"})
        self._lock = threading.Lock()

    def url_for(self, path: str = "/hook") -> str:
        return self.url + "/" + path.lstrip("/")

    def respond(
        self,
        status: int,
        *,
        times: int = 1,
        body: bytes | str = b"",
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Answer the next `times` requests with `status` (after `delay` seconds)."""
        data = body.encode() if isinstance(body, str) else body
        with self._lock:
            for _ in range(times):
                self._queue.append(_Answer(status, data, dict(headers or {}), delay))

    def respond_always(self, status: int, *, body: bytes | str = b"") -> None:
        """Change the default answer (used once the queued ones are spent)."""
        data = body.encode() if isinstance(body, str) else body
        with self._lock:
            self._default = _Answer(status, data)

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    def received(self, path: str | None = None) -> list[ReceivedRequest]:
        return [r for r in self.requests if path is None or r.path == path]

    def wait_for(
        self, count: int = 1, timeout: float = 5.0, path: str | None = None
    ) -> list[ReceivedRequest]:
        """Wait until at least `count` requests (to `path`) arrived; returns them all."""
        return wait_for(
            lambda: got if len(got := self.received(path)) >= count else None,
            timeout=timeout,
            what=f"{count} webhook request(s)",
        )

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._queue.clear()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        with self._lock:
            answer = self._queue.popleft() if self._queue else self._default
        if answer.delay:
            time.sleep(answer.delay)
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        record = ReceivedRequest(
            method=environ["REQUEST_METHOD"],
            path=environ.get("PATH_INFO", "/"),
            query=dict(parse_qsl(environ.get("QUERY_STRING", ""))),
            headers=headers,
            body=body,
            received_at=time.monotonic(),
            status=answer.status,
        )
        with self._lock:
            self._requests.append(record)
        reason = {200: "OK", 201: "Created", 204: "No Content"}.get(answer.status, "Answer")
        start_response(
            f"{answer.status} {reason}",
            [("Content-Length", str(len(answer.body))), *answer.headers.items()],
        )
        return [answer.body]


@contextmanager
def webhook_sink() -> Iterator[WebhookSink]:
    """A `WebhookSink` serving on a free port of 127.0.0.1 until the block ends."""
    sink = WebhookSink()
    with serve(sink) as server:
        sink.url = server.url
        yield sink
