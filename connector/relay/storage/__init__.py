"""Relay storage: one interface (`Storage`), SQLite and PostgreSQL behind it.

    base.py      the interface and every query, written once for both backends
    rows.py      the rows it stores and returns
    schema.py    the tables, as numbered migrations
    pool.py      the connection pool both backends borrow from
    sqlite.py    the plain SQLite path: a pool, BEGIN IMMEDIATE, synchronous=FULL
    postgres.py  PostgreSQL (psycopg 3)
    group.py     group commit, both backends: the one acceleration  RELAY_GROUP_COMMIT

`open_storage` is the one place that puts them together from the config.
"""

from __future__ import annotations

from connector.relay.config import RelayConfig
from connector.relay.storage.base import Storage, Tx, WritePath
from connector.relay.storage.rows import (
    REPLAYABLE,
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
    iso,
    new_id,
    parse_time,
)


def open_storage(config: RelayConfig, migrate: bool = True) -> Storage:
    """The storage the config names, with its write path, and its schema created or
    upgraded."""
    from connector.relay.storage.group import GroupCommit

    storage: Storage
    if config.is_sqlite:
        from connector.relay.storage.sqlite import SqliteStorage

        storage = SqliteStorage(
            config.sqlite_path, synchronous=config.sqlite_synchronous, pool_size=config.pool_size
        )
    else:
        from connector.relay.storage.postgres import PostgresStorage

        storage = PostgresStorage(
            config.database_url, schema=config.database_schema, pool_size=config.pool_size
        )
    if config.group_commit:
        storage.writes = GroupCommit(storage, wait=config.group_wait)
    if migrate:
        storage.migrate()
    return storage


__all__ = [
    "REPLAYABLE",
    "Attempt",
    "AttemptResult",
    "Claim",
    "Delivery",
    "DeliveryFilter",
    "DeliveryStatus",
    "Event",
    "JoinItem",
    "LedgerEntry",
    "Page",
    "Route",
    "RouteStatus",
    "Storage",
    "Subscription",
    "SubscriptionStatus",
    "Tx",
    "WritePath",
    "iso",
    "new_id",
    "open_storage",
    "parse_time",
]
