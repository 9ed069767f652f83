"""Storing inbound webhooks in groups: `Inbound.run_batch` ends exactly as storing each
one alone would, and group commit (`storage.group`, both backends) gathers announced
writers into one transaction and one commit."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from connector.relay import ingest
from connector.relay.config import RelayConfig
from connector.relay.storage import Route, RouteStatus, Storage, Subscription, Tx, open_storage
from connector.relay.storage.base import BatchWork
from connector.relay.storage.group import GroupCommit
from connector.relay.storage.postgres import PostgresStorage
from connector.relay.storage.sqlite import SqliteStorage
from connector.relay.testing import (
    PG_URL,
    api_webhook,
    batch_payload,
    empty,
    video_payload,
)
from connector.webhooks import parse

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _open(backend: str, path: Path, request: pytest.FixtureRequest) -> Storage:
    if backend == "sqlite":
        store: Storage = SqliteStorage(path)
        store.migrate()
        return store
    store = PostgresStorage(PG_URL, schema=request.getfixturevalue("pg_schema"))
    empty(store)
    return store


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _route(route_id: str, tenant: str = "t1", **changes: Any) -> Route:
    now = time.time()
    values: dict[str, Any] = {
        "id": route_id,
        "tenant_id": tenant,
        "target_url": f"https://example.com/{route_id}",
        "secret_sealed": "sealed",
        "created_at": now,
        "expires_at": now + 3600,
    }
    values.update(changes)
    return Route(**values)


def _setup(storage: Storage) -> None:
    """Routes and subscriptions of every kind an inbound can meet."""
    storage.create_route(_route("rt_plain"))
    storage.create_route(_route("rt_fan", fan_out_batch=True))
    storage.create_route(_route("rt_voice_only", events=("voice.*",)))
    storage.create_route(_route("rt_other_tenant", tenant="t2"))
    storage.create_route(_route("rt_ended", status=RouteStatus.ENDED, ended_reason="gone"))
    storage.create_route(_route("rt_join", expect=2))
    for sub_id, events in (
        ("sub_all", None),
        ("sub_video", ("video.*",)),
        ("sub_img", ("image.*",)),
    ):
        storage.create_subscription(
            Subscription(
                id=sub_id,
                tenant_id="t1",
                target_url=f"https://example.com/{sub_id}",
                secret_sealed="sealed",
                created_at=time.time(),
                events=events,
            )
        )


def _inbound(n: int, kind: str, target: str, payload: dict[str, Any]) -> ingest.Inbound:
    body, headers = api_webhook(payload, "key")
    hook = parse(body, headers)
    kept = ingest.kept_headers(headers)
    tenant, route_id = (target, None) if kind == "tenant" else ("t1", target)
    return ingest.Inbound(kind, tenant, route_id, hook, body, kept, 1000.0, 0.0, f"evt_{n:02d}")


def _inbounds() -> list[ingest.Inbound]:
    """A mixed group, with a duplicate inside it and a join route that completes in it."""
    same = video_payload("vgen_same")
    made = [
        ("route", "rt_plain", video_payload("vgen_a")),
        ("route", "rt_fan", batch_payload("vbatch_1", ["completed", "failed"])),
        ("route", "rt_voice_only", video_payload("vgen_b")),
        ("route", "rt_other_tenant", video_payload("vgen_c")),  # t1's token, t2's route
        ("route", "rt_ended", video_payload("vgen_d")),
        ("route", "rt_missing", video_payload("vgen_e")),
        ("route", "rt_join", video_payload("vgen_j1")),
        ("tenant", "t1", video_payload("vgen_f")),
        ("route", "rt_plain", same),
        ("route", "rt_join", video_payload("vgen_j2")),
        ("tenant", "t1", same),  # the same delivery again: a duplicate of the one above
        ("tenant", "t9", video_payload("vgen_g")),  # a tenant without subscriptions
    ]
    return [_inbound(n, kind, target, payload) for n, (kind, target, payload) in enumerate(made)]


def _outcome(result: object) -> tuple[Any, ...]:
    if isinstance(result, Exception):
        return (type(result).__name__,)
    assert isinstance(result, ingest.Ingested)
    return (result.event_id, result.duplicate, result.deliveries, result.late, result.joined)


def _stored(storage: Storage) -> dict[str, list[tuple[Any, ...]]]:
    with storage.transaction(write=False) as tx:
        events = tx.rows("SELECT id, tenant_id, route_id, dedup_key, event_name FROM events")
        deliveries = tx.rows(
            """SELECT event_id, route_id, subscription_id, target_url, event_name,
                api_delivery_id, message_id, payload, status FROM deliveries"""
        )
        joined = tx.rows("SELECT id, status, joined_at FROM routes")
    return {
        "events": sorted(tuple(r.values()) for r in events),
        "deliveries": sorted(
            tuple(bytes(v) if isinstance(v, memoryview) else v for v in r.values())
            for r in deliveries
        ),
        "routes": sorted(tuple(r.values()) for r in joined),
    }


def test_a_batch_ends_exactly_as_storing_each_alone(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    alone_store = _open(backend, tmp_path / "alone.sqlite3", request)
    _setup(alone_store)
    alone: list[tuple[Any, ...]] = []
    for inbound in _inbounds():
        try:
            alone.append(_outcome(alone_store.write(inbound)))
        except (ingest.RouteNotFound, ingest.RouteEnded) as refused:
            alone.append(_outcome(refused))
    alone_rows = _stored(alone_store)
    alone_store.close()

    batch_store = _open(backend, tmp_path / "batch.sqlite3", request)
    _setup(batch_store)
    with batch_store.transaction() as tx:
        batched = [_outcome(r) for r in ingest.Inbound.run_batch(tx, _inbounds())]
    batch_rows = _stored(batch_store)
    batch_store.close()

    assert batched == alone
    assert batch_rows == alone_rows
    # The scenario covers what it claims to (so the comparison is not vacuous).
    assert [o[0] for o in alone if len(o) == 1] == ["RouteNotFound", "RouteEnded", "RouteNotFound"]
    assert alone[8] == ("evt_08", False, 1, False, False)
    assert alone[10] == ("evt_08", True, 0, False, False)  # duplicate of the route's copy
    assert alone[1][2] == 2  # the batch fanned out per job
    assert alone[2][2] == 0  # filtered out by the route's events
    assert alone[7][2] == 2  # sub_all and sub_video; sub_img filtered
    assert alone[9][4] is True  # the second arrival completed the join
    assert alone[11][2] == 0


class _Row(BatchWork[str]):
    """Inserts one tenant row and answers its name and the id of its transaction; a batch
    containing `bad` inserts everything, then raises; `broken` fails on a bad statement
    (PostgreSQL then refuses every later statement of the transaction)."""

    def __init__(self, name: str, bad: bool = False, broken: bool = False) -> None:
        self.name, self.bad, self.broken = name, bad, broken

    def __call__(self, tx: Tx) -> str:
        if self.broken:
            tx.rows("SELECT * FROM no_such_table")
        tx.run("INSERT INTO tenants (id, created_at) VALUES (?, ?)", self.name, time.time())
        if self.bad:
            raise ValueError(f"{self.name} fails half way")
        return f"{self.name}@{_txid(tx)}"

    @classmethod
    def run_batch(cls, tx: Tx, works: Sequence[Any]) -> list[str | Exception]:
        for work in works:
            tx.run("INSERT INTO tenants (id, created_at) VALUES (?, ?)", work.name, time.time())
        if any(work.bad or work.broken for work in works):
            raise RuntimeError("the batch failed after changing rows")
        txid = _txid(tx)
        return [f"{work.name}@{txid}" for work in works]


def _txid(tx: Tx) -> str:
    """The transaction's own id (PostgreSQL); SQLite has none to show."""
    if tx._storage.backend == "postgresql":
        row = tx.one("SELECT txid_current() AS t")
        assert row is not None
        return str(row["t"])
    return "sqlite"


