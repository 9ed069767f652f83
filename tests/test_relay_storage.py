"""Relay storage, one suite over both backends (SQLite file, PostgreSQL schema)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from connector.relay.storage import (
    Attempt,
    AttemptResult,
    Claim,
    Delivery,
    DeliveryFilter,
    DeliveryStatus,
    Event,
    JoinItem,
    Route,
    RouteStatus,
    Storage,
    Subscription,
    SubscriptionStatus,
    Tx,
    new_id,
)
from connector.relay.storage.postgres import PostgresStorage
from connector.relay.storage.schema import MIGRATIONS
from connector.relay.storage.sqlite import SqliteStorage
from connector.relay.testing import PG_URL, empty

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    store: Storage
    if request.param == "sqlite":
        store = SqliteStorage(tmp_path / "relay.sqlite3")
        store.migrate()
    else:
        store = PostgresStorage(PG_URL, schema=request.getfixturevalue("pg_schema"))
        empty(store)
    yield store
    store.close()


def _route(tenant: str = "t1", **changes: object) -> Route:
    now = time.time()
    values: dict[str, object] = {
        "id": new_id("rt"),
        "tenant_id": tenant,
        "target_url": "https://example.com/hook",
        "secret_sealed": "sealed",
        "created_at": now,
        "expires_at": now + 3600,
    }
    values.update(changes)
    return Route(**values)  # type: ignore[arg-type]


def _sub(tenant: str = "t1", **changes: object) -> Subscription:
    values: dict[str, object] = {
        "id": new_id("sub"),
        "tenant_id": tenant,
        "target_url": "https://example.com/sub",
        "secret_sealed": "sealed",
        "created_at": time.time(),
    }
    values.update(changes)
    return Subscription(**values)  # type: ignore[arg-type]


def _event(
    storage: Storage, tenant: str = "t1", key: str | None = None, body: bytes = b"{}"
) -> str | None:
    event_id = new_id("evt")
    with storage.transaction() as tx:
        stored = tx.insert_events(
            [
                Event(
                    id=event_id,
                    tenant_id=tenant,
                    route_id=None,
                    dedup_key=key or new_id("k"),
                    event_name="video.generation.completed",
                    delivery_id="vgen_1",
                    body=body,
                    headers={"X-CreativeAI-Event": "video.generation.completed"},
                    received_at=time.time(),
                )
            ]
        )
    return event_id if stored else None


def _delivery(
    storage: Storage,
    tenant: str = "t1",
    route_id: str | None = None,
    subscription_id: str | None = None,
    due: float | None = None,
    event: str = "video.generation.completed",
    created_at: float | None = None,
) -> Delivery:
    event_id = _event(storage, tenant)
    now = created_at or time.time()
    d = Delivery(
        id=new_id("dlv"),
        tenant_id=tenant,
        target_url="https://example.com/hook",
        event_name=event,
        api_delivery_id="vgen_1",
        message_id=event_id or "m",
        received_at=now,
        created_at=now,
        next_attempt_at=now if due is None else due,
        event_id=event_id,
        route_id=route_id,
        subscription_id=subscription_id,
    )
    with storage.transaction() as tx:
        tx.insert_delivery(d)
    return d


def _finish(
    storage: Storage,
    claim: Claim,
    status: DeliveryStatus,
    next_at: float | None = None,
    **kw: Any,
) -> bool:
    attempt = Attempt(
        delivery_id=claim.delivery.id,
        number=claim.delivery.attempts + 1,
        started_at=time.time(),
        duration_ms=1.0,
        outcome="http_error",
        status_code=503,
        error="HTTP 503",
        response_excerpt="busy",
    )
    return storage.finish_attempt(claim, AttemptResult(attempt, status, next_at, **kw), time.time())


def test_migrate_is_idempotent_and_reports_the_version(storage: Storage) -> None:
    assert storage.migrate() == len(MIGRATIONS)
    assert storage.migrate() == len(MIGRATIONS)
    with storage.transaction(write=False) as tx:
        rows = tx.rows("SELECT version FROM relay_schema ORDER BY version")
    assert [r["version"] for r in rows] == list(range(1, len(MIGRATIONS) + 1))
    storage.ping()


def test_events_keep_the_raw_body_verbatim_and_dedup_per_tenant(storage: Storage) -> None:
    raw = b'{ "id" : "vgen_1",\n "status":"completed", "note": "caf\xc3\xa9 \\u00e9" }  '
    first = _event(storage, "t1", key="vgen_1:completed", body=raw)
    assert first is not None
    assert _event(storage, "t1", key="vgen_1:completed") is None
    assert _event(storage, "t2", key="vgen_1:completed") is not None
    stored = storage.event_body("t1", first)
    assert stored is not None
    assert stored[0] == raw
    assert stored[1] == {"X-CreativeAI-Event": "video.generation.completed"}
    assert storage.event_body("t2", first) is None  # another tenant cannot read it
    with storage.transaction() as tx:
        assert tx.event_id_by_dedup("t1", "vgen_1:completed") == first


def test_routes_and_subscriptions_round_trip_and_stay_with_their_tenant(storage: Storage) -> None:
    route = _route(events=("video.*",), expect=3, expected_ids=("a", "b"), deadline_at=5.0)
    storage.create_route(route)
    assert storage.get_route(route.id, "t1") == route
    assert storage.get_route(route.id, "t2") is None
    assert storage.get_route(route.id) == route
    sub = _sub(events=("video.generation.completed",), fan_out_batch=True, accept_409=False)
    storage.create_subscription(sub)
    assert storage.get_subscription("t1", sub.id) == sub
    assert storage.get_subscription("t2", sub.id) is None
    assert storage.list_subscriptions("t1") == [sub]
    assert storage.list_subscriptions("t2") == []
    assert not storage.delete_subscription("t2", sub.id, time.time())
    assert storage.delete_subscription("t1", sub.id, time.time())
    assert not storage.delete_subscription("t1", sub.id, time.time())
    assert storage.list_subscriptions("t1") == []
    ended = storage.list_subscriptions("t1", include_ended=True)
    assert [s.status for s in ended] == [SubscriptionStatus.DELETED]


def test_claim_takes_only_due_deliveries_and_leases_them(storage: Storage) -> None:
    now = time.time()
    due = _delivery(storage, due=now - 1)
    later = _delivery(storage, due=now + 60)
    claims = storage.claim_due(now, 10, lease=30)
    assert [c.delivery.id for c in claims] == [due.id]
    claim = claims[0]
    assert claim.delivery.status is DeliveryStatus.DELIVERING
    assert claim.body == b"{}"
    assert claim.headers == {"X-CreativeAI-Event": "video.generation.completed"}
    assert storage.claim_due(now, 10, lease=30) == []  # leased: nobody else takes it
    assert storage.next_due_at() == pytest.approx(now + 30, abs=1)
    # The lease lapses (a worker died): the delivery is claimable again.
    again = storage.claim_due(now + 31, 10, lease=30)
    assert {c.delivery.id for c in again} == {due.id}
    assert later.id not in {c.delivery.id for c in again}


def test_a_lapsed_claim_cannot_move_the_delivery_but_its_attempt_is_kept(storage: Storage) -> None:
    now = time.time()
    d = _delivery(storage, due=now - 1)
    (stale,) = storage.claim_due(now, 1, lease=1)
    (fresh,) = storage.claim_due(now + 2, 1, lease=30)
    assert not _finish(storage, stale, DeliveryStatus.SUCCEEDED)
    assert storage.get_delivery("t1", d.id).status is DeliveryStatus.DELIVERING  # type: ignore[union-attr]
    assert _finish(storage, fresh, DeliveryStatus.PENDING, now + 5)
    current = storage.get_delivery("t1", d.id)
    assert current is not None
    assert current.status is DeliveryStatus.PENDING
    assert current.attempts == 1
    assert len(storage.attempts(d.id)) == 2


def test_concurrent_claimers_never_share_a_delivery(storage: Storage) -> None:
    now = time.time()
    made = {_delivery(storage, due=now - 1).id for _ in range(40)}
    taken: list[str] = []
    lock = threading.Lock()

    def claimer() -> None:
        while True:
            claims = storage.claim_due(time.time(), 3, lease=60)
            if not claims:
                return
            with lock:
                taken.extend(c.delivery.id for c in claims)

    threads = [threading.Thread(target=claimer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == sorted(made)


def test_finish_records_the_attempt_and_a_410_ends_the_route(storage: Storage) -> None:
    route = _route()
    storage.create_route(route)
    first = _delivery(storage, route_id=route.id)
    second = _delivery(storage, route_id=route.id, due=time.time() + 100)
    (claim,) = storage.claim_due(time.time(), 1, lease=30)
    assert claim.delivery.id == first.id
    assert _finish(storage, claim, DeliveryStatus.CANCELED, end_route=route.id, reason="gone")
    ended = storage.get_route(route.id)
    assert ended is not None
    assert ended.status is RouteStatus.ENDED
    assert ended.ended_reason == "gone"
    other = storage.get_delivery("t1", second.id)
    assert other is not None
    assert other.status is DeliveryStatus.CANCELED
    (attempt,) = storage.attempts(first.id)
    assert (attempt.number, attempt.status_code, attempt.response_excerpt) == (1, 503, "busy")


def test_a_410_removes_the_subscription(storage: Storage) -> None:
    sub = _sub()
    storage.create_subscription(sub)
    _delivery(storage, subscription_id=sub.id)
    (claim,) = storage.claim_due(time.time(), 1, lease=30)
    _finish(storage, claim, DeliveryStatus.CANCELED, end_subscription=sub.id)
    gone = storage.get_subscription("t1", sub.id)
    assert gone is not None
    assert gone.status is SubscriptionStatus.GONE
    assert storage.list_subscriptions("t1") == []


def test_delivery_log_filters_pages_and_isolates_tenants(storage: Storage) -> None:
    base = time.time() - 100
    made = [_delivery(storage, created_at=base + i) for i in range(5)]
    _delivery(storage, event="video.generation.failed", created_at=base + 10)
    _delivery(storage, tenant="t2")
    page = storage.list_deliveries("t1", DeliveryFilter(limit=2))
    assert len(page.items) == 2
    seen = [d.id for d in page.items]
    while page.next_cursor:
        page = storage.list_deliveries("t1", DeliveryFilter(limit=2, cursor=page.next_cursor))
        seen += [d.id for d in page.items]
    assert len(seen) == 6
    assert seen == sorted(seen, reverse=True)  # newest first
    failed = storage.list_deliveries("t1", DeliveryFilter(event="video.generation.failed"))
    assert len(failed.items) == 1
    window = storage.list_deliveries("t1", DeliveryFilter(since=base + 1, until=base + 3))
    assert [d.id for d in window.items] == [made[2].id, made[1].id]
    pending = storage.list_deliveries("t1", DeliveryFilter(statuses=(DeliveryStatus.PENDING,)))
    assert len(pending.items) == 6
    dead = storage.list_deliveries("t1", DeliveryFilter(statuses=(DeliveryStatus.DEAD,)))
    assert dead.items == []
    assert storage.get_delivery("t2", made[0].id) is None


def test_retry_and_replay_put_finished_deliveries_back(storage: Storage) -> None:
    now = time.time()
    one = _delivery(storage, created_at=now - 50)
    two = _delivery(storage, created_at=now - 10)
    for claim in storage.claim_due(now, 10, lease=30):
        _finish(storage, claim, DeliveryStatus.DEAD)
    assert storage.counts() == {"dead": 2}
    retried = storage.retry_delivery("t1", one.id, now)
    assert retried is not None
    assert (retried.status, retried.run_attempts, retried.attempts) == (
        DeliveryStatus.PENDING,
        0,
        1,
    )
    assert storage.retry_delivery("t2", one.id, now) is None
    assert storage.replay("t2", now - 100, None, [DeliveryStatus.DEAD], now) == 0
    assert storage.replay("t1", now - 20, None, [DeliveryStatus.DEAD], now) == 1
    assert storage.get_delivery("t1", two.id).status is DeliveryStatus.PENDING  # type: ignore[union-attr]
    assert storage.counts() == {"pending": 2}


def test_join_items_are_distinct_and_a_join_closes_once(storage: Storage) -> None:
    route = _route(expect=2, deadline_at=time.time() - 1)
    storage.create_route(route)
    assert storage.due_joins(time.time()) == [route.id]
    with storage.transaction() as tx:
        assert tx.add_join_item(route.id, JoinItem("a", "evt_1", b"{}", 1.0))
        assert not tx.add_join_item(route.id, JoinItem("a", "evt_2", b"{}", 2.0))
        assert tx.add_join_item(route.id, JoinItem("b", "evt_3", b"{}", 3.0))
    assert storage.join_item_ids(route.id) == ["a", "b"]
    with storage.transaction() as tx:
        assert tx.mark_joined(route.id, time.time())
        assert not tx.mark_joined(route.id, time.time())
    assert storage.due_joins(time.time()) == []
    updated = storage.add_expected_ids("t1", route.id, ["x", "a", "x"])
    assert updated is not None
    assert updated.expected_ids == ("x", "a")
    assert storage.add_expected_ids("t2", route.id, ["y"]) is None


def test_deleting_a_route_cancels_its_open_deliveries(storage: Storage) -> None:
    route = _route()
    storage.create_route(route)
    d = _delivery(storage, route_id=route.id)
    assert not storage.delete_route("t2", route.id, time.time())
    assert storage.delete_route("t1", route.id, time.time())
    assert storage.get_delivery("t1", d.id).status is DeliveryStatus.CANCELED  # type: ignore[union-attr]
    assert storage.claim_due(time.time(), 10, lease=30) == []


def test_concurrent_writes_commit_independently(storage: Storage) -> None:
    """`write` may commit several callers' work together (SQLite group commit): each one's
    work is done, or fails alone, and only a committed result is ever returned."""
    results: dict[int, object] = {}

    def work(n: int) -> None:
        def insert(tx: Tx) -> str:
            tx.run("INSERT INTO tenants (id, created_at) VALUES (?, ?)", f"tenant-{n}", time.time())
            if n % 5 == 0:
                raise ValueError(f"work {n} fails")
            return f"tenant-{n}"

        try:
            results[n] = storage.write(insert)
        except ValueError as exc:
            results[n] = exc

    threads = [threading.Thread(target=work, args=(n,)) for n in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with storage.transaction(write=False) as tx:
        stored = {r["id"] for r in tx.rows("SELECT id FROM tenants")}
    assert stored == {f"tenant-{n}" for n in range(40) if n % 5}
    assert all(isinstance(results[n], ValueError) for n in range(0, 40, 5))
    assert all(results[n] == f"tenant-{n}" for n in range(40) if n % 5)


def test_ids_increase_are_unique_and_random_within_a_millisecond() -> None:
    made = [new_id("dlv") for _ in range(20000)]
    assert made == sorted(made) and len(set(made)) == len(made)
    assert all(i.startswith("dlv_") and len(i) == 28 for i in made)
    by_ms: dict[str, list[int]] = {}
    for i in made:
        by_ms.setdefault(i[4:16], []).append(int(i[16:], 16))
    steps = [b - a for tails in by_ms.values() for a, b in pairwise(tails)]
    assert steps and all(1 <= s <= 1 << 16 for s in steps)
    assert len(set(steps)) > len(steps) // 2  # random steps, not a counter
    firsts = [tails[0] for tails in by_ms.values()]
    assert len(set(firsts)) == len(firsts)  # each millisecond starts at a random tail


# -- the structure: a plain path, each acceleration behind its own setting --------------------


def _storage_imports() -> dict[str, set[str]]:
    """Which storage modules each storage module imports (at the top or inside a function)."""
    import ast

    package = Path(__file__).resolve().parents[1] / "connector" / "relay" / "storage"
    prefix = "connector.relay.storage"
    graph: dict[str, set[str]] = {}
    for source in package.glob("*.py"):
        name = prefix if source.stem == "__init__" else f"{prefix}.{source.stem}"
        found: set[str] = set()
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        graph[name] = {m for m in found if m.startswith(prefix + ".") and m != name}
    return graph


def test_the_plain_path_imports_no_acceleration() -> None:
    # (No import cycles anywhere in connector/: tests/test_import_cycles.py.)
    graph = _storage_imports()
    assert "connector.relay.storage.group" in graph  # the scan sees the modules
    # The plain path knows no acceleration above it.
    assert "connector.relay.storage.group" not in graph["connector.relay.storage.sqlite"]
    assert "connector.relay.storage.group" not in graph["connector.relay.storage.postgres"]


def test_group_commit_is_behind_its_own_setting(tmp_path: Path) -> None:
    from connector.relay.config import RelayConfig
    from connector.relay.storage import open_storage
    from connector.relay.storage.group import GroupCommit

    url = f"sqlite:///{tmp_path / 'relay.sqlite3'}"
    seen = {}
    for setting in ("false", "true"):
        env = {"RELAY_DATABASE_URL": url, "RELAY_GROUP_COMMIT": setting}
        store = open_storage(RelayConfig.from_env(env))
        assert isinstance(store, SqliteStorage)
        seen[setting] = type(store.writes).__name__ if store.writes else None
        store.write(lambda tx: tx.run("INSERT INTO tenants (id, created_at) VALUES ('t', 1)"))
        store.close()
        (tmp_path / "relay.sqlite3").unlink()
    assert seen == {"false": None, "true": GroupCommit.__name__}


@pytest.mark.postgres
def test_postgres_takes_group_commit_by_default(pg_schema: str) -> None:
    from connector.relay.config import RelayConfig
    from connector.relay.storage import open_storage
    from connector.relay.storage.group import GroupCommit

    env = {"RELAY_DATABASE_URL": PG_URL, "RELAY_DATABASE_SCHEMA": pg_schema}
    env["RELAY_TOKEN_KEYS"] = "x" * 43
    store = open_storage(RelayConfig.from_env(env))
    assert isinstance(store, PostgresStorage) and isinstance(store.writes, GroupCommit)
    store.close()
    store = open_storage(RelayConfig.from_env({**env, "RELAY_GROUP_COMMIT": "false"}))
    assert store.writes is None
    store.close()


def test_numbered_placeholders_number_each_mark_in_order() -> None:
    from connector.relay.storage.postgres import numbered_placeholders

    assert numbered_placeholders("SELECT 1") == "SELECT 1"
    sql = "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"
    assert numbered_placeholders(sql) == "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"


@pytest.mark.postgres
def test_postgres_sends_statements_as_written_however_many_rows(
    pg_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group commit's multi-row INSERT has hundreds of parameters: psycopg's own `%s`
    parsing (a regular expression over the statement on every execution past 50
    parameters) is never used, and values that look like placeholders stay values."""
    from psycopg import _queries

    def refused(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("psycopg parsed the statement's placeholders")

    store = PostgresStorage(PG_URL, schema=pg_schema)
    empty(store)
    monkeypatch.setattr(_queries.PostgresQuery, "convert", refused)
    odd = ["?", "%s", "$1", "%(x)s", "%%", "a ? b $2 %s"]
    events = [
        Event(
            new_id("evt"),
            "t1",
            None,
            f"vgen_{i}:completed",
            "video.generation.completed",
            f"vgen_{i}",
            odd[i % len(odd)].encode(),
            {"X-CreativeAI-Event": odd[i % len(odd)]},
            time.time(),
        )
        for i in range(64)
    ]
    with store.transaction() as tx:
        assert tx.insert_events(events) == {e.id for e in events}
    for event in events:
        stored = store.event_body("t1", event.id)
        assert stored == (event.body, event.headers)
    store.close()
