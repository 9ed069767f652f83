"""The storage interface, written once in SQL for both backends.

`Storage` holds the queries; a backend (`SqliteStorage`, `PostgresStorage`) supplies
connections, transactions and the few phrases the dialects spell differently. SQL here
uses `?` placeholders; the PostgreSQL backend turns them into `%s`.

Work that must be atomic (an inbound event with all its deliveries) runs in
`with storage.transaction() as tx:` through the `Tx` primitives.
"""

from __future__ import annotations

import json
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar

from connector.relay.storage.rows import (
    Attempt,
    AttemptResult,
    Claim,
    Delivery,
    DeliveryFilter,
    DeliveryStatus,
    Event,
    JoinItem,
    LedgerEntry,
    Page,
    Route,
    RouteStatus,
    Subscription,
    SubscriptionStatus,
    dump_list,
    load_list,
)
from connector.relay.storage.schema import MIGRATIONS, VERSION_TABLE, Types, statements

Row = dict[str, Any]
T = TypeVar("T")

_OPEN = (DeliveryStatus.PENDING.value, DeliveryStatus.DELIVERING.value)

#: Most rows in one multi-row INSERT (17 columns: far below either database's parameter limit).
BATCH_ROWS = 200


def _chunks(items: Sequence[T]) -> list[Sequence[T]]:
    return [items[i : i + BATCH_ROWS] for i in range(0, len(items), BATCH_ROWS)]


@lru_cache(maxsize=256)
def _marks(count: int) -> str:
    """`?, ?, ?` for an IN list of `count` values."""
    return ", ".join("?" * count)


@lru_cache(maxsize=256)
def _values(columns: int, rows: int) -> str:
    """`(?, ?), (?, ?)`: the VALUES of a multi-row INSERT."""
    row = f"({_marks(columns)})"
    return ", ".join([row] * rows)


class BatchWork(ABC, Generic[T]):
    """A write that can be stored together with others of its kind in fewer statements.

    `storage.write(work)` runs it alone (`work(tx)`); group commit (`storage.group`), which
    commits several callers' work together, hands every queued work of one class to
    `run_batch` at once. `run_batch` answers each work's result, or the
    exception that work failed with *before changing anything* (its caller gets it
    raised); if it raises itself, those works run again one by one, so one bad work
    cannot fail the others.
    """

    @abstractmethod
    def __call__(self, tx: Tx) -> T: ...

    @classmethod
    @abstractmethod
    def run_batch(cls, tx: Tx, works: Sequence[Any]) -> list[T | Exception]: ...


