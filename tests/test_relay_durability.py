"""SQLite durability with `synchronous=FULL`: SQLite fsyncs the WAL inside each COMMIT, so
a write returns only once it is on disk; a claim (safe to lose) commits at NORMAL. Group
commit: writers that queue while a group commits share the next commit.

The real `os.fsync` runs; the tests only watch it to see that the relay leaves the
syncing to SQLite.
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


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every `os.fsync` made from Python (SQLite's own fsyncs do not pass here)."""
    seen: list[int] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        seen.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return seen


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[SqliteStorage]:
    store = SqliteStorage(tmp_path / "relay.sqlite3", synchronous="FULL")
    store.writes = GroupCommit(store)
    store.migrate()
    yield store
    store.close()


def _insert(tenant: str) -> Callable[[Tx], str]:
    def work(tx: Tx) -> str:
        tx.run("INSERT INTO tenants (id, created_at) VALUES (?, ?)", tenant, time.time())
        return tenant

    return work


def _stored(storage: SqliteStorage) -> set[str]:
    with storage.transaction(write=False) as tx:
        return {str(r["id"]) for r in tx.rows("SELECT id FROM tenants")}


def _in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(call()), daemon=True)
    thread.start()
    return thread, out


def test_the_plain_path_leaves_the_fsync_to_sqlites_own_full(
    tmp_path: Path, fsyncs: list[int]
) -> None:
    storage = SqliteStorage(tmp_path / "relay.sqlite3")  # no group commit
    try:
        storage.migrate()
        assert storage.writes is None
        assert storage.write(_insert("t-plain")) == "t-plain"
        assert fsyncs == []  # SQLite syncs inside COMMIT (not through os.fsync)
        with storage.transaction(write=False) as tx:
            mode = tx.one("PRAGMA journal_mode")
            sync = tx.one("PRAGMA synchronous")
        assert mode is not None and mode["journal_mode"] == "wal"
        assert sync is not None and sync["synchronous"] == 2  # FULL
    finally:
        storage.close()


def test_a_plain_claim_skips_the_fsync_and_leaves_its_connection_full(tmp_path: Path) -> None:
    """A claim's commit runs at NORMAL (safe to lose), and the pooled connection it used
    is FULL again for the next durable commit."""
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


def test_writers_queued_during_a_commit_share_the_next_commit(storage: SqliteStorage) -> None:
    """While one group is in its transaction, six writers queue; they go into one commit
    after it, none of them answered before."""
    group = storage.writes
    assert isinstance(group, GroupCommit)
    release = threading.Event()
    inside = threading.Event()

    def held(tx: Tx) -> str:
        _insert("t-holder")(tx)
        inside.set()
        release.wait(10)
        return "t-holder"

    holder, _ = _in_thread(lambda: storage.write(held))
    assert inside.wait(5)
    writers = [_in_thread(lambda n=n: storage.write(_insert(f"t-{n}"))) for n in range(6)]
    wait_until(lambda: len(group._pending) == 6)  # all queued, none committed
    assert all(not out for _, out in writers)
    release.set()
    holder.join(5)
    for thread, out in writers:
        thread.join(5)
        assert out and out[0].startswith("t-")
    assert _stored(storage) == {"t-holder", *(f"t-{n}" for n in range(6))}
    # The holder's commit, then one for all six: committing as soon as the lock was free
    # would have made a commit of one work, then one of the five queued behind it.
    assert group.commits == 2
