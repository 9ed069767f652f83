"""Relay storage: one interface (`Storage`), SQLite and PostgreSQL behind it.

    base.py      the interface and every query, written once for both backends
    sqlite.py    the plain SQLite path: a pool, BEGIN IMMEDIATE, synchronous=FULL
    postgres.py  PostgreSQL (psycopg 3)
    group.py     group commit, both backends             RELAY_GROUP_COMMIT
    walsync.py   the WAL fsync outside the write lock     RELAY_SQLITE_WAL_SYNC
    filelock.py  an flock between writing processes       RELAY_SQLITE_FLOCK
    writer.py    the ingest writer process                RELAY_SQLITE_WRITER

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
            config.sqlite_path,
            synchronous=config.sqlite_synchronous,
            pool_size=config.pool_size,
            wal_sync=config.sqlite_wal_sync == "RELAY",
            flock=config.sqlite_flock,
        )
    else:
        from connector.relay.storage.postgres import PostgresStorage

        storage = PostgresStorage(
            config.database_url, schema=config.database_schema, pool_size=config.pool_size
        )
    writes: WritePath | None = None
    if config.group_commit:
        writes = GroupCommit(storage, wait=config.group_wait)
    if config.uses_writer_process:
        from connector.relay.storage.writer import IngestWriter, WriterPath

        writer = IngestWriter(
            config.sqlite_path,
            config.sqlite_synchronous,
            wal_sync=config.sqlite_wal_sync == "RELAY",
            flock=config.sqlite_flock,
        )
        writes = WriterPath(storage, writer, writes)
    storage.writes = writes
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
