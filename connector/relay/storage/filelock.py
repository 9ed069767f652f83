"""Writers of several processes take turns on an flock (`RELAY_SQLITE_FLOCK`).

Between processes (the ingest writer, a `relay worker`, gunicorn workers) SQLite's own
busy handler sleeps 1, 2, 5, 10 ms and more between tries, while an flock of
`<database>-writelock` wakes the next writer as soon as it is released.
"""

from __future__ import annotations

import fcntl
import os
from types import TracebackType


class FileLock:
    """An exclusive flock, held by one thread of this process at a time (the storage's
    own write lock orders the threads). Reopened after a fork: an flock's file
    description is shared with the parent."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = -1
        self._pid = 0

    def __enter__(self) -> None:
        if self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._pid == os.getpid():
            os.close(self._fd)
            self._pid = 0
