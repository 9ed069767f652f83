"""The ingest writer: a process of its own that stores inbound webhooks for SQLite
(`RELAY_SQLITE_WRITER`).

Why a process. A relay process runs Python on one core at a time (the GIL). Measured
under gunicorn, storing the webhooks took more of that core than everything else the
relay does for them: building rows, binding parameters, and above all the hand-offs of
the GIL around every SQLite call and fsync, which sixteen request threads then queue
for. In a writer process that work runs on another core, and a request thread only
sends its event and sleeps once until the answer comes.

How it talks. Serving threads take turns on a few connections to the writer's Unix
socket (in a private 0700 directory), one request at a time on each. A request is one
`BatchWork` (an `ingest.Inbound`), pickled and prefixed with its length; the answer is
`("ok", result)` or `("error", exception)`. The writer reads every request that is
ready, stores them in one transaction (`group.run_group`: one commit and one fsync for
the lot), and answers each only once its commit is on disk. Whatever arrives while it
commits and syncs forms the next group: no timer. Other writes of the serving process
(the management API, claims) stay in that process (`WriterPath`).

Lifetime. `IngestWriter` starts the process on first use, in the process that uses it
(a gunicorn worker starts its own after the fork), and starts a new one if it died. The
writer exits when its stdin closes, that is when its parent ends or is killed: it never
outlives the relay. If it dies with requests in flight, those requests fail (5xx, so the
API sends them again); an event it committed before dying is then a duplicate, which
dedup answers with 200.

Run by the relay as `python -m connector.relay.storage.writer --database PATH ...`.
"""

from __future__ import annotations

import argparse
import os
import pickle
import select
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext, suppress
from pathlib import Path
from typing import IO, Any, TypeVar

from connector.relay.storage.base import BatchWork, Storage, Tx, WritePath
from connector.relay.storage.group import MAX_GROUP, Work, run_group
from connector.relay.storage.sqlite import SqliteStorage

T = TypeVar("T")

_LENGTH = struct.Struct(">I")
#: How long a request thread waits for the writer's answer (the API gives up sooner).
ANSWER_TIMEOUT = 30.0
#: How long the writer may take to start listening.
START_TIMEOUT = 30.0
_READY = b"ready\n"


class WriterUnavailable(RuntimeError):
    """The writer could not be started, or did not answer: the webhook was not acked."""


