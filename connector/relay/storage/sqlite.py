"""SQLite storage: one file, WAL journal, nothing to install (the default).

Durability: with `synchronous=FULL` (the default, `RELAY_SQLITE_SYNCHRONOUS`) the WAL is
fsynced after every commit and before the relay answers 2xx: an accepted event survives
a killed process and a power cut. `NORMAL` in WAL mode survives a killed process (the
WAL is written before COMMIT returns) but may lose the last transactions on power loss;
choose it only when that is acceptable.

How FULL is kept cheap. SQLite's own FULL is NORMAL plus one fsync of the WAL inside
each COMMIT, that is while the write lock is held, so writers queue behind every fsync.
Here, once the journal is confirmed to be WAL, connections run with NORMAL and the
storage fsyncs the WAL itself right after COMMIT, outside the write lock: the same
bytes reach the disk before anyone is told "done", but other transactions (a worker's
claims) go on while the fsync runs, the next group of webhooks gathers meanwhile, and
one fsync covers every commit made before it began (the WAL's frames carry cumulative
checksums, so recovery keeps each commit whose frames are on disk). Checkpoints are
unchanged: SQLite syncs the WAL before one and the database after it, before the WAL
can be reused.

Writers are serialized by `BEGIN IMMEDIATE`; readers never wait for them (WAL).
Within a process, writers queue on a lock rather than on SQLite's busy handler (which
sleeps in steps of up to 100 ms). `write(work)` goes further: it runs the work of every
caller waiting at that moment (or queued while the last fsync ran) in ONE transaction
and commits it once: group commit.
One caller's failure does not undo another's: a work that fails before changing
anything just fails; one that fails half way has the transaction rolled back and the
others run again without it (so a work may run more than once). No caller hears "done"
before the commit that holds its work is on disk. There is no writer thread: whoever
holds the write lock commits for everyone queued behind it.

Several processes may share the file (a separate `relay worker`, gunicorn workers).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from connector.relay.storage.base import BatchWork, Row, Storage, Tx
from connector.relay.storage.pool import Pool
from connector.relay.storage.schema import SQLITE_TYPES
from connector.relay.storage.writer import IngestWriter

T = TypeVar("T")

#: Most callers' work committed in one transaction.
MAX_GROUP = 64


class _Work:
    """One caller's work in the group commit, and how its thread is woken: when the work
    is done, or earlier when it is handed the lead (then it commits the next group)."""

    __slots__ = ("_wake", "alone", "error", "lead", "value", "work")

    def __init__(self, work: Callable[[Tx], Any]) -> None:
        self.work = work
        self.value: Any = None
        self.error: BaseException | None = None
        self.alone = False  # run on its own, even if it is a BatchWork
        self.lead = False  # this work's thread commits the next group
        # Held until the thread is woken: a bare lock is the cheapest one-shot signal.
        self._wake = threading.Lock()
        self._wake.acquire()

    def wake(self) -> None:
        self._wake.release()

    def wait(self) -> None:
        self._wake.acquire()

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


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
        group_wait: float = 0.002,
        writer: bool = False,
    ) -> None:
        self.path = str(path)
        if self.path in ("", ":memory:"):
            raise ValueError(
                "SQLite storage needs a file path (an in-memory database is not shared)"
            )
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._synchronous = synchronous.upper()
        self._busy_timeout = busy_timeout
        self._wal_path = self.path + "-wal"
        # FULL: the storage fsyncs the WAL after each commit (see the module docstring).
        self._sync_after_commit = self._synchronous == "FULL"
        self._commits = 0  # commits made through this storage (counted under the write lock)
        self._synced = 0  # commits known to be on disk
        self._sync_lock = threading.Lock()
        self._pool: Pool[sqlite3.Connection] = Pool(
            self._connect, lambda c: c.close(), lambda c: True, pool_size
        )
        self._write_lock = threading.Lock()
        # Between processes (a writer process, a `relay worker`, gunicorn workers), writers
        # queue on an flock of this file: SQLite's own busy handler sleeps 1, 2, 5, 10 ms
        # and more between tries, while an flock wakes the next writer when it is released.
        self._lock_path = self.path + "-writelock"
        self._lock_fd = -1
        self._lock_pid = 0
        self._pending_lock = threading.Lock()
        self._pending: list[_Work] = []
        # Writers announced by `arriving` that have not queued their work yet, and the
        # condition a group's leader waits on for them (at most `group_wait` seconds).
        self.group_wait = group_wait
        self._announced = 0
        self._local = threading.local()
        self._joined = threading.Condition(self._pending_lock)
        self._leading = False  # a caller is committing a group (see write)
        self._flushing = 0  # commits whose fsync has not finished (see _gather)
        # writer=True: batch works (inbound webhooks) are stored by a writer process.
        self.writer: IngestWriter | None = None
        if writer:
            self.writer = IngestWriter(self.path, self._synchronous)

    @property
    def backend(self) -> str:
        return "sqlite"

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        """The write lock between processes (the caller holds `_write_lock`)."""
        if self._lock_pid != os.getpid():  # an flock is shared with a forked parent: reopen
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            self._lock_pid = os.getpid()
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = _dict_row
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()
        wal = bool(mode) and str(next(iter(mode.values()))).lower() == "wal"
        # The WAL fsync moves out of COMMIT (durable_after) only when there is a WAL.
        synchronous = "NORMAL" if wal and self._sync_after_commit else self._synchronous
        conn.execute(f"PRAGMA synchronous={synchronous}")
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
        # The write lock first, then a connection (as `write` does): never the other way
        # round, or writers holding connections could wait on a lock holder waiting for one.
        with self._write_lock, self._file_lock(), self._pool.connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(self, conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            commit = self._counted_commit()
            if durable:
                self._flush_begins()
        if durable:
            try:
                self.durable_after(commit)
            finally:
                self._flush_ends()

    @contextmanager
    def arriving(self) -> Iterator[None]:
        if self.writer is not None:  # the writer groups whatever reaches it meanwhile
            yield
            return
        with self._pending_lock:
            self._announced += 1
        self._local.announced = True
        try:
            yield
        finally:
            if self._local.announced:  # left without writing
                self._local.announced = False
                with self._pending_lock:
                    self._announced -= 1
                    self._wake_gatherer()

    def write(self, work: Callable[[Tx], T]) -> T:
        """Group commit without a thread of its own. One caller at a time leads: it takes
        every work queued by then, commits them in one transaction, hands the lead to the
        first caller still queued, then fsyncs and tells its group. The others sleep once,
        until their work is done (or the lead comes to them).

        Before it takes the group, a leader waits for the fsync of the last commit to
        finish, and (at most `group_wait`) for writers announced by `arriving` to queue
        theirs: under load, one commit and one fsync then serve many webhooks (a commit
        costs ten times what one more row does); with no fsync running and nobody
        announced, it does not wait at all.
        """
        if self.writer is not None and isinstance(work, BatchWork):
            stored: T = self.writer.submit(work)
            return stored
        item = _Work(work)
        with self._pending_lock:
            self._pending.append(item)
            if getattr(self._local, "announced", False):
                self._local.announced = False
                self._announced -= 1
                self._wake_gatherer()
            lead = not self._leading
            self._leading = True
        if not lead:
            item.wait()
            if not item.lead:
                value: T = item.outcome()
                return value
        self._lead()
        value = item.outcome()
        return value

    def _lead(self) -> None:
        """Commit one group (the leader's own work is the first queued), pass the lead on,
        then make the commit durable and wake the group."""
        group: list[_Work] = []
        commit: int | None = None
        try:
            with self._pending_lock:
                self._gather()
            with self._write_lock, self._file_lock():
                try:
                    with self._pending_lock:
                        group = self._pending[:MAX_GROUP]
                        del self._pending[:MAX_GROUP]
                    commit = self._commit_group(group)
                finally:
                    if commit is not None:
                        self._flush_begins()
                    with self._pending_lock:
                        if self._pending:
                            self._pending[0].lead = True
                            self._pending[0].wake()
                        else:
                            self._leading = False
        finally:
            self._release(group, commit)

    def _flush_begins(self) -> None:
        """A commit is waiting for its fsync: the next group waits for it too (_gather)."""
        if self._sync_after_commit:
            with self._pending_lock:
                self._flushing += 1

    def _flush_ends(self) -> None:
        if self._sync_after_commit:
            with self._pending_lock:
                self._flushing -= 1
                self._joined.notify()

    def _wake_gatherer(self) -> None:
        """A writer queued or left (the caller holds the pending lock): wake a gathering
        leader only when it has nothing left to wait for, not once per arrival."""
        if self._announced == 0 or len(self._pending) >= MAX_GROUP:
            self._joined.notify()

    def _gather(self) -> None:
        """Wait (holding the pending lock, which the wait releases) while the group has
        room and either the last group's fsync is still running or announced writers are
        still on their way (those at most `group_wait` seconds).

        Waiting out the fsync is what makes groups: a commit made during it would be on
        disk no sooner (it waits for the next fsync anyway) and would hold only the few
        works that queued since the last commit, while commits cost ten times what one
        more work in a commit does. Measured under gunicorn with 16 connections, without
        this wait four groups in five held a single work."""
        while self._flushing and len(self._pending) < MAX_GROUP:
            self._joined.wait()
        deadline = 0.0
        while self._announced > 0 and len(self._pending) < MAX_GROUP:
            now = time.monotonic()
            if not deadline:
                deadline = now + self.group_wait
            elif now >= deadline:
                return
            self._joined.wait(deadline - now)

    def write_many(self, works: Sequence[Callable[[Tx], Any]]) -> list[tuple[bool, Any]]:
        """Store `works` in as few commits as can hold them (one, up to MAX_GROUP), and
        return once they are on disk: for each, (True, its result) or (False, the
        exception it failed with). What the writer process runs for each group it reads.
        """
        items = [_Work(work) for work in works]
        commit: int | None = None
        with self._write_lock, self._file_lock():
            for start in range(0, len(items), MAX_GROUP):
                done = self._commit_group(items[start : start + MAX_GROUP])
                commit = done if done is not None else commit
        if commit is not None:
            self._flush_begins()
        self._release(items, commit)
        return [(item.error is None, item.error or item.value) for item in items]

    def _counted_commit(self) -> int:
        """Number this commit (the caller holds the write lock, right after COMMIT)."""
        self._commits += 1
        return self._commits

    def durable_after(self, commit: int) -> None:
        """Return once the WAL has been fsynced after commit number `commit`.

        One fsync serves every commit made before it began; callers that arrive while one
        runs wait for it and are often covered by it.
        """
        if not self._sync_after_commit:
            return
        with self._sync_lock:
            if self._synced >= commit:
                return
            covered = self._commits  # every commit up to here has written its frames
            try:
                fd = os.open(self._wal_path, os.O_RDONLY)
            except FileNotFoundError:
                # No WAL (not WAL mode: the connection synced itself; or the last connection
                # closed and checkpointed it into the synced database file).
                self._synced = covered
                return
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self._synced = covered

    def _release(self, group: list[_Work], commit: int | None) -> None:
        """Tell a committed group's callers, once their commit is on disk."""
        try:
            if commit is not None:
                self.durable_after(commit)
        except BaseException as exc:  # committed, but not known to be on disk: not "done"
            for item in group:
                item.error = item.error or exc
                item.value = None
        finally:
            if commit is not None:
                self._flush_ends()
            for item in group:
                if commit is None and item.error is None:  # the group never reached COMMIT
                    item.error = RuntimeError("the write was not committed")
                item.wake()

    def _commit_group(self, group: list[_Work]) -> int | None:
        """Run every caller's work in one transaction and commit it once; returns the
        commit's number (None if the commit failed: then every work failed with it).

        No savepoints (two more statements per caller): a work that fails before it
        changed anything (the usual case: a route that is gone) simply fails; one that
        fails half way rolls the transaction back, and the others run again without it.
        """
        todo = group
        try:
            with self._pool.connection() as conn:
                while todo:
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        redo = self._run_all(conn, todo)
                        conn.execute("ROLLBACK" if redo is not None else "COMMIT")
                    except BaseException:
                        if conn.in_transaction:
                            conn.execute("ROLLBACK")
                        raise
                    todo = redo or []
            return self._counted_commit()
        except BaseException as exc:  # the commit failed: nobody's work is done
            for item in group:
                item.error = item.error or exc
                item.value = None
            return None

    def _run_all(self, conn: sqlite3.Connection, todo: list[_Work]) -> list[_Work] | None:
        """None when the transaction holds every successful work and nothing of a failed
        one; else what to run again after a rollback (a work failed half way).

        Works of one `BatchWork` class run together through its `run_batch`; if that
        raises, they are marked to run alone (now, or in the rerun if it changed anything).
        """
        tx = Tx(self, conn)
        singles: list[_Work] = []
        batches: dict[type[BatchWork[Any]], list[_Work]] = {}
        for item in todo:
            if isinstance(item.work, BatchWork) and not item.alone:
                batches.setdefault(type(item.work), []).append(item)
            else:
                singles.append(item)
        for kind, items in batches.items():
            before = conn.total_changes
            try:
                results = kind.run_batch(tx, [item.work for item in items])
            except Exception:
                for item in items:
                    item.alone = True
                if conn.total_changes != before:
                    return [other for other in todo if other.error is None]
                singles += items
                continue
            for item, result in zip(items, results, strict=True):
                if isinstance(result, Exception):
                    item.error, item.value = result, None
                else:
                    item.value = result
        for item in singles:
            before = conn.total_changes
            try:
                item.value = item.work(tx)
            except Exception as exc:
                item.error, item.value = exc, None
                if conn.total_changes != before:
                    return [other for other in todo if other.error is None]
        return None

    def fetch(self, conn: Any, sql: str, params: Sequence[Any]) -> list[Row]:
        rows: list[Row] = conn.execute(sql, tuple(params)).fetchall()
        return rows

    def execute(self, conn: Any, sql: str, params: Sequence[Any]) -> int:
        count: int = conn.execute(sql, tuple(params)).rowcount
        return count

    def _migration_lock(self, tx: Tx) -> None:
        return None  # BEGIN IMMEDIATE serializes migrations between processes

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self._lock_pid == os.getpid():
            os.close(self._lock_fd)
            self._lock_pid = 0
        self._pool.close()