@dataclass(frozen=True)
class FinishAttempt(BatchWork[bool]):
    """`Storage.finish_attempt` as a work: it shares the commits of the webhooks (group
    commit), so that one commit and one fsync serve both."""

    delivery_id: str
    claim_id: str
    result: AttemptResult
    now: float

    def __call__(self, tx: Tx) -> bool:
        result, now = self.result, self.now
        a = result.attempt
        terminal = result.status not in (DeliveryStatus.PENDING, DeliveryStatus.DELIVERING)
        moved = tx.run(
            """UPDATE deliveries SET status = ?, attempts = attempts + 1,
                run_attempts = run_attempts + 1, next_attempt_at = ?, claim_id = NULL,
                last_status_code = ?, last_error = ?, updated_at = ?, completed_at = ?
            WHERE id = ? AND claim_id = ?""",
            result.status.value,
            result.next_attempt_at,
            a.status_code,
            a.error,
            now,
            now if terminal else None,
            self.delivery_id,
            self.claim_id,
        )
        tx.run(
            """INSERT INTO attempts (delivery_id, number, started_at, duration_ms, outcome,
                status_code, error, response_excerpt)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            a.delivery_id,
            a.number,
            a.started_at,
            a.duration_ms,
            a.outcome,
            a.status_code,
            a.error,
            a.response_excerpt,
        )
        reason = result.reason or "target gone"
        if result.end_route:
            tx.run(
                """UPDATE routes SET status = ?, ended_reason = ?, ended_at = ?
                WHERE id = ? AND status = ?""",
                RouteStatus.ENDED.value,
                reason,
                now,
                result.end_route,
                RouteStatus.ACTIVE.value,
            )
            _cancel_open(tx, "route_id", result.end_route, reason, now)
        if result.end_subscription:
            tx.run(
                """UPDATE subscriptions SET status = ?, ended_reason = ?, ended_at = ?
                WHERE id = ? AND status = ?""",
                SubscriptionStatus.GONE.value,
                reason,
                now,
                result.end_subscription,
                SubscriptionStatus.ACTIVE.value,
            )
            _cancel_open(tx, "subscription_id", result.end_subscription, reason, now)
        return moved == 1

    @classmethod
    def run_batch(cls, tx: Tx, works: Sequence[Any]) -> list[bool | Exception]:
        return [work(tx) for work in works]


class Tx:
    """One open transaction. Only the methods below touch the database.

    It counts the statements that may have changed something (`changes`) and whether a
    statement failed (`broken`): group commit (`storage.group`) runs the work of several
    callers in one transaction and needs to know whether a failed work left a trace.
    """

    def __init__(self, storage: Storage, conn: Any) -> None:
        self._storage = storage
        self._conn = conn
        self.changes = 0
        self.broken = False

    def rows(self, sql: str, *params: Any) -> list[Row]:
        if sql.lstrip()[:6].upper() != "SELECT":  # INSERT ... RETURNING and the like
            self.changes += 1
        try:
            return self._storage.fetch(self._conn, sql, params)
        except BaseException:
            self.broken = True
            raise

    def one(self, sql: str, *params: Any) -> Row | None:
        found = self.rows(sql, *params)
        return found[0] if found else None

    def run(self, sql: str, *params: Any) -> int:
        self.changes += 1
        try:
            return self._storage.execute(self._conn, sql, params)
        except BaseException:
            self.broken = True
            raise

    # -- primitives of an inbound event --------------------------------------------------

    def lock_route(self, route_id: str) -> Route | None:
        """The route, locked until commit: a join route exclusively (its arrivals count one
        by one); any other in share mode, so events of one route are stored side by side
        while ending or deleting the route waits for them (and cancels what they stored)."""
        lock = self._storage.lock_clause
        if lock:
            peek = self.one("SELECT expect FROM routes WHERE id = ?", route_id)
            if peek is None:
                return None
            if peek["expect"] is None:  # set at creation, never changed: not a join route
                lock = self._storage.share_clause
        row = self.one("SELECT * FROM routes WHERE id = ?" + lock, route_id)
        return route_from(row) if row else None

    def insert_events(self, events: Sequence[Event]) -> set[str]:
        """Store events, a statement per `BATCH_ROWS`; returns the ids stored. An event whose
        tenant already has its dedup key (stored before, or earlier in `events`) is skipped."""
        stored: set[str] = set()
        for chunk in _chunks(events):
            params: list[Any] = []
            for e in chunk:
                params += (e.id, e.tenant_id, e.route_id, e.dedup_key, e.event_name)
                params += (e.delivery_id, e.body, json.dumps(e.headers), e.received_at)
            inserted = self.run(
                "INSERT INTO events (id, tenant_id, route_id, dedup_key, event_name, delivery_id,"
                f" body, headers, received_at) VALUES {_values(9, len(chunk))}"
                " ON CONFLICT (tenant_id, dedup_key) DO NOTHING",
                *params,
            )
            ids = [e.id for e in chunk]
            if inserted == len(chunk):  # the usual case: no duplicate, and no row to read
                stored.update(ids)
                continue
            found = self.rows(f"SELECT id FROM events WHERE id IN ({_marks(len(ids))})", *ids)
            stored.update(row["id"] for row in found)
        return stored

    def event_id_by_dedup(self, tenant_id: str, dedup_key: str) -> str | None:
        row = self.one(
            "SELECT id FROM events WHERE tenant_id = ? AND dedup_key = ?", tenant_id, dedup_key
        )
        return str(row["id"]) if row else None

    def active_subscriptions(self, tenant_id: str) -> list[Subscription]:
        return self.active_subscriptions_of([tenant_id]).get(tenant_id, [])

    def active_subscriptions_of(self, tenant_ids: Sequence[str]) -> dict[str, list[Subscription]]:
        """Each tenant's active subscriptions, in id order (tenants without any are absent)."""
        if not tenant_ids:
            return {}
        found = self.rows(
            f"SELECT * FROM subscriptions WHERE tenant_id IN ({_marks(len(tenant_ids))})"
            " AND status = ? ORDER BY tenant_id, id",
            *tenant_ids,
            SubscriptionStatus.ACTIVE.value,
        )
        by_tenant: dict[str, list[Subscription]] = {}
        for row in found:
            by_tenant.setdefault(row["tenant_id"], []).append(subscription_from(row))
        return by_tenant

    def share_plain_routes(self, route_ids: Sequence[str]) -> dict[str, Route]:
        """The routes among `route_ids` that are not join routes, each locked in share mode
        until commit (as `lock_route` locks them); unknown ids and join routes are absent."""
        if not route_ids:
            return {}
        found = self.rows(
            f"SELECT * FROM routes WHERE id IN ({_marks(len(route_ids))}) AND expect IS NULL"
            + self._storage.share_clause,
            *route_ids,
        )
        return {row["id"]: route_from(row) for row in found}

    def insert_delivery(self, d: Delivery) -> None:
        self.insert_deliveries([d])

    def insert_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        """Store new deliveries, a statement per `BATCH_ROWS`."""
        for chunk in _chunks(deliveries):
            params: list[Any] = []
            for d in chunk:
                params += (d.id, d.tenant_id, d.event_id, d.route_id, d.subscription_id)
                params += (d.target_url, d.event_name, d.api_delivery_id, d.message_id, d.payload)
                params += (d.status.value, d.attempts, d.run_attempts, d.next_attempt_at)
                params += (d.received_at, d.created_at, d.created_at)
            self.run(
                "INSERT INTO deliveries (id, tenant_id, event_id, route_id, subscription_id,"
                " target_url, event_name, api_delivery_id, message_id, payload, status, attempts,"
                " run_attempts, next_attempt_at, received_at, created_at, updated_at)"
                f" VALUES {_values(17, len(chunk))}",
                *params,
            )

    def add_join_item(self, route_id: str, item: JoinItem) -> bool:
        """False when the route already holds an item with this id."""
        inserted = self.rows(
            """INSERT INTO join_items (route_id, item_id, event_id, body, received_at)
            VALUES (?, ?, ?, ?, ?) ON CONFLICT (route_id, item_id) DO NOTHING RETURNING item_id""",
            route_id,
            item.item_id,
            item.event_id,
            item.body,
            item.received_at,
        )
        return bool(inserted)

    def join_items(self, route_id: str) -> list[JoinItem]:
        found = self.rows(
            "SELECT * FROM join_items WHERE route_id = ? ORDER BY received_at, item_id", route_id
        )
        return [
            JoinItem(
                item_id=r["item_id"],
                event_id=r["event_id"],
                body=bytes(r["body"]),
                received_at=r["received_at"],
            )
            for r in found
        ]

    def mark_joined(self, route_id: str, now: float) -> bool:
        """Close a join route once; False if it was already closed."""
        return (
            self.run(
                """UPDATE routes SET joined_at = ?, status = ?, ended_reason = ?, ended_at = ?
                WHERE id = ? AND joined_at IS NULL""",
                now,
                RouteStatus.ENDED.value,
                "joined",
                now,
                route_id,
            )
            == 1
        )


class WritePath(ABC):
    """How `Storage.write` commits, when not one transaction per call: group commit
    (`storage.group.GroupCommit`)."""

    @abstractmethod
    def write(self, work: Callable[[Tx], T]) -> T: ...

    def arriving(self) -> AbstractContextManager[None]:
        return nullcontext()

    def close(self) -> None:
        return None


class Storage(ABC):
    """Everything the relay keeps. Thread-safe: each call borrows its own connection."""

    #: Where `write` sends its work (see WritePath); None: one transaction per call.
    writes: WritePath | None = None
    types: Types
    lock_clause: str  # appended to a SELECT to lock its rows until commit
    share_clause: str  # the same in share mode: other readers may lock them too
    skip_locked_clause: str  # appended to the claim query

    # -- what a backend supplies ----------------------------------------------------------

    @abstractmethod
    def transaction(self, write: bool = True, durable: bool = True) -> AbstractContextManager[Tx]:
        """A transaction on a pooled connection; commits on success, rolls back on error.

        `durable=False`: the block may end before the commit is on disk, for changes that
        are safe to lose in a power cut (a claim: its lease lapses and the delivery is
        sent again, as after any crash); a later durable commit makes it durable too.
        """

    def write(self, work: Callable[[Tx], T]) -> T:
        """Run `work` in a write transaction and return its result once committed.

        With a write path (`writes`), the work of several concurrent callers may be
        committed together (one commit, one fsync); each caller's work still succeeds or
        fails on its own. `work` must touch the database only through `tx`: it may run
        more than once (a group runs again, without the failed work, when one work failed
        half way).
        """
        if self.writes is not None:
            return self.writes.write(work)
        with self.transaction() as tx:
            return work(tx)

    def arriving(self) -> AbstractContextManager[None]:
        """Announce a `write` this thread is about to make (an inbound webhook being
        verified), so a write path that commits in groups may wait for it to join the
        group being formed. Leave the block whether or not the write was made."""
        if self.writes is not None:
            return self.writes.arriving()
        return nullcontext()

    @abstractmethod
    def fetch(self, conn: Any, sql: str, params: Sequence[Any]) -> list[Row]: ...

    @abstractmethod
    def execute(self, conn: Any, sql: str, params: Sequence[Any]) -> int: ...

    @abstractmethod
    def _migration_lock(self, tx: Tx) -> None:
        """Serialize migrations between processes (inside the migration transaction)."""

    def close(self) -> None:
        """Stop the write path, then close the connections."""
        writes, self.writes = self.writes, None
        if writes is not None:
            writes.close()
        self._close()

    @abstractmethod
    def _close(self) -> None: ...

    @property
    @abstractmethod
    def backend(self) -> str: ...

    # -- schema ---------------------------------------------------------------------------

    def migrate(self) -> int:
        """Create or upgrade the schema; idempotent. Returns the schema version."""
        with self.transaction() as tx:
            self._migration_lock(tx)
            tx.run(VERSION_TABLE)
            row = tx.one("SELECT MAX(version) AS v FROM relay_schema")
            current = int(row["v"]) if row and row["v"] is not None else 0
            for version in range(current + 1, len(MIGRATIONS) + 1):
                for sql in statements(version, self.types):
                    tx.run(sql)
                tx.run("INSERT INTO relay_schema (version) VALUES (?)", version)
        return len(MIGRATIONS)

    def ping(self) -> None:
        """Raises when the database cannot answer a query."""
        with self.transaction(write=False) as tx:
            tx.one("SELECT 1 AS ok")

    # -- tenants, routes, subscriptions -----------------------------------------------------

    def ensure_tenant(self, tenant_id: str, now: float) -> None:
        with self.transaction() as tx:
            tx.run(
                "INSERT INTO tenants (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
                tenant_id,
                now,
            )

    def create_route(self, route: Route) -> None:
        with self.transaction() as tx:
            tx.run(
                "INSERT INTO tenants (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
                route.tenant_id,
                route.created_at,
            )
            tx.run(
                """INSERT INTO routes (id, tenant_id, target_url, events, status, accept_409,
                    fan_out_batch, expect, expected_ids, deadline_at, secret_sealed, created_at,
                    expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                route.id,
                route.tenant_id,
                route.target_url,
                dump_list(route.events),
                route.status.value,
                int(route.accept_409),
                int(route.fan_out_batch),
                route.expect,
                json.dumps(list(route.expected_ids)),
                route.deadline_at,
                route.secret_sealed,
                route.created_at,
                route.expires_at,
            )

    def get_route(self, route_id: str, tenant_id: str | None = None) -> Route | None:
        """The route; with `tenant_id`, only if it belongs to that tenant."""
        with self.transaction(write=False) as tx:
            row = tx.one("SELECT * FROM routes WHERE id = ?", route_id)
        if row is None or (tenant_id is not None and row["tenant_id"] != tenant_id):
            return None
        return route_from(row)

    def list_routes(self, tenant_id: str, limit: int = 100) -> list[Route]:
        with self.transaction(write=False) as tx:
            found = tx.rows(
                "SELECT * FROM routes WHERE tenant_id = ? ORDER BY id DESC LIMIT ?",
                tenant_id,
                limit,
            )
        return [route_from(r) for r in found]

    def delete_route(self, tenant_id: str, route_id: str, now: float) -> bool:
        """Stop a route: no new events, pending deliveries canceled. False if not found."""
        with self.transaction() as tx:
            changed = tx.run(
                """UPDATE routes SET status = ?, ended_reason = ?, ended_at = ?
                WHERE id = ? AND tenant_id = ? AND status != ?""",
                RouteStatus.DELETED.value,
                "deleted",
                now,
                route_id,
                tenant_id,
                RouteStatus.DELETED.value,
            )
            if changed:
                _cancel_open(tx, "route_id", route_id, "route deleted", now)
            return changed == 1

    def add_expected_ids(self, tenant_id: str, route_id: str, ids: Sequence[str]) -> Route | None:
        """Merge ids into a join route's expected set; None if the route is not the tenant's."""
        with self.transaction() as tx:
            row = tx.one("SELECT * FROM routes WHERE id = ?" + self.lock_clause, route_id)
            if row is None or row["tenant_id"] != tenant_id:
                return None
            merged = list(json.loads(row["expected_ids"]))
            merged += [i for i in dict.fromkeys(ids) if i not in merged]
            tx.run("UPDATE routes SET expected_ids = ? WHERE id = ?", json.dumps(merged), route_id)
            row = tx.one("SELECT * FROM routes WHERE id = ?", route_id)
        assert row is not None
        return route_from(row)

    def join_item_ids(self, route_id: str) -> list[str]:
        """The item ids a join route has received so far, in arrival order."""
        with self.transaction(write=False) as tx:
            return [item.item_id for item in tx.join_items(route_id)]

    def create_subscription(self, sub: Subscription) -> None:
        with self.transaction() as tx:
            tx.run(
                "INSERT INTO tenants (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
                sub.tenant_id,
                sub.created_at,
            )
            tx.run(
                """INSERT INTO subscriptions (id, tenant_id, target_url, events, status,
                    accept_409, fan_out_batch, secret_sealed, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                sub.id,
                sub.tenant_id,
                sub.target_url,
                dump_list(sub.events),
                sub.status.value,
                int(sub.accept_409),
                int(sub.fan_out_batch),
                sub.secret_sealed,
                sub.created_at,
            )

    def list_subscriptions(
        self, tenant_id: str, include_ended: bool = False, limit: int = 500
    ) -> list[Subscription]:
        with self.transaction(write=False) as tx:
            if include_ended:
                found = tx.rows(
                    "SELECT * FROM subscriptions WHERE tenant_id = ? ORDER BY id DESC LIMIT ?",
                    tenant_id,
                    limit,
                )
            else:
                found = tx.rows(
                    """SELECT * FROM subscriptions WHERE tenant_id = ? AND status = ?
                    ORDER BY id DESC LIMIT ?""",
                    tenant_id,
                    SubscriptionStatus.ACTIVE.value,
                    limit,
                )
        return [subscription_from(r) for r in found]

    def get_subscription(self, tenant_id: str, sub_id: str) -> Subscription | None:
        with self.transaction(write=False) as tx:
            row = tx.one(
                "SELECT * FROM subscriptions WHERE id = ? AND tenant_id = ?", sub_id, tenant_id
            )
        return subscription_from(row) if row else None

    def delete_subscription(self, tenant_id: str, sub_id: str, now: float) -> bool:
        """Unsubscribe: no new deliveries, open ones canceled. False if not found/active."""
        with self.transaction() as tx:
            changed = tx.run(
                """UPDATE subscriptions SET status = ?, ended_reason = ?, ended_at = ?
                WHERE id = ? AND tenant_id = ? AND status = ?""",
                SubscriptionStatus.DELETED.value,
                "unsubscribed",
                now,
                sub_id,
                tenant_id,
                SubscriptionStatus.ACTIVE.value,
            )
            if changed:
                _cancel_open(tx, "subscription_id", sub_id, "unsubscribed", now)
            return changed == 1

    # -- forwarding -----------------------------------------------------------------------------

    def claim_due(self, now: float, limit: int, lease: float) -> list[Claim]:
        """Take up to `limit` due deliveries (pending, or delivering with a lapsed lease).

        Each is marked `delivering` with a lease of `lease` seconds, so a worker that dies
        mid-attempt gives its deliveries back when the lease runs out.
        """
        claim_id = secrets.token_hex(8)
        with self.transaction(durable=False) as tx:  # a lost claim is sent again
            claimed = tx.rows(
                f"""UPDATE deliveries SET status = ?, claim_id = ?, next_attempt_at = ?,
                    updated_at = ?
                WHERE id IN (
                    SELECT id FROM deliveries
                    WHERE status IN (?, ?) AND next_attempt_at <= ?
                    ORDER BY next_attempt_at LIMIT ?{self.skip_locked_clause}
                ) RETURNING id""",
                DeliveryStatus.DELIVERING.value,
                claim_id,
                now + lease,
                now,
                *_OPEN,
                now,
                limit,
            )
            if not claimed:
                return []
            ids = [r["id"] for r in claimed]
            marks = ", ".join("?" for _ in ids)
            found = tx.rows(
                f"""SELECT d.*, e.body AS event_body, e.headers AS event_headers,
                    r.secret_sealed AS route_secret, r.accept_409 AS route_409,
                    s.secret_sealed AS sub_secret, s.accept_409 AS sub_409
                FROM deliveries d
                LEFT JOIN events e ON e.id = d.event_id
                LEFT JOIN routes r ON r.id = d.route_id
                LEFT JOIN subscriptions s ON s.id = d.subscription_id
                WHERE d.id IN ({marks}) ORDER BY d.next_attempt_at, d.id""",
                *ids,
            )
        claims = []
        for row in found:
            body = row["payload"] if row["payload"] is not None else row["event_body"]
            sealed = row["route_secret"] or row["sub_secret"]
            accept = row["route_409"] if row["route_id"] else row["sub_409"]
            claims.append(
                Claim(
                    delivery=delivery_from(row),
                    claim_id=claim_id,
                    body=bytes(body or b""),
                    headers=json.loads(row["event_headers"] or "{}"),
                    secret_sealed=str(sealed or ""),
                    accept_409=bool(accept),
                )
            )
        return claims

    def finish_attempt(self, claim: Claim, result: AttemptResult, now: float) -> bool:
        """Record an attempt and move the delivery on, in one transaction.

        Returns False when the claim had lapsed and another worker holds the delivery:
        the attempt is still recorded, the delivery's state is left to that worker.
        """
        return self.write(FinishAttempt(claim.delivery.id, claim.claim_id, result, now))

    def release(self, claim: Claim, now: float) -> None:
        """Give a claimed delivery back untried (e.g. on shutdown)."""
        with self.transaction(durable=False) as tx:
            tx.run(
                """UPDATE deliveries SET status = ?, claim_id = NULL, next_attempt_at = ?,
                    updated_at = ?
                WHERE id = ? AND claim_id = ?""",
                DeliveryStatus.PENDING.value,
                now,
                now,
                claim.delivery.id,
                claim.claim_id,
            )

    def next_due_at(self) -> float | None:
        with self.transaction(write=False) as tx:
            row = tx.one(
                "SELECT MIN(next_attempt_at) AS t FROM deliveries WHERE status IN (?, ?)", *_OPEN
            )
        return float(row["t"]) if row and row["t"] is not None else None

    def due_joins(self, now: float, limit: int = 100) -> list[str]:
        """Join routes whose deadline passed before all their items arrived."""
        with self.transaction(write=False) as tx:
            found = tx.rows(
                """SELECT id FROM routes WHERE expect IS NOT NULL AND joined_at IS NULL
                AND deadline_at <= ? AND status = ? ORDER BY deadline_at LIMIT ?""",
                now,
                RouteStatus.ACTIVE.value,
                limit,
            )
        return [str(r["id"]) for r in found]

    def next_join_deadline(self) -> float | None:
        with self.transaction(write=False) as tx:
            row = tx.one(
                """SELECT MIN(deadline_at) AS t FROM routes
                WHERE expect IS NOT NULL AND joined_at IS NULL AND status = ?""",
                RouteStatus.ACTIVE.value,
            )
        return float(row["t"]) if row and row["t"] is not None else None

    # -- the delivery log -------------------------------------------------------------------

    def list_deliveries(self, tenant_id: str, flt: DeliveryFilter) -> Page:
        """Newest first; `next_cursor` is set when another page follows."""
        where = ["tenant_id = ?"]
        params: list[Any] = [tenant_id]
        if flt.statuses:
            where.append("status IN (" + ", ".join("?" for _ in flt.statuses) + ")")
            params += [s.value for s in flt.statuses]
        for column, value in (
            ("event_name = ?", flt.event),
            ("route_id = ?", flt.route_id),
            ("subscription_id = ?", flt.subscription_id),
            ("created_at >= ?", flt.since),
            ("created_at < ?", flt.until),
            ("id < ?", flt.cursor),
        ):
            if value is not None:
                where.append(column)
                params.append(value)
        with self.transaction(write=False) as tx:
            found = tx.rows(
                f"""SELECT * FROM deliveries WHERE {" AND ".join(where)}
                ORDER BY id DESC LIMIT ?""",
                *params,
                flt.limit + 1,
            )
        items = [delivery_from(r) for r in found[: flt.limit]]
        more = len(found) > flt.limit
        return Page(items=items, next_cursor=items[-1].id if more and items else None)

    def get_delivery(self, tenant_id: str, delivery_id: str) -> Delivery | None:
        with self.transaction(write=False) as tx:
            row = tx.one(
                "SELECT * FROM deliveries WHERE id = ? AND tenant_id = ?", delivery_id, tenant_id
            )
        return delivery_from(row) if row else None

    def attempts(self, delivery_id: str) -> list[Attempt]:
        with self.transaction(write=False) as tx:
            found = tx.rows(
                "SELECT * FROM attempts WHERE delivery_id = ? ORDER BY number, id", delivery_id
            )
        return [
            Attempt(
                delivery_id=r["delivery_id"],
                number=r["number"],
                started_at=r["started_at"],
                duration_ms=r["duration_ms"],
                outcome=r["outcome"],
                status_code=r["status_code"],
                error=r["error"],
                response_excerpt=r["response_excerpt"],
            )
            for r in found
        ]

    def event_body(self, tenant_id: str, event_id: str) -> tuple[bytes, dict[str, str]] | None:
        with self.transaction(write=False) as tx:
            row = tx.one(
                "SELECT body, headers FROM events WHERE id = ? AND tenant_id = ?",
                event_id,
                tenant_id,
            )
        return (bytes(row["body"]), json.loads(row["headers"])) if row else None

    def retry_delivery(self, tenant_id: str, delivery_id: str, now: float) -> Delivery | None:
        """Send again now, with a fresh schedule. None if not found; unchanged if in flight."""
        with self.transaction() as tx:
            tx.run(
                """UPDATE deliveries SET status = ?, next_attempt_at = ?, run_attempts = 0,
                    claim_id = NULL, updated_at = ?, completed_at = NULL
                WHERE id = ? AND tenant_id = ? AND status != ?""",
                DeliveryStatus.PENDING.value,
                now,
                now,
                delivery_id,
                tenant_id,
                DeliveryStatus.DELIVERING.value,
            )
            row = tx.one(
                "SELECT * FROM deliveries WHERE id = ? AND tenant_id = ?", delivery_id, tenant_id
            )
        return delivery_from(row) if row else None

    def replay(
        self,
        tenant_id: str,
        since: float,
        until: float | None,
        statuses: Sequence[DeliveryStatus],
        now: float,
    ) -> int:
        """Put every matching finished delivery back in the queue; returns how many."""
        marks = ", ".join("?" for _ in statuses)
        bound = "" if until is None else " AND created_at < ?"
        with self.transaction() as tx:
            return tx.run(
                f"""UPDATE deliveries SET status = ?, next_attempt_at = ?, run_attempts = 0,
                    claim_id = NULL, updated_at = ?, completed_at = NULL
                WHERE tenant_id = ? AND status IN ({marks}) AND created_at >= ?{bound}""",
                DeliveryStatus.PENDING.value,
                now,
                now,
                tenant_id,
                *[s.value for s in statuses],
                since,
                *([] if until is None else [until]),
            )

    # -- the record-key ledger ---------------------------------------------------------------

    def get_ledger(
        self, tenant_id: str, operation: str, key: str, now: float
    ) -> LedgerEntry | None:
        """The tenant's entry for `key` of `operation`, unless there is none or it expired."""
        with self.transaction(write=False) as tx:
            row = tx.one(
                """SELECT * FROM ledger WHERE tenant_id = ? AND operation = ? AND record_key = ?
                AND expires_at > ?""",
                tenant_id,
                operation,
                key,
                now,
            )
        if row is None:
            return None
        result = row["result"]
        return LedgerEntry(
            tenant_id=row["tenant_id"],
            operation=row["operation"],
            key=row["record_key"],
            job_id=row["job_id"],
            result=None if result is None else json.loads(result),
            created_at=row["created_at"],
            expires_at=row["expires_at"],
        )

    def put_ledger(self, entry: LedgerEntry) -> None:
        """Store the entry, replacing the one its key had; then delete the entries (any
        tenant's) expired by then, so the table holds little more than live ones."""
        result = None if entry.result is None else json.dumps(entry.result)
        with self.transaction() as tx:
            tx.run(
                """INSERT INTO ledger (tenant_id, operation, record_key, job_id, result,
                    created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id, operation, record_key) DO UPDATE SET
                    job_id = excluded.job_id, result = excluded.result,
                    created_at = excluded.created_at, expires_at = excluded.expires_at""",
                entry.tenant_id,
                entry.operation,
                entry.key,
                entry.job_id,
                result,
                entry.created_at,
                entry.expires_at,
            )
        self.prune_ledger(entry.created_at)

    def prune_ledger(self, now: float) -> int:
        """Delete the entries expired by `now`; returns how many. Best effort, in its own
        transaction: two relays pruning at once may deadlock on PostgreSQL, and the PUT
        that prunes has already been stored; the next PUT prunes what this one left."""
        try:
            with self.transaction() as tx:
                return tx.run("DELETE FROM ledger WHERE expires_at <= ?", now)
        except Exception:  # the database refused the prune, not the entry
            return 0

    def delete_ledger(self, tenant_id: str, operation: str, key: str) -> None:
        """Forget the key (nothing to do when it has no entry)."""
        with self.transaction() as tx:
            tx.run(
                "DELETE FROM ledger WHERE tenant_id = ? AND operation = ? AND record_key = ?",
                tenant_id,
                operation,
                key,
            )

    def counts(self) -> dict[str, int]:
        """Deliveries per status, across tenants (for the metrics page)."""
        with self.transaction(write=False) as tx:
            found = tx.rows("SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status")
        return {str(r["status"]): int(r["n"]) for r in found}


def _cancel_open(tx: Tx, column: str, owner_id: str, reason: str, now: float) -> None:
    tx.run(
        f"""UPDATE deliveries SET status = ?, last_error = ?, next_attempt_at = NULL,
            claim_id = NULL, updated_at = ?, completed_at = ?
        WHERE {column} = ? AND status IN (?, ?)""",
        DeliveryStatus.CANCELED.value,
        reason,
        now,
        now,
        owner_id,
        *_OPEN,
    )


def route_from(row: Row) -> Route:
    return Route(
        id=row["id"],
        tenant_id=row["tenant_id"],
        target_url=row["target_url"],
        secret_sealed=row["secret_sealed"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        events=load_list(row["events"]),
        status=RouteStatus(row["status"]),
        ended_reason=row["ended_reason"],
        ended_at=row["ended_at"],
        accept_409=bool(row["accept_409"]),
        fan_out_batch=bool(row["fan_out_batch"]),
        expect=row["expect"],
        expected_ids=tuple(json.loads(row["expected_ids"])),
        deadline_at=row["deadline_at"],
        joined_at=row["joined_at"],
    )


def subscription_from(row: Row) -> Subscription:
    return Subscription(
        id=row["id"],
        tenant_id=row["tenant_id"],
        target_url=row["target_url"],
        secret_sealed=row["secret_sealed"],
        created_at=row["created_at"],
        events=load_list(row["events"]),
        status=SubscriptionStatus(row["status"]),
        ended_reason=row["ended_reason"],
        ended_at=row["ended_at"],
        accept_409=bool(row["accept_409"]),
        fan_out_batch=bool(row["fan_out_batch"]),
    )


def delivery_from(row: Row) -> Delivery:
    payload = row["payload"]
    return Delivery(
        id=row["id"],
        tenant_id=row["tenant_id"],
        target_url=row["target_url"],
        event_name=row["event_name"],
        api_delivery_id=row["api_delivery_id"],
        message_id=row["message_id"],
        received_at=row["received_at"],
        created_at=row["created_at"],
        next_attempt_at=row["next_attempt_at"],
        event_id=row["event_id"],
        route_id=row["route_id"],
        subscription_id=row["subscription_id"],
        payload=None if payload is None else bytes(payload),
        status=DeliveryStatus(row["status"]),
        attempts=row["attempts"],
        run_attempts=row["run_attempts"],
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        updated_at=row["updated_at"],
        completed_at=row["completed_at"],
    )