def _frame(payload: bytes) -> bytes:
    return _LENGTH.pack(len(payload)) + payload


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = conn.recv(min(left, 1 << 20))
        if not chunk:
            raise EOFError("the ingest writer closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _answer_of(item: tuple[bool, Any]) -> bytes:
    ok, value = item
    try:
        return pickle.dumps(("ok" if ok else "error", value), pickle.HIGHEST_PROTOCOL)
    except Exception:  # an exception that does not pickle: its type is enough to tell
        error = RuntimeError(f"the write failed ({type(value).__name__})")
        return pickle.dumps(("error", error), pickle.HIGHEST_PROTOCOL)


# -- the relay's side ---------------------------------------------------------------------


class WriterPath(WritePath):
    """`storage.write` of a serving process: batch works (webhooks, attempt results) go to
    the writer process, anything else to `inline` (group commit, or one transaction per
    call when None)."""

    def __init__(self, storage: Storage, writer: IngestWriter, inline: WritePath | None) -> None:
        self.storage = storage
        self.writer = writer
        self.inline = inline

    def write(self, work: Callable[[Tx], T]) -> T:
        if isinstance(work, BatchWork):
            stored: T = self.writer.submit(work)
            return stored
        if self.inline is not None:
            return self.inline.write(work)
        with self.storage.transaction() as tx:
            return work(tx)

    def arriving(self) -> AbstractContextManager[None]:
        return nullcontext()  # the writer groups whatever reaches it meanwhile

    def close(self) -> None:
        self.writer.close()
        if self.inline is not None:
            self.inline.close()


class IngestWriter:
    """Sends works to a writer process for the SQLite file at `path`, started on first use.
    `synchronous`, `wal_sync` and `flock` are those of the writer's storage."""

    def __init__(
        self,
        path: str,
        synchronous: str = "FULL",
        *,
        wal_sync: bool = False,
        flock: bool = False,
        timeout: float = ANSWER_TIMEOUT,
    ):
        self.path = path
        self.synchronous = synchronous
        self.wal_sync = wal_sync
        self.flock = flock
        self.timeout = timeout
        self._lock = threading.Lock()
        self._idle: list[tuple[socket.socket, int]] = []  # with the start each belongs to
        self._owner = os.getpid()  # the process whose writer `_proc` is
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: str | None = None
        self._address = ""
        self._generation = 0  # counts starts: connections to an older writer are dropped

    @property
    def pid(self) -> int | None:
        """The writer process's id, while this process has one running."""
        proc = self._proc
        if self._owner != os.getpid() or proc is None or proc.poll() is not None:
            return None
        return proc.pid

    def submit(self, work: BatchWork[T]) -> T:
        """Store `work` in the writer; returns its result once committed and on disk."""
        request = _frame(pickle.dumps(work, pickle.HIGHEST_PROTOCOL))
        conn, generation = self._take()
        try:
            conn.sendall(request)
        except OSError:  # the writer went away before it read a byte: a new one, once
            conn.close()
            conn, generation = self._take(fresh=True)
            try:
                conn.sendall(request)
            except OSError as exc:
                conn.close()
                raise WriterUnavailable("the ingest writer is not taking writes") from exc
        try:
            (size,) = _LENGTH.unpack(_read_exactly(conn, _LENGTH.size))
            status, value = pickle.loads(_read_exactly(conn, size))
        except (OSError, EOFError) as exc:  # timed out, or the writer died
            conn.close()  # a late answer on it would be taken for the next request's
            raise WriterUnavailable("the ingest writer did not answer") from exc
        self._give(conn, generation)
        if status != "ok":
            raise value
        result: T = value
        return result

    def _take(self, fresh: bool = False) -> tuple[socket.socket, int]:
        """An idle connection to the running writer, or a new one. Connections are shared
        by all threads, one request at a time: a server that starts a thread per client
        connection (werkzeug's) then does not connect anew for every webhook."""
        with self._lock:
            self._adopt()
            while self._idle and not fresh:
                conn, generation = self._idle.pop()
                if generation == self._generation:
                    return conn, generation
                conn.close()  # to a writer that has since been replaced
        address, generation = self._started()
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(self.timeout)
        try:
            conn.connect(address)
        except OSError as exc:
            conn.close()
            raise WriterUnavailable("the ingest writer is not listening") from exc
        return conn, generation

    def _give(self, conn: socket.socket, generation: int) -> None:
        with self._lock:
            if generation == self._generation and self._owner == os.getpid():
                self._idle.append((conn, generation))
                return
        conn.close()

    def _adopt(self) -> None:
        """After a fork (the caller holds the lock): the parent's writer and connections
        stay the parent's; this process starts its own."""
        if self._owner != os.getpid():
            self._close_idle()  # this process's copies only
            self._owner, self._proc, self._dir = os.getpid(), None, None

    def _close_idle(self) -> None:
        for conn, _ in self._idle:
            conn.close()
        self._idle = []

    def _started(self) -> tuple[str, int]:
        with self._lock:
            self._adopt()
            if self._proc is None or self._proc.poll() is not None:
                self._stop()
                self._start()
                self._generation += 1
            return self._address, self._generation

    def _start(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="relay-writer-")  # mode 0700
        self._address = os.path.join(self._dir, "writer.sock")
        package_root = str(Path(__file__).resolve().parents[3])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        command = [sys.executable, "-m", "connector.relay.storage.writer", "--database"]
        command += [self.path, "--synchronous", self.synchronous, "--socket", self._address]
        command += ["--wal-sync"] if self.wal_sync else []
        command += ["--flock"] if self.flock else []
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self._proc = proc
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT)
        line = proc.stdout.readline() if ready else b""
        proc.stdout.close()
        if line != _READY:
            self._stop()
            raise WriterUnavailable(
                f"the ingest writer did not start (exit code {proc.poll()}); see its stderr"
            )

    def _stop(self, timeout: float = 10.0) -> None:
        """End this process's writer (it stores what it has read, then exits)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.stdin is not None:
                proc.stdin.close()  # the writer's signal to finish
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def close(self) -> None:
        with self._lock:
            self._adopt()
            self._close_idle()
            self._stop()


# -- the writer's side --------------------------------------------------------------------


class _Reader:
    """Frames of one connection, as they arrive."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def frames(self, data: bytes) -> list[bytes]:
        buffer = self.buffer
        buffer += data
        out, at = [], 0
        while len(buffer) - at >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(buffer, at)
            if len(buffer) - at - _LENGTH.size < size:
                break
            start = at + _LENGTH.size
            out.append(bytes(buffer[start : start + size]))
            at = start + size
        del buffer[:at]
        return out


