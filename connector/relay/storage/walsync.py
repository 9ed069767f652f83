"""SQLite's `synchronous=FULL` with the WAL fsync moved out of the write lock
(`RELAY_SQLITE_WAL_SYNC=relay`).

SQLite's own FULL is NORMAL plus one fsync of the WAL inside each COMMIT, that is while
the write lock is held, so every other writer (a worker's claims) queues behind each
fsync. With this, once the journal is confirmed to be WAL, connections run NORMAL and
the storage fsyncs the WAL itself right after COMMIT, outside the write lock: the same
bytes reach the disk before anyone is told "done", others commit while the disk syncs,
and one fsync covers every commit made before it began (the WAL's frames carry
cumulative checksums, so recovery keeps each commit whose frames are on disk).
Checkpoints are unchanged: SQLite syncs the WAL before one and the database after it,
before the WAL can be reused.
"""

from __future__ import annotations

import os
import threading


class WalSync:
    """Numbers the commits of one storage and fsyncs its WAL after them."""

    def __init__(self, database: str) -> None:
        self.wal_path = database + "-wal"
        self._commits = 0  # commits made (counted under the storage's write lock)
        self._synced = 0  # commits known to be on disk
        self._lock = threading.Lock()

    def committed(self) -> int:
        """Number a commit (the caller holds the write lock, right after COMMIT)."""
        self._commits += 1
        return self._commits

    def durable_after(self, commit: int) -> None:
        """Return once the WAL has been fsynced after commit number `commit`. Callers that
        arrive while an fsync runs wait for it, and are often covered by it."""
        with self._lock:
            if self._synced >= commit:
                return
            covered = self._commits  # every commit up to here has written its frames
            try:
                fd = os.open(self.wal_path, os.O_RDONLY)
            except FileNotFoundError:
                # No WAL: the last connection closed and checkpointed it into the synced
                # database file.
                self._synced = covered
                return
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self._synced = covered
