"""The relay's inbound path under load: throughput against a bare Flask endpoint, ack
latency at a paced rate, and forward lag to a local target.

Run from the repository root: ``python bench/relay.py [--server gunicorn|werkzeug]
[--parts matrix,paced,throughput] [--seconds S] [--rounds N] [--rate R] [--pg-url URL]
[--only LABELS] [--also-normal] [--database-url URL]``.

Every part is a process of its own, all on 127.0.0.1:

* the server under test: `POST /hooks/<token>` of the relay (`create_app()`, a fresh SQLite
  file on disk with the default `synchronous=FULL`: each event is fsynced before its 2xx),
  or a bare Flask app whose `POST /hooks/<token>` reads the body and answers "200 OK";
  both under the same WSGI server with the same threads (default gunicorn, one gthread
  worker with `--threads` threads, by default one per connection; `--server werkzeug`
  uses the relay's own threaded server, which closes every connection);
* the load generator: pre-built requests (each a distinct event, signed with the key the
  route was made with) sent over keep-alive connections from one selector loop, bounded
  in count and time;
* a local target that records when each forwarded event arrives.

Figures:

0. The storage matrix (`--parts matrix`, the default with `paced`): ingest throughput,
   closed loop, of the bare endpoint; of the relay on SQLite as shipped and without its
   one storage acceleration (group commit); and on PostgreSQL (`--pg-url`, '' to leave
   it out) as shipped, without group commit, and with two relay processes (gunicorn
   workers) on one database. All in one run, rounds in alternating order, medians with
   their ratio to bare and to what each is compared with: an acceleration pays for
   itself where turning it off costs throughput. Each
   round also prints the CPU time per answered request of the server's processes (and
   of every PostgreSQL process, for PostgreSQL), from /proc: on a machine shared with
   other work it varies far less than requests per second.
1. Ingest throughput, closed loop (`--conns` connections, each sending its next request
   when the last was answered), for the bare endpoint and the relay with forwarding in
   another process (`serve --no-forward` + `relay worker`: the API process only ingests)
   and with its forwarder embedded (`relay serve`: ingest and forwarding share one
   process). Rounds alternate the order; medians are printed with the ratio relay/bare
   (target >= 0.60).
2. Ack latency at a paced `--rate` events/s (target p99 < 50 ms), measured from each
   request's scheduled send time (so a stall counts for everything queued behind it).
3. Forward lag p50/p99: from the load generator's receipt of the 2xx to the event's
   arrival at the target (can be slightly negative: the forwarder may deliver before the
   2xx has travelled back).

`--also-normal` repeats the relay runs with `RELAY_SQLITE_SYNCHRONOUS=NORMAL` (survives a
killed process, may lose the last commits on power loss) and prints those figures
separately; the default stays FULL.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connector.catalog import limits  # noqa: E402
from connector.relay.testing import api_webhook, video_payload  # noqa: E402
from connector.relay.tokens import TokenSealer  # noqa: E402

THROUGHPUT_TARGET = 0.60
PG_TARGET = 0.50
P99_TARGET_MS = 50.0
KEY = "sk-bench-relay"
DELIVERY_HEADER = "HTTP_" + limits.DELIVERY_ID_HEADER.upper().replace("-", "_")


# -- the processes under test ---------------------------------------------------------------------


def bare_app() -> Any:
    """The baseline: the same path, the body read, "200 OK"."""
    from flask import Flask, request

    app = Flask("bare")

    @app.post("/hooks/<token>")
    def hook(token: str) -> tuple[str, int]:
        request.get_data()
        return "OK", 200

    @app.get("/healthz")
    def healthz() -> str:
        return "ok"

    return app


def relay_app() -> Any:
    from connector.relay import create_app

    return create_app()


def target_app() -> Any:
    """Records when each forwarded event arrives (by X-CreativeAI-Delivery-Id)."""
    arrivals: dict[str, float] = {}
    lock = threading.Lock()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ["REQUEST_METHOD"] == "GET":
            with lock:
                body = json.dumps(arrivals).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        now = time.time()
        length = int(environ.get("CONTENT_LENGTH") or 0)
        environ["wsgi.input"].read(length)
        with lock:
            arrivals.setdefault(environ.get(DELIVERY_HEADER, "?"), now)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"OK"]

    return app


def serve_forever(app: Any, server: str, port: int, threads: int, workers: int = 1) -> None:
    if server == "werkzeug":
        from werkzeug.serving import WSGIRequestHandler, make_server

        class Quiet(WSGIRequestHandler):
            def log_request(self, *args: Any) -> None:
                return None

        make_server("127.0.0.1", port, app, threaded=True, request_handler=Quiet).serve_forever()
        return
    from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

    class Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for name, value in {
                "bind": f"127.0.0.1:{port}",
                "workers": workers,
                "worker_class": "gthread",
                "threads": threads,
                "keepalive": 30,
                "backlog": 512,
                "accesslog": None,
                "loglevel": "warning",
                "graceful_timeout": 5,
            }.items():
                self.cfg.set(name, value)

        def load(self) -> Any:
            return app

    Gunicorn().run()


def child_serve(kind: str, server: str, port: int, threads: int, workers: int = 1) -> None:
    # The relay is made inside the serving process (gunicorn: in the worker, after the fork).
    factory = {"bare": bare_app, "relay": relay_app, "target": target_app}[kind]
    if server == "gunicorn" and kind != "target":

        class Lazy:
            app: Any = None

            def __call__(self, environ: Any, start_response: Any) -> Any:
                if Lazy.app is None:
                    Lazy.app = factory()
                return Lazy.app(environ, start_response)

        lazy = Lazy()
        serve_forever(lazy, server, port, threads, workers)
    else:
        serve_forever(factory(), "werkzeug" if kind == "target" else server, port, threads)


def child_worker() -> None:
    from connector.relay.config import RelayConfig
    from connector.relay.server import run_worker

    run_worker(RelayConfig.from_env(), announce=open(os.devnull, "w"))  # noqa: SIM115


# -- the load generator (a process of its own) -------------------------------------------------


@dataclass
class _Conn:
    sock: socket.socket
    buf: bytearray
    index: int = -1  # the request in flight, -1 when idle
    out: bytes = b""


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    return sock


def _response_end(buf: bytearray) -> tuple[int, int, bool] | None:
    """(status, total length, close) once a whole response is in `buf`."""
    head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    head = bytes(buf[:head_end]).decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    length, close = 0, head[0].startswith("HTTP/1.0")
    for line in head[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection":
            close = value.strip().lower() == "close"
    total = head_end + 4 + length
    return (status, total, close) if len(buf) >= total else None


def run_load(
    requests: list[bytes],
    port: int,
    *,
    conns: int,
    rate: float | None,
    seconds: float,
    max_conns: int = 128,
) -> list[tuple[int, float, float, float, int]]:
    """Send the requests (closed loop, or paced at `rate`/s), stopping new sends after
    `seconds`; one row per answer: (index, due, latency s, wall time of the answer, status).
    `due` is when the request was due (paced) or sent (closed loop), monotonic clock."""
    sel = selectors.DefaultSelector()
    idle: list[_Conn] = []
    open_count = 0

    def new_conn() -> _Conn:
        nonlocal open_count
        conn = _Conn(_connect(port), bytearray())
        open_count += 1
        return conn

    for _ in range(conns if rate is None else min(conns, 8)):
        idle.append(new_conn())
    results: list[tuple[int, float, float, float, int]] = []
    due_at: dict[int, float] = {}
    start = time.monotonic()
    stop_sending = start + seconds
    next_index = 0
    in_flight = 0

    def send(conn: _Conn, index: int, due: float) -> None:
        nonlocal in_flight
        conn.index = index
        conn.out = requests[index]
        due_at[index] = due
        sent = conn.sock.send(conn.out)
        conn.out = conn.out[sent:]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.out else 0)
        sel.register(conn.sock, events, conn)
        in_flight += 1

    while True:
        now = time.monotonic()
        # Start what is due.
        while next_index < len(requests) and now < stop_sending:
            due = now if rate is None else start + next_index / rate
            if due > now:
                break
            if not idle:
                if rate is None or open_count >= max_conns:
                    break
                idle.append(new_conn())
            send(idle.pop(), next_index, due)
            next_index += 1
        finished = next_index >= len(requests) or now >= stop_sending
        if finished and in_flight == 0:
            break
        if now > stop_sending + 30:
            raise RuntimeError(f"{in_flight} requests unanswered 30 s after the run")
        timeout = 0.05
        if rate is not None and next_index < len(requests):
            timeout = max(0.0, min(timeout, start + next_index / rate - now))
        for key, mask in sel.select(timeout):
            conn: _Conn = key.data
            if mask & selectors.EVENT_WRITE and conn.out:
                sent = conn.sock.send(conn.out)
                conn.out = conn.out[sent:]
                if not conn.out:
                    sel.modify(conn.sock, selectors.EVENT_READ, conn)
            if not mask & selectors.EVENT_READ:
                continue
            chunk = conn.sock.recv(65536)
            if not chunk:
                raise RuntimeError("the server closed a connection with a request in flight")
            conn.buf += chunk
            end = _response_end(conn.buf)
            if end is None:
                continue
            status, total, close = end
            done = time.monotonic()
            results.append(
                (conn.index, due_at[conn.index], done - due_at[conn.index], time.time(), status)
            )
            del conn.buf[:total]
            in_flight -= 1
            sel.unregister(conn.sock)
            conn.index = -1
            if close:
                conn.sock.close()
                open_count -= 1
                idle.append(new_conn())
            else:
                idle.append(conn)
    for conn in idle:
        conn.sock.close()
    return results


def _write_requests(path: Path, requests: list[bytes]) -> None:
    with path.open("wb") as out:
        for raw in requests:
            out.write(struct.pack(">I", len(raw)) + raw)


def _read_requests(path: Path) -> list[bytes]:
    data = path.read_bytes()
    requests, at = [], 0
    while at < len(data):
        (size,) = struct.unpack_from(">I", data, at)
        requests.append(data[at + 4 : at + 4 + size])
        at += 4 + size
    return requests


def child_load(args: argparse.Namespace) -> None:
    requests = _read_requests(Path(args.requests))
    rate = args.rate or None
    began = time.monotonic()
    rows = run_load(requests, args.port, conns=args.conns, rate=rate, seconds=args.seconds)
    took = time.monotonic() - began
    Path(args.out).write_text(json.dumps({"rows": rows, "seconds": took}))


# -- the orchestration ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _child(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {proc.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


@contextmanager
def _running(
    args: list[str], env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    proc = _child(args, env)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@dataclass
class Setup:
    server: str
    threads: int
    conns: int
    target_url: str
    database_url: str | None
    workdir: Path


def relay_env(
    setup: Setup, db_dir: Path, extra: dict[str, str], database_url: str | None = None
) -> dict[str, str]:
    database_url = database_url or setup.database_url
    env = dict(os.environ)
    env.update(
        RELAY_DATABASE_URL=database_url or f"sqlite:///{db_dir / 'relay.sqlite3'}",
        RELAY_TOKEN_KEYS=TokenSealer.generate_key(),
        RELAY_ALLOW_HTTP="true",
        RELAY_ALLOW_NETWORKS="127.0.0.0/8",
        RELAY_EMBEDDED_WORKER="false",
        RELAY_POLL_INTERVAL="50ms",
    )
    if database_url and database_url.startswith("postgresql"):
        env["RELAY_DATABASE_SCHEMA"] = "bench_" + os.urandom(4).hex()
    env.update(extra)
    return env


def build_requests(path: str, count: int, tag: str) -> list[bytes]:
    requests = []
    for i in range(count):
        body, headers = api_webhook(video_payload(f"vgen_{tag}_{i:07d}"), KEY)
        head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        head.append(f"Content-Length: {len(body)}")
        requests.append(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    return requests


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stats() -> dict[int, tuple[int, str, float]]:
    """Every process: (parent pid, name, CPU seconds it and its reaped children used)."""
    stats: dict[int, tuple[int, str, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # gone meanwhile
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        ticks = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        stats[int(entry)] = (int(fields[1]), name, ticks / _TICKS)
    return stats


def cpu_snapshot(root: int) -> tuple[float, float]:
    """CPU seconds used so far by `root` with its descendants, and by every PostgreSQL
    process (its server on this machine: the relay's backends, WAL writer, ...)."""
    stats = _proc_stats()
    tree, todo = set(), [root]
    while todo:
        pid = todo.pop()
        tree.add(pid)
        todo += [p for p, (parent, _, _) in stats.items() if parent == pid and p not in tree]
    relay = sum(stats[p][2] for p in tree if p in stats)
    postgres = sum(cpu for _, name, cpu in stats.values() if name == "postgres")
    return relay, postgres


@dataclass
class Run:
    label: str
    rows: list[tuple[int, float, float, float, int]]
    seconds: float
    arrivals: dict[str, float] | None = None
    tag: str = ""
    cpu: tuple[float, float] = (0.0, 0.0)  # CPU seconds of the server, of PostgreSQL

    @property
    def cpu_ms(self) -> float:
        """CPU milliseconds per answered request: the server's and PostgreSQL's."""
        return 1000 * sum(self.cpu) / max(1, self.ok)

    @property
    def forwarded_rate(self) -> float:
        return len(self.arrivals or ()) / self.seconds

    @property
    def ok(self) -> int:
        return sum(1 for r in self.rows if 200 <= r[4] < 300)

    @property
    def rps(self) -> float:
        return self.ok / self.seconds

    def latencies_ms(self) -> list[float]:
        return [r[2] * 1000 for r in self.rows if 200 <= r[4] < 300]


def drive(
    setup: Setup, port: int, requests: list[bytes], rate: float | None, seconds: float
) -> tuple[list[Any], float]:
    req_file = setup.workdir / f"req-{port}-{time.monotonic_ns()}.bin"
    out_file = req_file.with_suffix(".json")
    _write_requests(req_file, requests)
    cmd = [
        "_load",
        "--port",
        str(port),
        "--requests",
        str(req_file),
        "--out",
        str(out_file),
        "--conns",
        str(setup.conns),
        "--seconds",
        str(seconds),
    ]
    if rate:
        cmd += ["--rate", str(rate)]
    proc = _child(cmd)
    if proc.wait(seconds + 120) != 0:
        raise RuntimeError("the load generator failed")
    data = json.loads(out_file.read_text())
    req_file.unlink()
    out_file.unlink()
    return data["rows"], data["seconds"]


def measure(
    setup: Setup,
    kind: str,
    *,
    rate: float | None,
    seconds: float,
    count: int,
    forward: str = "none",  # none | embedded | worker
    extra_env: dict[str, str] | None = None,
    database_url: str | None = None,
    processes: int = 1,
    wait_forwarded: bool = True,
) -> Run:
    """Start the server, warm it up, run one measured load, stop it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    db_dir = Path(tempfile.mkdtemp(dir=setup.workdir))
    env = relay_env(setup, db_dir, dict(extra_env or {}), database_url)
    if forward == "embedded":
        env["RELAY_EMBEDDED_WORKER"] = "true"
    tag = f"{kind}{os.urandom(3).hex()}"
    worker_env = dict(env, RELAY_EMBEDDED_WORKER="false")
    with _running(
        [
            "_serve",
            kind,
            "--server",
            setup.server,
            "--port",
            str(port),
            "--threads",
            str(setup.threads),
            "--workers",
            str(processes),
        ],
        env,
    ) as proc:
        _wait_ready(url, proc)
        path = "/hooks/bench"
        if kind == "relay":
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}) as api:
                answer = api.post("/v1/routes", json={"target_url": setup.target_url + "/" + tag})
                answer.raise_for_status()
                path = httpx.URL(answer.json()["webhook_url"]).raw_path.decode()
        worker = _child(["_worker"], worker_env) if forward == "worker" else None
        try:
            drive(setup, port, build_requests(path, 300, tag + "w"), None, 30)  # warm-up
            requests = build_requests(path, count, tag)
            before = cpu_snapshot(proc.pid)
            rows, took = drive(setup, port, requests, rate, seconds)
            after = cpu_snapshot(proc.pid)
            cpu = (after[0] - before[0], after[1] - before[1])
            arrivals = None
            if forward != "none" and kind == "relay":
                wanted = {f"vgen_{tag}_{r[0]:07d}" for r in rows if r[4] == 202}
                # Without waiting: what was forwarded by the end of the run.
                arrivals = wait_arrivals(setup.target_url, wanted, 120 if wait_forwarded else 0)
        finally:
            if worker is not None:
                worker.send_signal(signal.SIGTERM)
                worker.wait(15)
    if "RELAY_DATABASE_SCHEMA" in env and kind == "relay":
        from connector.relay.storage.postgres import PostgresStorage

        PostgresStorage(
            env["RELAY_DATABASE_URL"], schema=env["RELAY_DATABASE_SCHEMA"]
        ).drop_schema()
    return Run(kind, rows, took, arrivals, tag, cpu)


def wait_arrivals(target_url: str, wanted: set[str], timeout: float = 120) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        arrivals: dict[str, float] = httpx.get(target_url + "/arrivals", timeout=10).json()
        if wanted <= arrivals.keys() or time.monotonic() > deadline:
            return {k: v for k, v in arrivals.items() if k in wanted}
        time.sleep(0.2)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def lag_ms(run: Run) -> list[float]:
    assert run.arrivals is not None
    lags = []
    for index, _due, _lat, done_wall, status in run.rows:
        arrived = run.arrivals.get(f"vgen_{run.tag}_{index:07d}")
        if status == 202 and arrived is not None:
            lags.append((arrived - done_wall) * 1000)
    return lags


def _disk_tmp() -> str | None:
    return "/var/tmp" if os.path.isdir("/var/tmp") else None


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--server", choices=("both", "gunicorn", "werkzeug"), default="both", help="WSGI server"
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="gunicorn gthread threads (default: one per connection, as werkzeug runs)",
    )
    parser.add_argument("--conns", type=int, default=16, help="closed-loop connections")
    parser.add_argument("--seconds", type=float, default=6.0, help="each closed-loop run")
    parser.add_argument("--count", type=int, default=40000, help="most requests in one run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=200.0, help="paced events per second")
    parser.add_argument("--paced-seconds", type=float, default=10.0)
    parser.add_argument(
        "--also-normal", action="store_true", help="also RELAY_SQLITE_SYNCHRONOUS=NORMAL"
    )
    parser.add_argument(
        "--database-url",
        help="run the throughput and paced parts on this database instead of SQLite,"
        " e.g. postgresql://postgres@127.0.0.1:5432/test",
    )
    parser.add_argument(
        "--pg-url",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="PostgreSQL of the storage matrix ('' to leave it out)",
    )
    parser.add_argument(
        "--only", default="", help="matrix plans whose label contains one of these (comma list)"
    )
    parser.add_argument(
        "--parts",
        default="matrix,paced",
        help="what to run, comma-separated: matrix (the storage settings on SQLite and"
        " PostgreSQL), throughput (ingest with and without forwarding), paced",
    )
    args = parser.parse_args()
    servers = ("gunicorn", "werkzeug") if args.server == "both" else (args.server,)
    # A thread per sender: a request waiting for its commit to reach the disk holds its
    # thread, so fewer threads than senders leaves requests queued behind idle waits.
    args.threads = args.threads or args.conns
    if args.database_url:  # the matrix names its own databases
        args.parts = args.parts.replace("matrix", "")

    print(f"load average before: {load_average()} ({os.cpu_count()} CPUs)")
    # /var/tmp: on disk (a tmpfs /tmp would make every fsync free).
    with tempfile.TemporaryDirectory(prefix="bench-relay-", dir=_disk_tmp()) as work:
        target_port = free_port()
        target_cmd = ["_serve", "target", "--server", "werkzeug", "--port", str(target_port)]
        with _running(target_cmd) as target:
            target_url = f"http://127.0.0.1:{target_port}"
            _wait_ready_target(target_url, target)
            for server in servers:
                setup = Setup(
                    server, args.threads, args.conns, target_url, args.database_url, Path(work)
                )
                if args.database_url:
                    report(setup, args, {}, "PostgreSQL")
                    continue
                report(setup, args, {}, "FULL, as shipped")
                if args.also_normal:
                    normal = {"RELAY_SQLITE_SYNCHRONOUS": "NORMAL"}
                    report(setup, args, normal, "NORMAL", matrix=False)
    print(f"load average after: {load_average()}")
    return 0


def _wait_ready_target(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/arrivals", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError("the target did not start")


PLANS: tuple[tuple[str, str, str], ...] = (
    # label, server kind, forwarding during the run
    ("bare", "bare", "none"),
    ("relay ingest only", "relay", "none"),
    ("relay + worker process", "relay", "worker"),
    ("relay + embedded forwarder", "relay", "embedded"),
)


@dataclass(frozen=True)
class Plan:
    """One server setup of the storage matrix: a label, the relay's settings, and the
    plan (label) whose figure it is compared with."""

    label: str
    kind: str = "relay"
    env: tuple[tuple[str, str], ...] = ()
    forward: str = "none"
    postgres: bool = False
    processes: int = 1
    against: str = ""


SHIPPED = "sqlite as shipped"
PG_SHIPPED = "postgresql as shipped"


def matrix_plans(postgres: bool) -> list[Plan]:
    """Bare Flask; SQLite as shipped (group commit) and without its one acceleration;
    PostgreSQL as shipped, without group commit, and with two relay processes on the
    same database."""
    no_group = (("RELAY_GROUP_COMMIT", "false"),)
    plans = [
        Plan("bare Flask 200 OK", kind="bare"),
        Plan(SHIPPED, against="bare Flask 200 OK"),
        Plan("sqlite without group commit", env=no_group, against=SHIPPED),
    ]
    if postgres:
        plans += [
            Plan(PG_SHIPPED, postgres=True, against="bare Flask 200 OK"),
            Plan(
                "postgresql without group commit", env=no_group, postgres=True, against=PG_SHIPPED
            ),
            Plan("postgresql, 2 relay processes", postgres=True, processes=2, against=PG_SHIPPED),
        ]
    return plans


def storage_matrix(setup: Setup, args: argparse.Namespace) -> None:
    """Ingest throughput (closed loop) of every plan, rounds in alternating order; the
    medians with their ratio to bare Flask and to the plan each is compared with."""
    plans = matrix_plans(postgres=bool(args.pg_url))
    if args.only:  # bare and what the kept plans are compared with stay
        wanted = [part.strip() for part in args.only.split(",")]
        kept = {p.label for p in plans if any(w in p.label for w in wanted)}
        kept |= {p.against for p in plans if p.label in kept} | {"bare Flask 200 OK"}
        plans = [p for p in plans if p.label in kept]
    series: dict[str, list[float]] = {plan.label: [] for plan in plans}
    cpu_ms: dict[str, list[float]] = {plan.label: [] for plan in plans}
    forwarding: dict[str, list[float]] = {plan.label: [] for plan in plans}
    for round_no in range(args.rounds):
        order = plans if round_no % 2 == 0 else list(reversed(plans))
        for plan in order:
            run = measure(
                setup,
                plan.kind,
                rate=None,
                seconds=args.seconds,
                count=args.count,
                forward=plan.forward,
                extra_env=dict(plan.env),
                database_url=args.pg_url if plan.postgres else None,
                processes=plan.processes,
                wait_forwarded=False,
            )
            series[plan.label].append(run.rps)
            cpu_ms[plan.label].append(run.cpu_ms)
            forwarded = f", {run.forwarded_rate:.0f} forwarded/s" if plan.forward != "none" else ""
            pg_cpu = (
                f" + PostgreSQL {1000 * run.cpu[1] / max(1, run.ok):.2f}" if plan.postgres else ""
            )
            print(
                f"  round {round_no + 1} {plan.label:52s} {run.rps:8.1f} req/s"
                f" ({run.ok} ok, {len(run.rows) - run.ok} not 2xx{forwarded});"
                f" CPU ms/req: server {1000 * run.cpu[0] / max(1, run.ok):.2f}{pg_cpu}"
                f" [load {load_average()}]",
                flush=True,
            )
            if plan.forward != "none":
                forwarding[plan.label].append(run.forwarded_rate)
    medians = {label: statistics.median(values) for label, values in series.items()}
    cpu = {label: statistics.median(values) for label, values in cpu_ms.items()}
    bare = medians["bare Flask 200 OK"]
    print(f"  storage matrix, ingest throughput, median of {args.rounds} rounds:")
    bare_cpu = cpu["bare Flask 200 OK"]
    print(f"    {'bare Flask 200 OK':52s} {bare:8.1f} req/s  CPU {bare_cpu:.2f} ms/req")
    for plan in plans[1:]:
        value = medians[plan.label]
        line = f"    {plan.label:52s} {value:8.1f} req/s  {value / bare:.2f}x bare"
        if plan.against != "bare Flask 200 OK":
            line += f", {value / medians[plan.against]:.2f}x {plan.against}"
        line += f"; CPU {cpu[plan.label]:.2f} ms/req"
        if forwarding[plan.label]:
            line += f"; {statistics.median(forwarding[plan.label]):.0f} forwarded/s meanwhile"
        print(line)
    print(
        "  (CPU ms/req: the server's processes, with every PostgreSQL process for the"
        " PostgreSQL plans; less sensitive to other load than req/s)"
    )

    def rounds(label: str) -> str:
        """The ratio to bare of each round (bare's figure of the same round)."""
        pairs = zip(series[label], series["bare Flask 200 OK"], strict=True)
        return " ".join(f"{value / base:.2f}" for value, base in pairs)

    def by_cpu(label: str) -> str:
        return f"{bare_cpu / cpu[label]:.2f}x bare by CPU per request"

    if SHIPPED in medians:
        shipped = medians[SHIPPED] / bare
        verdict = "meets" if shipped >= THROUGHPUT_TARGET else "misses"
        print(
            f"  SQLite ingest only: {shipped:.2f}x bare ({verdict} {THROUGHPUT_TARGET:.2f}x);"
            f" rounds {rounds(SHIPPED)}; {by_cpu(SHIPPED)}"
        )
    if PG_SHIPPED in medians and "postgresql, 2 relay processes" in medians:
        pg = medians[PG_SHIPPED] / bare
        verdict = "meets" if pg >= PG_TARGET else "misses"
        two = medians["postgresql, 2 relay processes"] / bare
        print(
            f"  PostgreSQL ingest only: {pg:.2f}x bare ({verdict} {PG_TARGET:.2f}x);"
            f" 2 relay processes {two:.2f}x, 1 process {pg:.2f}x"
        )
        print(
            f"    rounds: 1 process {rounds(PG_SHIPPED)}; 2 processes"
            f" {rounds('postgresql, 2 relay processes')}; {by_cpu(PG_SHIPPED)}"
        )


def report(
    setup: Setup,
    args: argparse.Namespace,
    env: dict[str, str],
    durability: str,
    matrix: bool = True,
) -> None:
    print(
        f"\n== {setup.server} ({setup.threads} threads), {setup.conns} connections, "
        f"relay durability: {durability}"
    )
    if matrix and "matrix" in args.parts:  # the matrix sets its own storage settings
        storage_matrix(setup, args)
    if "throughput" in args.parts:
        throughput(setup, args, env)
    if "paced" in args.parts:
        paced(setup, args, env)


def throughput(setup: Setup, args: argparse.Namespace, env: dict[str, str]) -> None:
    series: dict[str, list[float]] = {label: [] for label, _, _ in PLANS}
    for round_no in range(args.rounds):
        order = PLANS if round_no % 2 == 0 else tuple(reversed(PLANS))
        for label, kind, forward in order:
            run = measure(
                setup,
                kind,
                rate=None,
                seconds=args.seconds,
                count=args.count,
                forward=forward,
                extra_env=env,
            )
            series[label].append(run.rps)
            print(
                f"  round {round_no + 1} {label:27s} {run.rps:8.1f} req/s"
                f" ({run.ok} ok, {len(run.rows) - run.ok} not 2xx, {run.seconds:.1f} s)"
            )
    bare = statistics.median(series["bare"])
    print("  throughput, median of the rounds:")
    print(f"    {'bare Flask 200 OK':27s} {bare:8.1f} req/s")
    for label, _, _ in PLANS[1:]:
        value = statistics.median(series[label])
        verdict = "meets" if value / bare >= THROUGHPUT_TARGET else "misses"
        print(
            f"    {label:27s} {value:8.1f} req/s  ratio {value / bare:.2f}x"
            f" ({verdict} the {THROUGHPUT_TARGET:.2f}x target)"
        )


def paced(setup: Setup, args: argparse.Namespace, env: dict[str, str]) -> None:
    count = int(args.rate * args.paced_seconds)
    relay_run = measure(
        setup,
        "relay",
        rate=args.rate,
        seconds=args.paced_seconds + 5,
        count=count,
        forward="embedded",
        extra_env=env,
    )
    bare_paced = measure(setup, "bare", rate=args.rate, seconds=args.paced_seconds + 5, count=count)
    lat = relay_run.latencies_ms()
    base = bare_paced.latencies_ms()
    lags = lag_ms(relay_run)
    verdict = "meets" if pct(lat, 0.99) < P99_TARGET_MS else "misses"
    print(f"  ack latency at {args.rate:.0f} events/s, paced ({len(lat)} acked of {count}):")
    print(
        f"    relay + embedded forwarder  p50 {pct(lat, 0.5):6.2f} ms  p99 {pct(lat, 0.99):6.2f} ms"
        f"  max {max(lat, default=float('nan')):6.2f} ms ({verdict} p99 < {P99_TARGET_MS:.0f} ms)"
    )
    print(
        f"    {'bare Flask 200 OK':27s} p50 {pct(base, 0.5):6.2f} ms"
        f"  p99 {pct(base, 0.99):6.2f} ms"
        f"  (relay/bare: p50 {pct(lat, 0.5) / pct(base, 0.5):.1f}x,"
        f" p99 {pct(lat, 0.99) / pct(base, 0.99):.1f}x)"
    )
    print(
        f"  forward lag, 2xx at the sender -> arrival at the target"
        f" ({len(lags)} of {len(lat)} arrived):"
    )
    print(
        f"    p50 {pct(lags, 0.5):6.2f} ms  p99 {pct(lags, 0.99):6.2f} ms"
        f"  max {max(lags, default=float('nan')):6.2f} ms"
    )


def _child_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("_serve")
    s.add_argument("kind", choices=("bare", "relay", "target"))
    s.add_argument("--server", default="gunicorn")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--threads", type=int, default=8)
    s.add_argument("--workers", type=int, default=1)
    sub.add_parser("_worker")
    lo = sub.add_parser("_load")
    lo.add_argument("--port", type=int, required=True)
    lo.add_argument("--requests", required=True)
    lo.add_argument("--out", required=True)
    lo.add_argument("--conns", type=int, default=16)
    lo.add_argument("--seconds", type=float, default=10)
    lo.add_argument("--rate", type=float, default=0)
    args = parser.parse_args(argv)
    if args.cmd == "_serve":
        child_serve(args.kind, args.server, args.port, args.threads, args.workers)
    elif args.cmd == "_worker":
        child_worker()
    else:
        child_load(args)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        _child_main(sys.argv[1:])
    else:
        raise SystemExit(main())