def serve(storage: Storage, listener: socket.socket, parent: IO[bytes]) -> None:
    """Answer requests until `parent` (the relay's end of a pipe) closes."""
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(parent, selectors.EVENT_READ)
    readers: dict[socket.socket, _Reader] = {}
    parent_gone = False
    while not parent_gone:
        requests: list[tuple[socket.socket, bytes]] = []
        for key, _ in selector.select():
            source = key.fileobj
            if source is listener:
                conn, _ = listener.accept()
                selector.register(conn, selectors.EVENT_READ)
                readers[conn] = _Reader()
                continue
            if source is parent:
                parent_gone = not os.read(parent.fileno(), 4096)
                continue
            assert isinstance(source, socket.socket)
            try:
                data = source.recv(1 << 20)
            except OSError:
                data = b""
            if not data:
                selector.unregister(source)
                source.close()
                del readers[source]
                continue
            requests += [(source, frame) for frame in readers[source].frames(data)]
        if requests:
            _store(storage, requests)


def _store(storage: Storage, requests: Sequence[tuple[socket.socket, bytes]]) -> None:
    works: list[Work] = []
    answers: list[bytes | None] = []
    for _, frame in requests:
        try:
            works.append(Work(pickle.loads(frame)))
            answers.append(None)
        except Exception as exc:
            answers.append(_answer_of((False, RuntimeError(f"unreadable work ({exc})"))))
    for start in range(0, len(works), MAX_GROUP):
        run_group(storage, works[start : start + MAX_GROUP])
    outcomes: Iterator[Work] = iter(works)
    for (conn, _), answer in zip(requests, answers, strict=True):
        if answer is None:
            work = next(outcomes)
            answer = _answer_of((work.error is None, work.error or work.value))
        with suppress(OSError):  # its thread gave up waiting: nobody to tell
            conn.sendall(_frame(answer))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m connector.relay.storage.writer")
    parser.add_argument("--database", required=True, help="the SQLite file")
    parser.add_argument("--synchronous", default="FULL")
    parser.add_argument("--socket", required=True, help="the Unix socket to listen on")
    parser.add_argument("--wal-sync", action="store_true", help="fsync the WAL after COMMIT")
    parser.add_argument("--flock", action="store_true", help="take turns on the file's flock")
    args = parser.parse_args(argv)
    # Ctrl-C reaches the whole process group: the relay decides when the writer ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    storage = SqliteStorage(
        args.database,
        synchronous=args.synchronous,
        pool_size=1,
        wal_sync=args.wal_sync,
        flock=args.flock,
    )
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(args.socket)
    listener.listen(256)
    sys.stdout.buffer.write(_READY)
    sys.stdout.flush()
    try:
        serve(storage, listener, sys.stdin.buffer)
    except Exception as exc:  # the type only: the text could quote stored data
        print(f"relay ingest writer failed: {type(exc).__name__}", file=sys.stderr)
        return 1
    finally:
        storage.close()
        listener.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