def _grouped(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, wait: float = 30.0
) -> tuple[Storage, GroupCommit]:
    store = _open(backend, tmp_path / "relay.sqlite3", request)
    group = GroupCommit(store, wait=wait)
    store.writes = group
    return store, group


def _announced_group(store: Storage, works: Sequence[Any]) -> dict[str, object]:
    """Every work written from its own thread, all announced before any writes."""
    results: dict[str, object] = {}
    ready = threading.Barrier(len(works))

    def run(work: Any) -> None:
        with store.arriving():
            ready.wait()
            try:
                results[work.name] = store.write(work)
            except Exception as exc:
                results[work.name] = exc

    threads = [threading.Thread(target=run, args=(w,)) for w in works]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def _names(results: dict[str, object]) -> dict[str, str]:
    return {name: str(value).split("@")[0] for name, value in results.items()}


def test_announced_writers_share_one_transaction_and_one_commit(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store, group = _grouped(backend, tmp_path, request)
    before = group.commits
    results = _announced_group(store, [_Row(f"t{n}") for n in range(8)])
    assert _names(results) == {f"t{n}": f"t{n}" for n in range(8)}
    # Without gathering, eight threads racing for the lock commit in several groups.
    assert group.commits - before == 1
    assert len({str(value).split("@")[1] for value in results.values()}) == 1  # one txid
    store.close()


def test_without_group_commit_each_write_is_its_own_transaction(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store = _open(backend, tmp_path / "relay.sqlite3", request)
    assert store.writes is None
    results = _announced_group(store, [_Row(f"t{n}") for n in range(4)])
    assert _names(results) == {f"t{n}": f"t{n}" for n in range(4)}
    if backend == "postgres":  # the check above is not vacuous: ids do differ
        assert len({str(value).split("@")[1] for value in results.values()}) == 4
    store.close()


@pytest.mark.parametrize("failure", ["bad", "broken"])
def test_a_failing_batch_is_run_again_one_by_one(
    backend: str, failure: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store, _ = _grouped(backend, tmp_path, request)
    works: list[BatchWork[str]] = [
        _Row(f"t{n}", bad=failure == "bad" and n == 3, broken=failure == "broken" and n == 3)
        for n in range(6)
    ]
    results = _announced_group(store, works)
    assert isinstance(results.pop("t3"), Exception)
    assert _names(results) == {f"t{n}": f"t{n}" for n in range(6) if n != 3}
    with store.transaction(write=False) as tx:
        stored = sorted(r["id"] for r in tx.rows("SELECT id FROM tenants"))
    assert stored == [f"t{n}" for n in range(6) if n != 3]  # each once, the bad one never
    store.close()


class _Lookup:
    """A plain (not batch) work that fails on a bad statement before changing anything."""

    def __init__(self, name: str, broken: bool = False) -> None:
        self.name, self.broken = name, broken

    def __call__(self, tx: Tx) -> str:
        if self.broken:
            tx.rows("SELECT * FROM no_such_table")
        tx.run("INSERT INTO tenants (id, created_at) VALUES (?, ?)", self.name, time.time())
        return self.name


def test_a_work_whose_statement_fails_does_not_fail_its_group(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """PostgreSQL refuses every statement after a failed one in the same transaction: the
    group runs again without the failed work, so its neighbours are stored."""
    store, _ = _grouped(backend, tmp_path, request)
    results = _announced_group(
        store,
        [_Lookup(f"t{n}", broken=n == 0) for n in range(5)],
    )
    assert isinstance(results.pop("t0"), Exception)
    assert results == {f"t{n}": f"t{n}" for n in range(1, 5)}
    store.close()


def test_a_leader_waits_for_an_announced_writer_only_while_it_is_on_its_way(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store, _ = _grouped(backend, tmp_path, request)
    leave = threading.Event()
    entered = threading.Event()

    def on_its_way_then_refused() -> None:  # e.g. a webhook whose signature is bad
        with store.arriving():
            entered.set()
            leave.wait(30)

    other = threading.Thread(target=on_its_way_then_refused)
    other.start()
    entered.wait(5)
    done = threading.Event()

    def writer() -> None:
        with store.arriving():
            store.write(_Row("t1"))
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    assert not done.wait(0.3)  # gathering: the other announced writer may still come
    leave.set()  # it leaves without writing: the leader stops waiting at once
    assert done.wait(5)
    thread.join(5)
    other.join(5)
    store.close()


def test_the_group_commit_and_its_wait_come_from_the_config(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'relay.sqlite3'}"
    config = RelayConfig.from_env({"RELAY_DATABASE_URL": url, "RELAY_GROUP_WAIT": "7ms"})
    store = open_storage(config)
    assert isinstance(store.writes, GroupCommit)
    assert store.writes.wait == 0.007
    store.close()
    store = open_storage(config.with_(group_commit=False))
    assert store.writes is None
    store.close()


def test_a_write_without_announcement_does_not_wait(tmp_path: Path) -> None:
    store = SqliteStorage(tmp_path / "relay.sqlite3")
    store.writes = GroupCommit(store, wait=30.0)
    store.migrate()
    assert store.write(_Row("t1")) == "t1@sqlite"  # returns at once: nobody was announced
    store.close()


def test_no_writer_of_a_group_hears_done_before_its_commit(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Each writer, the moment `write` returns, finds its row from another connection:
    a group never wakes its writers before the COMMIT that holds their work."""
    store, group = _grouped(backend, tmp_path, request, wait=0.05)
    check = _open(backend, tmp_path / "relay.sqlite3", request)  # the same database
    unseen: list[str] = []
    ready = threading.Barrier(16)

    def run(n: int) -> None:
        with store.arriving():
            ready.wait()
            store.write(_Row(f"t{n}"))
        with check.transaction(write=False) as tx:  # a connection of another storage
            if tx.one("SELECT id FROM tenants WHERE id = ?", f"t{n}") is None:
                unseen.append(f"t{n}")

    threads = [threading.Thread(target=run, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert unseen == []
    assert group.commits < 16  # they did share commits
    check.close()
    store.close()
