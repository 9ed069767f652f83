"""A local HTTP server that records each request exactly as it arrived, for request checks.

with capture_server() as server:
    server.answer = (202, {"id": "x"})
    ...                                    # send requests to server.url
    [request] = server.requests            # method, path, headers, json, form, files
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from connector.serving import serve


@dataclass(frozen=True)
class Captured:
    method: str
    path: str
    headers: dict[str, str]
    json: Any  # the parsed JSON body, or None
    form: dict[str, str]
    files: dict[str, tuple[str, str, bytes]]  # name → (filename, content type, content)


@dataclass
class CaptureServer:
    url: str = ""
    answer: tuple[int, Any] = (200, {})
    requests: list[Captured] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        is_json = request.mimetype == "application/json"
        captured = Captured(
            method=request.method,
            path=request.path,
            headers=dict(request.headers),
            json=json.loads(request.get_data()) if is_json and request.content_length else None,
            form=dict(request.form),
            files={
                name: (f.filename or "", f.mimetype, f.read()) for name, f in request.files.items()
            },
        )
        with self._lock:
            self.requests.append(captured)
            status, body = self.answer
        return Response(json.dumps(body), status=status, mimetype="application/json")(
            environ, start_response
        )


@contextmanager
def capture_server() -> Iterator[CaptureServer]:
    server = CaptureServer()
    with serve(server.wsgi) as running:
        server.url = running.url
        yield server
