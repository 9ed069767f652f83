"""Overhead of AsyncCreativeAI over raw httpx: 50 concurrent video creates against the sandbox.

Run from the repository root: ``python bench/client_fanout.py [--rounds N] [--concurrency N]``.

What is measured: the wall-clock time for `--concurrency` (default
`limits.MAX_PARALLEL_REQUESTS`) video creates started at once and all answered, through

* client: ``AsyncCreativeAI.videos.create(...)`` -- catalog validation, JSON body, retry
  loop, typed `VideoJob` with `.meta` from the headers;
* raw: ``httpx.AsyncClient.post(...)`` with the same body, headers, timeout and connection
  limits, checking the status and decoding the JSON (what any caller must do at least).

The sandbox runs in a child process (per-minute budgets off) so it does not share the GIL
with the clients being measured; on a machine with two or more CPUs each process is pinned
to its own. Its clock is slowed right down so that no job finishes (and no output is
registered) while the rounds run: creates answer at once whatever the clock, and the
server does nothing but answer them. It sits behind a small threaded HTTP/1.1 gateway
that keeps connections alive (werkzeug's development server closes every connection, which
would make both sides measure TCP handshakes). Both clients keep their connections warm
between rounds; one untimed warm-up round each opens them. Garbage is collected before
each round (untimed) and the long-lived objects are frozen out of the collector after the
warm-up: a full collection of the whole heap (tens of ms) landing inside one side's round
would otherwise decide that round. Collections caused by a side's own allocations still
count against it.

Rounds alternate which side goes first; each round pairs a client run with the raw run
next to it, and the median of those paired ratios client/raw is the headline figure
(target <= 1.10; pairing cancels the drift of a shared machine). Medians and bests of
each side are printed too, with the CPU time the measuring process spends per create on
each side, and the same without any network: an in-memory transport answering every
create with a recorded sandbox answer, 500 at once, best of 20 -- the client's own cost,
free of the server's and the machine's noise.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connector.catalog import CATALOG, limits  # noqa: E402
from connector.client import AsyncCreativeAI  # noqa: E402
from connector.client._base import DEFAULT_LIMITS, DEFAULT_TIMEOUT  # noqa: E402

TARGET = 1.10
OP = CATALOG.operation("video.create_from_text")
BODY = {"prompt": "Slow premium turntable shot of a travel mug", "duration": 5}


# -- the sandbox, in a child process ------------------------------------------------------------


class KeepAliveWSGI(BaseHTTPRequestHandler):
    """A minimal HTTP/1.1 WSGI gateway that keeps connections open.

    werkzeug's development server closes the connection after every answer, so each create
    would pay a TCP handshake and a new server thread; with keep-alive both clients reuse
    their pooled connections and the sandbox's own cost per request stays small.
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small answers go out at once, no delayed-ACK stalls
    app: Any = None

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _run(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        host, port = self.headers.get("Host", "127.0.0.1:80").rpartition(":")[::2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(path),
            "QUERY_STRING": query,
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(length),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                environ[key] = value
        answer: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> Any:
            answer[:] = [status, headers]
            return lambda data: None

        result = self.app(environ, start_response)
        try:
            payload = b"".join(result)
        finally:
            getattr(result, "close", lambda: None)()
        status, headers = answer
        head = [f"{self.protocol_version} {status}"]
        head += [
            f"{name}: {value}"
            for name, value in headers
            if name.lower() not in ("content-length", "connection", "transfer-encoding")
        ]
        head.append(f"Content-Length: {len(payload)}")
        # Status, headers and body in one write: no small segments for Nagle to hold back.
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)

    do_GET = do_POST = _run


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def pin(cpu: int) -> None:
    """Keep this process on one CPU (when there are two or more), apart from the other side."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) >= 2:
        os.sched_setaffinity(0, {cpus[cpu % len(cpus)]})


def serve_sandbox(kind: str, *, pinned: bool) -> None:
    """Child process: serve a sandbox until stdin closes (prints its URL and key first)."""
    from connector.sandbox import SandboxConfig, create_app, sandbox_of
    from connector.serving import serve

    if pinned:
        pin(1)
    config = SandboxConfig(time_scale=100.0, rate_limits=False, control=False)
    app = create_app(config)
    key = config.api_keys[0].key
    if kind == "werkzeug":
        with serve(app) as running:
            print(running.url, key, flush=True)
            sys.stdin.read()
    else:
        KeepAliveWSGI.app = app
        server = Server(("127.0.0.1", 0), KeepAliveWSGI)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        print(f"http://127.0.0.1:{server.server_address[1]}", key, flush=True)
        sys.stdin.read()
        server.shutdown()
    sandbox_of(app).close()


def start_sandbox(kind: str, *, pinned: bool) -> tuple[subprocess.Popen[str], str, str]:
    command = [sys.executable, __file__, "--serve", kind] + ([] if pinned else ["--no-pin"])
    child = subprocess.Popen(
        command,
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline().split()
    if len(line) != 2:
        child.kill()
        sys.exit("the sandbox did not start (is the sandbox extra installed?)")
    return child, line[0], line[1]


CPU: dict[str, list[float]] = {"client": [], "raw": []}


async def fan_out(call: Callable[[], Awaitable[object]], n: int, side: str = "") -> float:
    gc.collect()  # untimed: no garbage from the other side's round is pending
    cpu = time.process_time()
    start = time.perf_counter()
    await asyncio.gather(*(call() for _ in range(n)))
    elapsed = time.perf_counter() - start
    if side:
        CPU[side].append((time.process_time() - cpu) / n)
    return elapsed


Answer = tuple[int, list[tuple[str, str]], bytes]


async def measure(
    url: str, key: str, rounds: int, n: int
) -> tuple[list[float], list[float], Answer]:
    auth = {limits.AUTH_HEADER: f"{limits.AUTH_SCHEME} {key}"}
    target = url + OP.path
    async with (
        AsyncCreativeAI(api_key=key, base_url=url) as client,
        httpx.AsyncClient(timeout=DEFAULT_TIMEOUT, limits=DEFAULT_LIMITS) as raw,
    ):

        async def via_client() -> object:
            return await client.videos.create(**BODY)  # type: ignore[arg-type]

        async def via_raw() -> object:
            response = await raw.post(target, json=BODY, headers=auth)
            if response.status_code != 202:
                raise RuntimeError(f"raw create answered {response.status_code}")
            return response.json()

        await fan_out(via_client, n)  # warm-up: open the connections
        await fan_out(via_raw, n)
        gc.freeze()  # modules, the catalog, both clients: long-lived, out of the collector's way
        ours: list[float] = []
        theirs: list[float] = []
        for r in range(rounds):
            if r % 2 == 0:
                ours.append(await fan_out(via_client, n, "client"))
                theirs.append(await fan_out(via_raw, n, "raw"))
            else:
                theirs.append(await fan_out(via_raw, n, "raw"))
                ours.append(await fan_out(via_client, n, "client"))
        sample = await raw.post(target, json=BODY, headers=auth)
        answer = (sample.status_code, list(sample.headers.items()), sample.content)
        return ours, theirs, answer


class Canned(httpx.AsyncBaseTransport):
    """Answers every request at once with one recorded sandbox answer: no network at all."""

    def __init__(self, answer: Answer) -> None:
        self.status, self.headers, self.body = answer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return httpx.Response(self.status, headers=self.headers, content=self.body)


async def without_network(answer: Answer, rounds: int = 20, n: int = 500) -> tuple[float, float]:
    """Best CPU time per create for each side when the transport costs nothing."""
    auth = {limits.AUTH_HEADER: f"{limits.AUTH_SCHEME} key"}
    base = "http://sandbox.invalid"
    async with (
        AsyncCreativeAI(api_key="key", base_url=base, transport=Canned(answer)) as client,
        httpx.AsyncClient(transport=Canned(answer)) as raw,
    ):

        async def via_client() -> object:
            return await client.videos.create(**BODY)  # type: ignore[arg-type]

        async def via_raw() -> object:
            return (await raw.post(base + OP.path, json=BODY, headers=auth)).json()

        best = {"client": float("inf"), "raw": float("inf")}
        for _ in range(rounds):
            for side, call in (("client", via_client), ("raw", via_raw)):
                cpu = time.process_time()
                await asyncio.gather(*(call() for _ in range(n)))
                best[side] = min(best[side], (time.process_time() - cpu) / n)
        return best["client"], best["raw"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=limits.MAX_PARALLEL_REQUESTS)
    parser.add_argument(
        "--server",
        choices=("keepalive", "werkzeug"),
        default="keepalive",
        help="how the sandbox is served (werkzeug closes every connection)",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_sandbox(args.serve, pinned=not args.no_pin)
        return 0

    if not args.no_pin:
        pin(0)
    child, url, key = start_sandbox(args.server, pinned=not args.no_pin)
    try:
        ours, theirs, answer = asyncio.run(measure(url, key, args.rounds, args.concurrency))
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=10)
    alone_ours, alone_raw = asyncio.run(without_network(answer))

    med_ours, med_raw = statistics.median(ours), statistics.median(theirs)
    best_ours, best_raw = min(ours), min(theirs)
    paired = statistics.median(a / b for a, b in zip(ours, theirs, strict=True))
    n = args.concurrency
    print(
        f"{n} concurrent creates, {args.rounds} rounds each, interleaved "
        f"(sandbox in a child process, {args.server} server)"
    )
    print(f"  AsyncCreativeAI  median {med_ours * 1000:7.1f} ms   best {best_ours * 1000:7.1f} ms")
    print(f"  raw httpx        median {med_raw * 1000:7.1f} ms   best {best_raw * 1000:7.1f} ms")
    print(
        f"  ratio client/raw: of medians {med_ours / med_raw:.3f}, of bests "
        f"{best_ours / best_raw:.3f}, median of paired rounds {paired:.3f}"
    )
    cpu_ours, cpu_raw = statistics.median(CPU["client"]), statistics.median(CPU["raw"])
    print(
        f"  CPU per create in the measuring process: AsyncCreativeAI {cpu_ours * 1e6:.0f} us, "
        f"raw {cpu_raw * 1e6:.0f} us ({(cpu_ours - cpu_raw) * 1e6:+.0f} us)"
    )
    print(
        f"  without a network (canned answers, best of 20 x 500): AsyncCreativeAI "
        f"{alone_ours * 1e6:.0f} us, raw {alone_raw * 1e6:.0f} us "
        f"({(alone_ours - alone_raw) * 1e6:+.0f} us per create)"
    )
    verdict = "ok" if paired <= TARGET else "ABOVE TARGET"
    print(f"  target (median of paired rounds) <= {TARGET:.2f}: {verdict}")
    return 0 if paired <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
