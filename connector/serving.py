"""Run a WSGI app on a local port in a background thread.

    from connector.serving import serve

    with serve(app) as server:
        httpx.get(server.url + "/v1/models")

`serve` binds 127.0.0.1 on a free port by default, answers each request in its own
thread (werkzeug's threaded server), and on exit stops accepting, closes the socket and
joins the serving thread. The sandbox, the relay and the tests all use it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

__all__ = ["Server", "serve"]

#: How often the serving loop checks for shutdown (seconds); bounds the time `serve` takes
#: to stop.
_POLL_INTERVAL = 0.02


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler without the per-request access log line."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@dataclass(frozen=True)
class Server:
    """A running server: where it listens."""

    host: str
    port: int
    _server: BaseWSGIServer = field(repr=False, compare=False)

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:54321``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


@contextmanager
def serve(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    access_log: bool = False,
) -> Iterator[Server]:
    """Serve `app` (any WSGI callable) on `host:port` until the block exits.

    `port=0` picks a free port; the chosen one is `Server.port`. Each request runs in its
    own daemon thread; requests still running when the block exits (a long stream, say)
    are not waited for, so the app should end its own streams when it shuts down.
    """
    handler = WSGIRequestHandler if access_log else _QuietHandler
    server = make_server(host, port, app, threaded=True, request_handler=handler)
    # Do not join request threads on close: an open progress stream must not hold up exit.
    server.block_on_close = False  # type: ignore[attr-defined]
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": _POLL_INTERVAL},
        name=f"serve-{host}:{server.port}",
        daemon=True,
    )
    thread.start()
    try:
        yield Server(host=host, port=server.port, _server=server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
