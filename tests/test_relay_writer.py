"""The ingest writer process (`storage.writer`): webhooks stored through it end exactly as
stored in the relay's own process, each answer comes after its commit, it is restarted
when it dies, it never outlives the relay, and processes queue for the file on an flock.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from test_relay_ingest_batch import _inbound, _inbounds, _outcome, _setup, _stored

from connector.relay import ingest
from connector.relay.config import ConfigError, RelayConfig
from connector.relay.storage import open_storage
from connector.relay.storage.group import GroupCommit
from connector.relay.storage.rows import Attempt, AttemptResult, DeliveryStatus
from connector.relay.storage.sqlite import SqliteStorage
from connector.relay.storage.writer import IngestWriter, WriterPath
from connector.relay.testing import video_payload, wait_until


def _writer_store(path: Path) -> SqliteStorage:
    store = SqliteStorage(path, wal_sync=True, flock=True)
    store.writes = WriterPath(store, IngestWriter(store.path, wal_sync=True, flock=True), None)
    store.migrate()
    _setup(store)
    return store


def _writer(store: SqliteStorage) -> IngestWriter:
    assert isinstance(store.writes, WriterPath)
    return store.writes.writer


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in state  # a zombie has ended; only its parent's wait is missing


def test_the_writer_stores_a_mixed_group_exactly_as_the_relay_process_does(
    tmp_path: Path,
) -> None:
    inline = SqliteStorage(tmp_path / "inline.sqlite3")
    inline.migrate()
    _setup(inline)
    store = _writer_store(tmp_path / "writer.sqlite3")
    try:
        outcomes: dict[str, list[tuple[Any, ...]]] = {"inline": [], "writer": []}
        for name, target in (("inline", inline), ("writer", store)):
            for inbound in _inbounds():
                try:
                    outcomes[name].append(_outcome(target.write(inbound)))
                except (ingest.RouteNotFound, ingest.RouteEnded) as refused:
                    outcomes[name].append(_outcome(refused))
        assert _writer(store).pid not in (None, os.getpid())
        assert outcomes["writer"] == outcomes["inline"]
        assert _stored(store) == _stored(inline)
    finally:
        inline.close()
        store.close()


def test_refusals_come_back_as_the_same_exceptions(tmp_path: Path) -> None:
    inline = SqliteStorage(tmp_path / "inline.sqlite3")
    inline.migrate()
    _setup(inline)
    store = _writer_store(tmp_path / "relay.sqlite3")
    try:
        ended = _inbound(1, "route", "rt_ended", video_payload("vgen_x"))
        with pytest.raises(ingest.RouteEnded) as here:
            inline.write(ended)
        with pytest.raises(ingest.RouteEnded) as there:
            store.write(ended)
        assert there.value.reason == here.value.reason  # not wrapped in "route ended: " twice
        assert str(there.value) == str(here.value)
        with pytest.raises(ingest.RouteNotFound):
            store.write(_inbound(2, "route", "rt_missing", video_payload("vgen_y")))
    finally:
        inline.close()
        store.close()


def test_threads_writing_at_once_each_get_their_own_answer(tmp_path: Path) -> None:
    store = _writer_store(tmp_path / "relay.sqlite3")
    results: dict[str, ingest.Ingested] = {}
    lock = threading.Lock()

    def send(thread: int) -> None:
        for n in range(25):
            job = f"vgen_{thread:02d}_{n:02d}"
            inbound = _inbound(0, "route", "rt_plain", video_payload(job))
            inbound = ingest.Inbound(**{**inbound.__dict__, "event_id": f"evt_{job}"})
            result = store.write(inbound)
            with lock:
                results[job] = result

    threads = [threading.Thread(target=send, args=(t,)) for t in range(12)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(results) == 300
        # Each thread heard the answer for its own event, not a neighbour's.
        assert all(r.event_id == f"evt_{job}" and not r.duplicate for job, r in results.items())
        with store.transaction(write=False) as tx:
            counted = tx.one("SELECT COUNT(*) AS n FROM events WHERE route_id = 'rt_plain'")
        assert counted is not None and counted["n"] == 300
    finally:
        store.close()


def test_a_killed_writer_is_replaced_and_the_next_write_goes_through(tmp_path: Path) -> None:
    store = _writer_store(tmp_path / "relay.sqlite3")
    try:
        store.write(_inbound(1, "route", "rt_plain", video_payload("vgen_1")))
        writer = _writer(store)
        first = writer.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: writer.pid is None)
        result = store.write(_inbound(2, "route", "rt_plain", video_payload("vgen_2")))
        assert isinstance(result, ingest.Ingested) and not result.duplicate
        assert writer.pid not in (None, first)
    finally:
        store.close()


def test_closing_the_storage_ends_the_writer_and_removes_its_socket(tmp_path: Path) -> None:
    store = _writer_store(tmp_path / "relay.sqlite3")
    store.write(_inbound(1, "route", "rt_plain", video_payload("vgen_1")))
    pid, directory = _writer(store).pid, _writer(store)._dir
    assert pid is not None and directory is not None and Path(directory).exists()
    store.close()
    assert _gone(pid)
    assert not Path(directory).exists()


def test_the_writer_never_outlives_a_killed_relay(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from pathlib import Path
        from test_relay_writer import _writer_store
        from test_relay_ingest_batch import _inbound
        from connector.relay.testing import video_payload
        store = _writer_store(Path({str(tmp_path / "relay.sqlite3")!r}))
        store.write(_inbound(1, "route", "rt_plain", video_payload("vgen_1")))
        print(store.writes.writer.pid, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    relay = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert relay.returncode == -signal.SIGKILL, relay.stderr
    pid = int(relay.stdout.strip())
    wait_until(lambda: _gone(pid), timeout=10)


def test_attempts_of_a_forwarder_beside_the_writer_are_stored_by_it(tmp_path: Path) -> None:
    store = _writer_store(tmp_path / "relay.sqlite3")
    try:
        store.write(_inbound(1, "route", "rt_plain", video_payload("vgen_1")))
        (claim,) = store.claim_due(time.time() + 1, 10, 30.0)
        attempt = Attempt(
            delivery_id=claim.delivery.id,
            number=1,
            started_at=time.time(),
            duration_ms=3.0,
            outcome="delivered",
            status_code=200,
        )
        result = AttemptResult(attempt, DeliveryStatus.SUCCEEDED, next_attempt_at=None)
        commits = store.commits  # this process's own commits (the claim was one)
        assert store.finish_attempt(claim, result, time.time()) is True
        assert store.commits == commits  # committed by the writer, not here
        with store.transaction(write=False) as tx:
            row = tx.one("SELECT status, attempts FROM deliveries WHERE id = ?", claim.delivery.id)
        assert row == {"status": DeliveryStatus.SUCCEEDED.value, "attempts": 1}
    finally:
        store.close()


def test_writers_in_other_processes_queue_on_the_files_flock(tmp_path: Path) -> None:
    store = SqliteStorage(tmp_path / "relay.sqlite3", flock=True)
    store.migrate()
    holding = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with store.transaction() as tx:
            tx.run("INSERT INTO tenants (id, created_at) VALUES (?, ?)", "t-held", 1.0)
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        fd = os.open(store.path + "-writelock", os.O_RDWR)  # another process's own open
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            release.set()
            holder.join(10)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free once the commit is done
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    finally:
        release.set()
        holder.join(10)
        store.close()


def test_the_writer_is_taken_only_when_asked_for(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'relay.sqlite3'}"
    cases = [
        ({}, False),  # the default: inline
        ({"RELAY_SQLITE_WRITER": "auto"}, True),  # gunicorn + `relay worker`, --no-forward
        ({"RELAY_SQLITE_WRITER": "auto", "RELAY_EMBEDDED_WORKER": "true"}, False),
        ({"RELAY_SQLITE_WRITER": "process", "RELAY_EMBEDDED_WORKER": "true"}, True),
        ({"RELAY_SQLITE_WRITER": "inline"}, False),
    ]
    for env, expected in cases:
        config = RelayConfig.from_env({"RELAY_DATABASE_URL": url, **env})
        assert config.uses_writer_process is expected, env
        store = open_storage(config)
        assert isinstance(store.writes, WriterPath) is expected, env
        if expected:  # the process's other writes keep their group commit
            assert isinstance(store.writes, WriterPath)
            assert isinstance(store.writes.inline, GroupCommit)
        store.close()
    assert RelayConfig.from_env({"RELAY_DATABASE_URL": url}).sqlite_writer == "INLINE"
    with pytest.raises(ConfigError) as error:
        RelayConfig.from_env({"RELAY_DATABASE_URL": url, "RELAY_SQLITE_WRITER": "thread"})
    assert "RELAY_SQLITE_WRITER='thread'" in str(error.value)
    assert "AUTO, PROCESS, INLINE" in str(error.value)


def test_short_lived_threads_reuse_the_writers_connections(tmp_path: Path) -> None:
    """werkzeug starts a thread per client connection: those threads must not each open
    (and leave behind) a connection of their own to the writer."""
    store = _writer_store(tmp_path / "relay.sqlite3")
    try:
        for n in range(20):
            inbound = _inbound(n, "route", "rt_plain", video_payload(f"vgen_{n}"))
            thread = threading.Thread(target=store.write, args=(inbound,))
            thread.start()
            thread.join(30)
        assert len(_writer(store)._idle) == 1
    finally:
        store.close()
