"""SQLite storage: one file, WAL journal, nothing to install (the default).

A pool of connections, `BEGIN IMMEDIATE` for every write, and SQLite's
`synchronous=FULL` (`RELAY_SQLITE_SYNCHRONOUS`), so the WAL is fsynced in every COMMIT
and an event is on disk before the relay answers 2xx: it survives a killed process and a
power cut. `NORMAL` in WAL mode survives a killed process (the WAL is written before
COMMIT returns) but may lose the last transactions on power loss. Readers never wait for
writers (WAL); writers of this process queue on a lock rather than on SQLite's busy
handler (which sleeps in steps of up to 100 ms); writers of other processes (a separate
`relay worker`, gunicorn workers) meet in that busy handler.

Group commit (`group`) sits above the storage, in `write`; nothing here knows of it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from connector.relay.storage.base import Row, Storage, Tx
from connector.relay.storage.pool import Pool
from connector.relay.storage.schema import SQLITE_TYPES


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> Row:
    return {col[0]: value for col, value in zip(cursor.description, row, strict=True)}


class SqliteStorage(Storage):
    types = SQLITE_TYPES
    lock_clause = ""  # BEGIN IMMEDIATE already holds the write lock
    share_clause = ""
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
        self.synchronous = synchronous.upper()
        self._busy_timeout = busy_timeout
        self.commits = 0  # write transactions committed by this storage
        self._write_lock = threading.Lock()
        self._pool: Pool[sqlite3.Connection] = Pool(
            self._connect, lambda c: c.close(), lambda c: True, pool_size
        )

    @property
    def backend(self) -> str:
        return "sqlite"

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = _dict_row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout * 1000)}")
        return conn

    @contextmanager
    def transaction(self, write: bool = True, durable: bool = True) -> Iterator[Tx]:
        if not write:
            with self._pool.connection() as conn:
                conn.execute("BEGIN")
                try:
                    yield Tx(self, conn)
                finally:
                    if conn.in_transaction:
                        conn.execute("COMMIT")
            return
        # The write lock first, then a connection: never the other way round, or writers
        # holding connections could wait on a lock holder waiting for one.
        with self._write_lock, self._pool.connection() as conn:
            # A claim is safe to lose: its commit does not wait for the disk.
            lazy = not durable and self.synchronous != "NORMAL"
            if lazy:
                conn.execute("PRAGMA synchronous=NORMAL")
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield Tx(self, conn)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            finally:
                if lazy:
                    conn.execute(f"PRAGMA synchronous={self.synchronous}")
            self.commits += 1

    def fetch(self, conn: Any, sql: str, params: Sequence[Any]) -> list[Row]:
        rows: list[Row] = conn.execute(sql, tuple(params)).fetchall()
        return rows

    def execute(self, conn: Any, sql: str, params: Sequence[Any]) -> int:
        count: int = conn.execute(sql, tuple(params)).rowcount
        return count

    def _migration_lock(self, tx: Tx) -> None:
        return None  # BEGIN IMMEDIATE serializes migrations between processes

    def _close(self) -> None:
        self._pool.close()
