"""Relay storage: one interface (`Storage`), SQLite and PostgreSQL behind it."""

from __future__ import annotations

from connector.relay.config import RelayConfig
from connector.relay.storage.base import Storage, Tx
from connector.relay.storage.records import (
    REPLAYABLE,
    Attempt,
    AttemptResult,
    Claim,
    Delivery,
    DeliveryFilter,
    DeliveryStatus,
    Event,
    JoinItem,
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
    """The storage the config names, with its schema created or upgraded."""
    storage: Storage
    if config.is_sqlite:
        from connector.relay.storage.sqlite import SqliteStorage

        storage = SqliteStorage(
            config.sqlite_path,
            synchronous=config.sqlite_synchronous,
            pool_size=config.pool_size,
            group_wait=config.sqlite_group_wait,
            writer=config.uses_writer_process,
        )
    else:
        from connector.relay.storage.postgres import PostgresStorage

        storage = PostgresStorage(
            config.database_url, schema=config.database_schema, pool_size=config.pool_size
        )
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
    "Page",
    "Route",
    "RouteStatus",
    "Storage",
    "Subscription",
    "SubscriptionStatus",
    "Tx",
    "iso",
    "new_id",
    "open_storage",
    "parse_time",
]
