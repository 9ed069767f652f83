"""Group commit: writes that arrive together share one transaction and one COMMIT.

A commit costs far more than one more row in it (SQLite: its fsync; PostgreSQL: its WAL
flush and a round trip), so under load the relay commits the work of every caller
waiting at that moment at once. Both backends use it (`RELAY_GROUP_COMMIT`).

There is no committing thread: a caller that finds no group committing leads. The
leader takes every work queued by then (at most `MAX_GROUP` with its own), runs them in
one transaction, commits it, hands the lead to the first caller still queued and wakes
its group. Every other caller sleeps once, until its work is done or the lead comes to
it. Whatever queues while a group commits forms the next group. One group commits at a
time (measured on PostgreSQL, two or three at once did no better). No caller hears
"done" before the commit that holds its work is durable (the storage's `transaction()`
returns only then).

Before it takes its group, a leader waits, at most `wait` seconds, for writers announced
by `arriving()` (webhooks still being verified) to queue theirs; with none announced it
does not wait at all.

One caller's failure does not undo another's (`run_group`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from connector.relay.storage.base import BatchWork, Storage, Tx, WritePath

T = TypeVar("T")

#: Most callers' work committed in one transaction.
MAX_GROUP = 64


class Work:
    """One caller's work in a group, its outcome, and how its thread is woken."""

    __slots__ = ("_wake", "alone", "error", "lead", "value", "work")

    def __init__(self, work: Callable[[Tx], Any]) -> None:
        self.work = work
        self.value: Any = None
        self.error: BaseException | None = None
        self.alone = False  # run on its own, even if it is a BatchWork
        self.lead = False  # woken to lead the next group rather than with its outcome
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


def run_group(storage: Storage, group: Sequence[Work]) -> bool:
    """Run every work of `group` in one write transaction and commit it once; each work
    gets its value or its error. False when the commit failed (every work failed with it).

    No savepoints (two more statements per work): a work that fails before it changed
    anything (the usual case: a route that is gone) simply fails; one that fails half way
    rolls the transaction back, and the others run again without it.
    """
    todo = list(group)
    try:
        while todo:
            redo: list[Work] | None = None
            try:
                with storage.transaction() as tx:
                    redo = _run_all(tx, todo)
                    if redo is not None:
                        raise _Rerun  # leaves the block: the transaction rolls back
            except _Rerun:
                todo = redo or []
                continue
            return True
    except BaseException as exc:  # the commit failed: nobody's work is done
        for item in group:
            if item.error is None:
                item.error = exc
            item.value = None
        return False
    return True


class _Rerun(Exception):
    """Roll the transaction back: a work failed half way, the others run again."""


def _run_all(tx: Tx, todo: list[Work]) -> list[Work] | None:
    """None when the transaction holds every successful work and nothing of a failed
    one; else what to run again after a rollback (a work failed half way).

    Works of one `BatchWork` class run together through its `run_batch`; if that raises,
    they are marked to run alone (now, or in the rerun if it changed anything).
    """
    singles: list[Work] = []
    batches: dict[type[BatchWork[Any]], list[Work]] = {}
    for item in todo:
        if isinstance(item.work, BatchWork) and not item.alone:
            batches.setdefault(type(item.work), []).append(item)
        else:
            singles.append(item)
    for kind, items in batches.items():
        before = tx.changes
        try:
            results = kind.run_batch(tx, [item.work for item in items])
        except Exception:
            for item in items:
                item.alone = True
            if tx.changes != before or tx.broken:
                return [other for other in todo if other.error is None]
            singles += items
            continue
        for item, result in zip(items, results, strict=True):
            if isinstance(result, Exception):
                item.error, item.value = result, None
            else:
                item.value = result
    for item in singles:
        before = tx.changes
        try:
            item.value = item.work(tx)
        except Exception as exc:
            item.error, item.value = exc, None
            if tx.changes != before or tx.broken:
                return [other for other in todo if other.error is None]
    return None


class GroupCommit(WritePath):
    """`storage.write` through group commit (see the module docstring)."""

    def __init__(self, storage: Storage, wait: float = 0.002) -> None:
        self.storage = storage
        self.wait = wait
        self.commits = 0  # groups committed (tests and the benchmark read it)
        self._lock = threading.Lock()
        self._joined = threading.Condition(self._lock)  # a gathering leader waits on it
        self._pending: list[Work] = []
        self._leading = False  # a caller is committing a group
        self._announced = 0  # writers announced by `arriving` that have not queued yet
        self._local = threading.local()

    @contextmanager
    def arriving(self) -> Iterator[None]:
        with self._lock:
            self._announced += 1
        self._local.announced = True
        try:
            yield
        finally:
            if self._local.announced:  # left without writing
                self._local.announced = False
                with self._lock:
                    self._announced -= 1
                    self._wake_gatherer()

    def write(self, work: Callable[[Tx], T]) -> T:
        item = Work(work)
        with self._lock:
            if getattr(self._local, "announced", False):
                self._local.announced = False
                self._announced -= 1
            lead = not self._leading
            if lead:
                self._leading = True
            else:
                self._pending.append(item)
            self._wake_gatherer()
        if not lead:
            item.wait()
            if not item.lead:
                value: T = item.outcome()
                return value
        self._lead(item)
        value = item.outcome()
        return value

    def _lead(self, own: Work) -> None:
        """Commit one group (the leader's own work first), pass the lead on to the first
        caller still queued, wake the group."""
        group = [own]
        try:
            with self._lock:
                self._gather()
                take = MAX_GROUP - 1
                group += self._pending[:take]
                del self._pending[:take]
            if run_group(self.storage, group):
                self.commits += 1
        finally:
            with self._lock:
                if self._pending:
                    successor = self._pending.pop(0)
                    successor.lead = True
                    successor.wake()
                else:
                    self._leading = False
            for item in group[1:]:  # the leader's own thread is awake
                item.wake()

    def _wake_gatherer(self) -> None:
        """A writer queued or left (the caller holds the lock): wake a gathering leader
        only when it has nothing left to wait for, not once per arrival."""
        if self._announced == 0 or len(self._pending) >= MAX_GROUP - 1:
            self._joined.notify()

    def _gather(self) -> None:
        """Wait (holding the lock, which the wait releases) while the group has room and
        announced writers are still on their way, at most `wait` seconds."""
        deadline = 0.0
        while self._announced > 0 and len(self._pending) < MAX_GROUP - 1:
            now = time.monotonic()
            if not deadline:
                deadline = now + self.wait
            elif now >= deadline:
                return
            self._joined.wait(deadline - now)
