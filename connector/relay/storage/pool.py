"""A small blocking connection pool: a request thread borrows a connection and returns it.

The WSGI server starts a thread per connection, so per-thread connections would be opened
and dropped all the time; a pool keeps at most `size` of them and reuses them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Generic, TypeVar

C = TypeVar("C")


class PoolClosed(RuntimeError):
    pass


class Pool(Generic[C]):
    def __init__(
        self,
        connect: Callable[[], C],
        close: Callable[[C], None],
        healthy: Callable[[C], bool],
        size: int,
        timeout: float = 30.0,
    ) -> None:
        self._connect = connect
        self._close = close
        self._healthy = healthy
        self._size = size
        self._timeout = timeout
        self._idle: list[C] = []
        self._open = 0
        self._closed = False
        self._cond = threading.Condition()

    @contextmanager
    def connection(self) -> Iterator[C]:
        """Borrow a connection; a broken one is closed rather than reused."""
        conn = self._take()
        try:
            yield conn
        except BaseException:
            if self._healthy(conn):
                self._give(conn)
            else:
                self._discard(conn)
            raise
        self._give(conn)

    def _take(self) -> C:
        with self._cond:
            while True:
                if self._closed:
                    raise PoolClosed("storage is closed")
                if self._idle:
                    return self._idle.pop()
                if self._open < self._size:
                    self._open += 1
                    break
                if not self._cond.wait(self._timeout):
                    raise TimeoutError(f"no database connection free within {self._timeout} s")
        try:
            return self._connect()
        except BaseException:
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise

    def _give(self, conn: C) -> None:
        with self._cond:
            if not self._closed:
                self._idle.append(conn)
                self._cond.notify()
                return
            self._open -= 1
        self._close(conn)

    def _discard(self, conn: C) -> None:
        with self._cond:
            self._open -= 1
            self._cond.notify()
        with suppress(Exception):  # a broken connection may fail to close
            self._close(conn)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._open -= len(idle)
            self._cond.notify_all()
        for conn in idle:
            self._close(conn)
