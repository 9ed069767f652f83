"""PostgreSQL storage (psycopg 3), for several relay processes sharing the work.

Workers claim due deliveries with `FOR UPDATE SKIP LOCKED`, so two processes never
take the same delivery and never wait for each other. `RELAY_DATABASE_SCHEMA` puts the
tables in their own schema (created if missing), which also isolates test runs.

The relay's SQL uses `?` placeholders (SQLite's); here they become PostgreSQL's own
`$1, $2, ...` once per statement text, and the connections use psycopg's `RawCursor`,
which sends them as they are. psycopg's default `%s` placeholders are parsed with a
regular expression on every execution of a statement with over 50 parameters (it caches
only smaller ones), and a group commit's multi-row INSERTs have hundreds: measured, that
parsing was most of the relay's CPU per stored webhook on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from connector.relay.storage.base import Row, Storage, Tx
from connector.relay.storage.pool import Pool
from connector.relay.storage.schema import POSTGRES_TYPES

psycopg: Any
try:
    import psycopg
    from psycopg import RawCursor
    from psycopg.rows import dict_row
except ImportError:  # pragma: no cover - depends on the installed extras
    psycopg = None

_LOCK_KEY = 0x52454C4159  # "RELAY": serializes schema migrations between processes


def numbered_placeholders(sql: str) -> str:
    """`?, ?` as `$1, $2` (the relay's SQL holds no `?` inside a literal)."""
    head, *rest = sql.split("?")
    return head + "".join(f"${number}{part}" for number, part in enumerate(rest, start=1))


class PostgresStorage(Storage):
    types = POSTGRES_TYPES
    lock_clause = " FOR UPDATE"
    share_clause = " FOR SHARE"
    skip_locked_clause = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str, schema: str | None = None, pool_size: int = 8) -> None:
        if psycopg is None:
            raise RuntimeError(
                "PostgreSQL storage needs psycopg: pip install 'creativeai-connector[postgres]'"
            )
        self._url = url
        self.schema = schema
        self._sql_cache: dict[str, str] = {}
        if schema:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        self._pool: Pool[Any] = Pool(
            self._connect,
            lambda c: c.close(),
            lambda c: not c.closed and not c.broken,
            pool_size,
        )

    @property
    def backend(self) -> str:
        return "postgresql"

    def _connect(self) -> Any:
        conn = psycopg.connect(
            self._url, autocommit=True, row_factory=dict_row, cursor_factory=RawCursor
        )
        if self.schema:
            conn.execute(f'SET search_path TO "{self.schema}"')
        return conn

    @contextmanager
    def transaction(self, write: bool = True, durable: bool = True) -> Iterator[Tx]:
        with self._pool.connection() as conn, conn.transaction():
            if not durable:  # COMMIT does not wait for the WAL flush
                conn.execute("SET LOCAL synchronous_commit TO OFF")
            yield Tx(self, conn)

    def _sql(self, sql: str) -> str:
        converted = self._sql_cache.get(sql)
        if converted is None:
            converted = self._sql_cache[sql] = numbered_placeholders(sql)
        return converted

    def fetch(self, conn: Any, sql: str, params: Sequence[Any]) -> list[Row]:
        rows: list[Row] = conn.execute(self._sql(sql), tuple(params)).fetchall()
        return rows

    def execute(self, conn: Any, sql: str, params: Sequence[Any]) -> int:
        count: int = conn.execute(self._sql(sql), tuple(params)).rowcount
        return count

    def _migration_lock(self, tx: Tx) -> None:
        tx.rows("SELECT pg_advisory_xact_lock(?) AS locked", _LOCK_KEY)

    def _close(self) -> None:
        self._pool.close()

    def drop_schema(self) -> None:
        """Drop this storage's schema with everything in it (tests, teardown)."""
        if not self.schema:
            raise RuntimeError("no schema to drop")
        self.close()
        with psycopg.connect(self._url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
