"""SQLite storage: one file, WAL journal, nothing to install (the default).

Durability: every transaction that accepts an event commits with `synchronous=FULL`
(the default, `RELAY_SQLITE_SYNCHRONOUS`), so the WAL is fsynced before the relay
answers 2xx: an accepted event survives a killed process and a power cut. `NORMAL`
in WAL mode survives a killed process (the WAL is written before COMMIT returns) but
may lose the last transactions on power loss; choose it only when that is acceptable.

Writers are serialized by `BEGIN IMMEDIATE`; readers never wait for them (WAL).
Within a process, writers queue on a lock rather than on SQLite's busy handler (which
sleeps in steps of up to 100 ms). `write(work)` goes further: it runs the work of every
caller waiting at that moment in ONE transaction (each in its own
savepoint, so one caller's failure does not undo another's) and commits it with one
fsync: group commit. No caller hears "done" before that commit. There is no writer
thread: whoever holds the write lock commits for everyone queued behind it.

Several processes may share the file (a separate `relay worker`, gunicorn workers).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

from connector.relay.storage.base import Row, Storage, Tx
from connector.relay.storage.pool import Pool
from connector.relay.storage.schema import SQLITE_TYPES

T = TypeVar("T")

#: Most callers' work committed in one transaction.
MAX_GROUP = 64


class _Work:
    def __init__(self, work: Callable[[Tx], Any]) -> None:
        self.work = work
        self.value: Any = None
        self.error: BaseException | None = None
        self.done = threading.Event()

    def result(self) -> Any:
        self.done.wait()
        if self.error is not None:
            raise self.error
        return self.value


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> Row:
    return {col[0]: value for col, value in zip(cursor.description, row, strict=True)}


class SqliteStorage(Storage):
    types = SQLITE_TYPES
    lock_clause = ""  # BEGIN IMMEDIATE already holds the write lock
    skip_locked_clause = ""

    def __init__(
        self,
        path: str | Path,
        synchronous: str = "FULL",
        pool_size: int = 8,
        busy_timeout: float = 30.0,
    ) -> None:
        self.path = str(path)
        if self.path in ("", ":memory:"):
            raise ValueError(
                "SQLite storage needs a file path (an in-memory database is not shared)"
            )
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._synchronous = synchronous
        self._busy_timeout = busy_timeout
        self._pool: Pool[sqlite3.Connection] = Pool(
            self._connect, lambda c: c.close(), lambda c: True, pool_size
        )
        self._write_lock = threading.Lock()
        self._pending_lock = threading.Lock()
        self._pending: list[_Work] = []

    @property
    def backend(self) -> str:
        return "sqlite"

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = _dict_row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout * 1000)}")
        return conn

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Tx]:
        # The write lock first, then a connection (as `write` does): never the other way
        # round, or writers holding connections could wait on a lock holder waiting for one.
        with self._write_lock if write else nullcontext(), self._pool.connection() as conn:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield Tx(self, conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def write(self, work: Callable[[Tx], T]) -> T:
        """Group commit without a thread of its own: the caller that gets the write lock
        commits the work of every caller queued by then; the others find theirs done."""
        item = _Work(work)
        with self._pending_lock:
            self._pending.append(item)
        with self._write_lock:
            if not item.done.is_set():
                with self._pending_lock:
                    group = self._pending[:MAX_GROUP]
                    del self._pending[:MAX_GROUP]
                self._commit_group(group)
        value: T = item.result()
        return value

    def _commit_group(self, group: list[_Work]) -> None:
        """Run each caller's work in a savepoint of one transaction; commit once."""
        try:
            with self._pool.connection() as conn:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for item in group:
                        conn.execute("SAVEPOINT work")
                        try:
                            item.value = item.work(Tx(self, conn))
                            conn.execute("RELEASE work")
                        except Exception as exc:
                            conn.execute("ROLLBACK TO work")
                            conn.execute("RELEASE work")
                            item.error = exc
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
        except BaseException as exc:  # the commit failed: nobody's work is done
            for item in group:
                item.error = item.error or exc
                item.value = None
        finally:
            for item in group:
                item.done.set()

    def fetch(self, conn: Any, sql: str, params: Sequence[Any]) -> list[Row]:
        rows: list[Row] = conn.execute(sql, tuple(params)).fetchall()
        return rows

    def execute(self, conn: Any, sql: str, params: Sequence[Any]) -> int:
        count: int = conn.execute(sql, tuple(params)).rowcount
        return count

    def _migration_lock(self, tx: Tx) -> None:
        return None  # BEGIN IMMEDIATE serializes migrations between processes

    def close(self) -> None:
        self._pool.close()
