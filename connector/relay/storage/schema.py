"""The relay's tables, as numbered migrations written once for both SQL dialects.

`{real}`, `{blob}` and `{serial}` are filled in per dialect. A migration is applied once,
in a transaction, under a lock, so several relay processes may start at the same time.
Add a new migration at the end; never edit one that has shipped.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Types:
    real: str
    blob: str
    serial: str


SQLITE_TYPES = Types(real="REAL", blob="BLOB", serial="INTEGER PRIMARY KEY AUTOINCREMENT")
POSTGRES_TYPES = Types(
    real="DOUBLE PRECISION", blob="BYTEA", serial="BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
)

VERSION_TABLE = "CREATE TABLE IF NOT EXISTS relay_schema (version INTEGER NOT NULL)"

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the first schema
    (
        """CREATE TABLE tenants (
            id TEXT PRIMARY KEY,
            created_at {real} NOT NULL
        )""",
        """CREATE TABLE routes (
            id TEXT PRIMARY KEY,
            tenant_id TEXT NOT NULL REFERENCES tenants(id),
            target_url TEXT NOT NULL,
            events TEXT,
            status TEXT NOT NULL,
            ended_reason TEXT,
            ended_at {real},
            accept_409 INTEGER NOT NULL,
            fan_out_batch INTEGER NOT NULL,
            expect INTEGER,
            expected_ids TEXT NOT NULL,
            deadline_at {real},
            joined_at {real},
            secret_sealed TEXT NOT NULL,
            created_at {real} NOT NULL,
            expires_at {real} NOT NULL
        )""",
        "CREATE INDEX routes_tenant ON routes (tenant_id, id)",
        """CREATE INDEX routes_join_due ON routes (deadline_at)
            WHERE expect IS NOT NULL AND joined_at IS NULL""",
        """CREATE TABLE subscriptions (
            id TEXT PRIMARY KEY,
            tenant_id TEXT NOT NULL REFERENCES tenants(id),
            target_url TEXT NOT NULL,
            events TEXT,
            status TEXT NOT NULL,
            ended_reason TEXT,
            ended_at {real},
            accept_409 INTEGER NOT NULL,
            fan_out_batch INTEGER NOT NULL,
            secret_sealed TEXT NOT NULL,
            created_at {real} NOT NULL
        )""",
        "CREATE INDEX subscriptions_tenant ON subscriptions (tenant_id, status, id)",
        """CREATE TABLE events (
            id TEXT PRIMARY KEY,
            tenant_id TEXT NOT NULL,
            route_id TEXT,
            dedup_key TEXT NOT NULL,
            event_name TEXT NOT NULL,
            delivery_id TEXT NOT NULL,
            body {blob} NOT NULL,
            headers TEXT NOT NULL,
            received_at {real} NOT NULL,
            UNIQUE (tenant_id, dedup_key)
        )""",
        """CREATE TABLE deliveries (
            id TEXT PRIMARY KEY,
            tenant_id TEXT NOT NULL,
            event_id TEXT REFERENCES events(id),
            route_id TEXT,
            subscription_id TEXT,
            target_url TEXT NOT NULL,
            event_name TEXT NOT NULL,
            api_delivery_id TEXT NOT NULL,
            message_id TEXT NOT NULL,
            payload {blob},
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            run_attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at {real},
            claim_id TEXT,
            last_status_code INTEGER,
            last_error TEXT,
            received_at {real} NOT NULL,
            created_at {real} NOT NULL,
            updated_at {real},
            completed_at {real}
        )""",
        """CREATE INDEX deliveries_due ON deliveries (next_attempt_at)
            WHERE status IN ('pending', 'delivering')""",
        "CREATE INDEX deliveries_tenant ON deliveries (tenant_id, id)",
        "CREATE INDEX deliveries_tenant_status ON deliveries (tenant_id, status, id)",
        "CREATE INDEX deliveries_route ON deliveries (route_id) WHERE route_id IS NOT NULL",
        """CREATE INDEX deliveries_subscription ON deliveries (subscription_id)
            WHERE subscription_id IS NOT NULL""",
        """CREATE TABLE attempts (
            id {serial},
            delivery_id TEXT NOT NULL REFERENCES deliveries(id),
            number INTEGER NOT NULL,
            started_at {real} NOT NULL,
            duration_ms {real} NOT NULL,
            outcome TEXT NOT NULL,
            status_code INTEGER,
            error TEXT,
            response_excerpt TEXT
        )""",
        "CREATE INDEX attempts_delivery ON attempts (delivery_id, number)",
        """CREATE TABLE join_items (
            route_id TEXT NOT NULL REFERENCES routes(id),
            item_id TEXT NOT NULL,
            event_id TEXT NOT NULL,
            body {blob} NOT NULL,
            received_at {real} NOT NULL,
            PRIMARY KEY (route_id, item_id)
        )""",
    ),
    # 2: the record-key ledger (`/v1/ledger`): what job (or synchronous answer) a Record
    # key of one paid create already got, per tenant, until it expires
    (
        """CREATE TABLE ledger (
            tenant_id TEXT NOT NULL,
            operation TEXT NOT NULL,
            record_key TEXT NOT NULL,
            job_id TEXT,
            result TEXT,
            created_at {real} NOT NULL,
            expires_at {real} NOT NULL,
            PRIMARY KEY (tenant_id, operation, record_key)
        )""",
        "CREATE INDEX ledger_expiry ON ledger (expires_at)",
    ),
)


def statements(version: int, types: Types) -> list[str]:
    """The DDL of migration `version` (1-based) for one dialect."""
    return [
        sql.format(real=types.real, blob=types.blob, serial=types.serial)
        for sql in MIGRATIONS[version - 1]
    ]
