"""SQLite durability with `synchronous=FULL`. With `RELAY_SQLITE_WAL_SYNC=relay`
(`storage.walsync`) the WAL is fsynced after COMMIT, outside the write lock, and no writer
returns before an fsync that began after its commit finished; the plain path leaves the
fsync to SQLite's own FULL.

The real `os.fsync` runs; the tests only hold it at a gate to see who waits for it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from connector.relay.storage import Tx
from connector.relay.storage.group import GroupCommit
from connector.relay.storage.sqlite import SqliteStorage
from connector.relay.testing import wait_until


class GatedFsync:
    """`os.fsync` that records each call and waits at a gate the test opens."""

    def __init__(self, real: Callable[[int], None]) -> None:
        self.real = real
        self.gate = threading.Event()
        self.started: list[str] = []
        self.finished = 0
        self._lock = threading.Lock()

    def __call__(self, fd: int) -> None:
        with self._lock:
            self.started.append(os.readlink(f"/proc/self/fd/{fd}"))
        self.gate.wait(10)
        self.real(fd)
        with self._lock:
            self.finished += 1


@pytest.fixture
def fsync(monkeypatch: pytest.MonkeyPatch) -> GatedFsync:
    gated = GatedFsync(os.fsync)
    monkeypatch.setattr(os, "fsync", gated)  # the storage calls os.fsync
    return gated


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[SqliteStorage]:
    store = SqliteStorage(tmp_path / "relay.sqlite3", synchronous="FULL", wal_sync=True)
    store.writes = GroupCommit(store)
    store.migrate()
    yield store
    store.close()


def _group(storage: SqliteStorage) -> GroupCommit:
    assert isinstance(storage.writes, GroupCommit)
    return storage.writes


def _insert(tenant: str) -> Callable[[Tx], str]:
    def work(tx: Tx) -> str:
        tx.run("INSERT INTO tenants (id, created_at) VALUES (?, ?)", tenant, time.time())
        return tenant

    return work


def _stored(storage: SqliteStorage) -> set[str]:
    with storage.transaction(write=False) as tx:
        return {str(r["id"]) for r in tx.rows("SELECT id FROM tenants")}


def _writer(storage: SqliteStorage, tenant: str) -> Callable[[], str]:
    return lambda: storage.write(_insert(tenant))


def _in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(call()), daemon=True)
    thread.start()
    return thread, out


def test_a_write_returns_only_after_the_wal_fsync_that_follows_its_commit(
    storage: SqliteStorage, fsync: GatedFsync
) -> None:
    first, first_out = _in_thread(lambda: storage.write(_insert("t-first")))
    wait_until(lambda: fsync.started)
    assert fsync.started[0] == os.path.realpath(storage.path + "-wal")
    # Committed (readers see it) but not yet on disk: the writer has not been answered.
    assert "t-first" in _stored(storage)
    first.join(0.2)
    assert first.is_alive() and not first_out

    # The next writer waits for that fsync before it commits: webhooks that queue while
    # an fsync runs go into one commit after it (see the next test).
    second, second_out = _in_thread(lambda: storage.write(_insert("t-second")))
    second.join(0.3)
    assert second.is_alive() and "t-second" not in _stored(storage)

    fsync.gate.set()
    first.join(5)
    second.join(5)
    assert (first_out, second_out) == (["t-first"], ["t-second"])
    assert fsync.finished == 2  # the second commit came after the first fsync: one more


def test_writers_queued_during_an_fsync_share_one_commit_and_one_fsync_after_it(
    storage: SqliteStorage, fsync: GatedFsync
) -> None:
    holder, _ = _in_thread(_writer(storage, "t-holder"))
    wait_until(lambda: fsync.started)  # the group committed, and waits for its fsync
    group = _group(storage)
    writers = [_in_thread(_writer(storage, f"t-{n}")) for n in range(6)]
    wait_until(lambda: len(group._pending) == 6)  # all queued, none committed
    assert _stored(storage) == {"t-holder"}
    fsync.gate.set()
    holder.join(5)
    for thread, out in writers:
        thread.join(5)
        assert out and out[0].startswith("t-")
    # The holder's commit, then one for all six: committing as soon as the lock was free
    # would have made a commit of one work, then one of the five queued behind it.
    assert group.commits == 2
    assert fsync.finished == 2


def test_other_transactions_commit_while_a_webhook_group_waits_for_an_fsync(
    storage: SqliteStorage, fsync: GatedFsync
) -> None:
    first, _ = _in_thread(lambda: storage.write(_insert("t-first")))
    wait_until(lambda: fsync.started)
    second, _ = _in_thread(lambda: storage.write(_insert("t-second")))
    wait_until(lambda: _group(storage)._pending)  # the next group waits, without the lock
    with storage.transaction(durable=False) as tx:  # e.g. a worker recording an attempt
        tx.run("INSERT INTO tenants (id, created_at) VALUES (?, ?)", "t-other", time.time())
    assert _stored(storage) == {"t-first", "t-other"}
    fsync.gate.set()
    first.join(5)
    second.join(5)
    assert _stored(storage) == {"t-first", "t-other", "t-second"}


def test_normal_leaves_syncing_to_sqlite_checkpoints(tmp_path: Path, fsync: GatedFsync) -> None:
    storage = SqliteStorage(tmp_path / "relay.sqlite3", synchronous="NORMAL", wal_sync=True)
    try:
        storage.migrate()
        assert storage.write(_insert("t-normal")) == "t-normal"
        assert fsync.started == []
    finally:
        storage.close()


def test_full_connections_leave_the_commit_fsync_to_the_storage(storage: SqliteStorage) -> None:
    with storage.transaction(write=False) as tx:
        mode = tx.one("PRAGMA journal_mode")
        sync = tx.one("PRAGMA synchronous")
    assert mode is not None and mode["journal_mode"] == "wal"
    assert sync is not None and sync["synchronous"] == 1  # NORMAL + the storage's own fsync


def test_the_plain_path_leaves_the_fsync_to_sqlites_own_full(
    tmp_path: Path, fsync: GatedFsync
) -> None:
    storage = SqliteStorage(tmp_path / "relay.sqlite3")  # no acceleration
    try:
        storage.migrate()
        assert storage.writes is None and storage.wal_sync is None and storage.flock is None
        fsync.gate.set()
        assert storage.write(_insert("t-plain")) == "t-plain"
        assert fsync.started == []  # SQLite syncs inside COMMIT (not through os.fsync)
        with storage.transaction(write=False) as tx:
            sync = tx.one("PRAGMA synchronous")
        assert sync is not None and sync["synchronous"] == 2  # FULL
        assert not Path(storage.path + "-writelock").exists()
    finally:
        storage.close()


def test_a_plain_claim_skips_the_fsync_and_leaves_its_connection_full(tmp_path: Path) -> None:
    """Without the relay's own WAL sync, a claim's commit runs at NORMAL (safe to lose),
    and the pooled connection it used is FULL again for the next durable commit."""
    storage = SqliteStorage(tmp_path / "relay.sqlite3", pool_size=1)
    try:
        storage.migrate()
        seen: list[Any] = []
        with storage.transaction(durable=False) as tx:
            seen.append(tx.one("PRAGMA synchronous"))
        with storage.transaction() as tx:
            seen.append(tx.one("PRAGMA synchronous"))
        assert seen == [{"synchronous": 1}, {"synchronous": 2}]
    finally:
        storage.close()


def test_a_claim_does_not_wait_for_the_disk(storage: SqliteStorage, fsync: GatedFsync) -> None:
    """Claims are safe to lose (the lease lapses and the delivery goes again), so a worker
    sends at once instead of waiting behind the fsync of someone else's commit."""
    writer, _ = _in_thread(lambda: storage.write(_insert("t-held")))
    wait_until(lambda: fsync.started)
    claimer, claimed = _in_thread(lambda: storage.claim_due(time.time(), 4, 10.0))
    claimer.join(5)
    assert claimed == [[]] and writer.is_alive()
    fsync.gate.set()
    writer.join(5)
