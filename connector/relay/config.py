"""Relay settings, read from `RELAY_*` environment variables (documented in README.md).

    config = RelayConfig.from_env()          # os.environ
    config = RelayConfig.from_env({...})     # any mapping, e.g. in tests
    config = RelayConfig(database_url=..., token_keys=(...,), ...)

Every bad value raises `ConfigError` naming the variable, the value and what is allowed.
Token keys are secrets: they never appear in a repr or an error message.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from connector.relay.tokens import TokenSealer

#: Default forwarding schedule: the delay before each attempt (the first is immediate).
DEFAULT_RETRY_SCHEDULE: tuple[float, ...] = (
    0.0,
    5.0,
    5 * 60.0,
    30 * 60.0,
    2 * 3600.0,
    5 * 3600.0,
    10 * 3600.0,
    10 * 3600.0,
)
DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
SQLITE_SYNCHRONOUS = ("FULL", "NORMAL", "EXTRA")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")


class ConfigError(ValueError):
    """A setting with a value the relay cannot use; the message names it and what is allowed."""

    def __init__(self, name: str, value: object, allowed: str) -> None:
        shown = "<hidden>" if "KEY" in name or name.endswith("_TOKEN") else repr(value)
        super().__init__(f"{name}={shown} is not valid: {allowed}")
        self.name = name
        self.allowed = allowed


def parse_duration(name: str, raw: str) -> float:
    """Seconds from `"15"`, `"1.5s"`, `"250ms"`, `"5m"`, `"2h"` or `"7d"`."""
    match = _DURATION.match(raw)
    if not match:
        raise ConfigError(name, raw, "a duration such as 15, 1.5s, 250ms, 5m, 2h or 7d")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(name, raw, "one of true, false, 1, 0, yes, no, on, off")


def _int(name: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(name, raw, f"an integer from {low} to {high}") from None
    if not low <= value <= high:
        raise ConfigError(name, raw, f"an integer from {low} to {high}")
    return value


def _float(name: str, raw: str, low: float, high: float) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(name, raw, f"a number from {low} to {high}") from None
    if not low <= value <= high:
        raise ConfigError(name, raw, f"a number from {low} to {high}")
    return value


def _choice(name: str, raw: str, allowed: tuple[str, ...]) -> str:
    value = raw.strip().upper()
    if value not in allowed:
        raise ConfigError(name, raw, "one of " + ", ".join(allowed))
    return value


def _list(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _schedule(name: str, raw: str) -> tuple[float, ...]:
    delays = tuple(parse_duration(name, part) for part in _list(raw))
    if not delays:
        raise ConfigError(name, raw, "a comma-separated list of delays, e.g. 0,5s,5m,30m")
    return delays


def _networks(name: str, raw: str) -> tuple[str, ...]:
    out = []
    for part in _list(raw):
        try:
            out.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise ConfigError(name, part, "CIDR networks such as 10.0.0.0/8 or fd00::/8") from None
    return tuple(out)


def _ports(name: str, raw: str) -> tuple[int, ...]:
    return tuple(_int(name, part, 1, 65535) for part in _list(raw))


def _url(name: str, raw: str) -> str:
    value = raw.strip().rstrip("/")
    if not re.match(r"^https?://[^/\s?#]+(/[^\s?#]*)?$", value):
        raise ConfigError(
            name, raw, "an absolute http(s) URL without query, e.g. https://relay.example.com"
        )
    return value


@dataclass(frozen=True)
class RelayConfig:
    """Everything the relay can be told; the defaults suit one process on one machine."""

    database_url: str = "sqlite:///relay.sqlite3"
    database_schema: str | None = None
    sqlite_synchronous: str = "FULL"
    group_commit: bool = True
    group_wait: float = 0.002
    token_keys: tuple[str, ...] = field(default=(), repr=False)
    token_keys_file: str | None = None
    public_url: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
    retry_jitter: float = 0.2
    retry_scale: float = 1.0
    attempt_timeout: float = 15.0
    connect_timeout: float = 5.0
    allow_http: bool = False
    allow_networks: tuple[str, ...] = ()
    allowed_ports: tuple[int, ...] = ()
    workers: int = 4
    host_workers: int | None = None
    poll_interval: float = 1.0
    lease: float = 60.0
    route_ttl: float = 7 * 86400.0
    route_ttl_max: float = 30 * 86400.0
    embedded_worker: bool = False
    host: str = "127.0.0.1"
    port: int = 8780
    log_level: str = "INFO"
    log_json: bool = True
    pool_size: int = 8
    metrics_token: str | None = field(default=None, repr=False)
    metrics_port: int | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RelayConfig:
        env = os.environ if environ is None else environ
        for old, new in RENAMED.items():
            if env.get(old, "").strip():
                raise ConfigError(old, env[old], f"this setting is now {new}: set that instead")
        for gone, why in REMOVED.items():
            if env.get(gone, "").strip():
                raise ConfigError(gone, env[gone], f"nothing: this setting was removed ({why})")
        values: dict[str, Any] = {}
        for spec in _VARS:
            raw = env.get(spec.env)
            if raw is not None and raw.strip() != "":
                values[spec.attr] = spec.parse(spec.env, raw)
        return cls(**values).checked()

    def checked(self) -> RelayConfig:
        """Cross-field checks; returns self so it can end a chain."""
        if not self.database_url.startswith(("sqlite:", "postgresql:", "postgres:")):
            raise ConfigError(
                "RELAY_DATABASE_URL",
                self.database_url,
                "sqlite:///path/to/relay.sqlite3 or postgresql://user@host:5432/db",
            )
        if self.route_ttl > self.route_ttl_max:
            raise ConfigError(
                "RELAY_ROUTE_TTL",
                self.route_ttl,
                f"at most RELAY_ROUTE_TTL_MAX ({self.route_ttl_max} s)",
            )
        if self.connect_timeout > self.attempt_timeout:
            raise ConfigError(
                "RELAY_CONNECT_TIMEOUT",
                self.connect_timeout,
                f"at most RELAY_ATTEMPT_TIMEOUT ({self.attempt_timeout} s)",
            )
        if self.metrics_port is not None and self.metrics_port == self.port:
            raise ConfigError(
                "RELAY_METRICS_PORT",
                self.metrics_port,
                f"another port than RELAY_PORT ({self.port})",
            )
        if self.lease <= self.attempt_timeout:
            raise ConfigError(
                "RELAY_LEASE",
                self.lease,
                f"more than RELAY_ATTEMPT_TIMEOUT ({self.attempt_timeout} s)",
            )
        return self

    def with_(self, **changes: Any) -> RelayConfig:
        return replace(self, **changes).checked()

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")

    @property
    def sqlite_path(self) -> str:
        """The file behind a `sqlite:///path` URL (`sqlite:////abs/path` for absolute paths)."""
        return self.database_url.split(":", 1)[1].removeprefix("///").removeprefix("//")

    @property
    def host_share(self) -> int:
        """Attempts one target host may have in flight in one forwarder: RELAY_HOST_WORKERS,
        else half of RELAY_WORKERS (at least 1), so a slow host never holds every slot."""
        if self.host_workers is not None:
            return min(self.host_workers, self.workers)
        return max(1, self.workers // 2)

    def scaled_schedule(self) -> tuple[float, ...]:
        return tuple(delay * self.retry_scale for delay in self.retry_schedule)

    def resolved_token_keys(self) -> tuple[str, ...]:
        """The token keys, newest first: given ones, else a key file (made on first use)."""
        if self.token_keys:
            return self.token_keys
        path = self.token_keys_file
        if path is None and self.is_sqlite:
            path = self.sqlite_path + ".keys"
        if path is None:
            raise ConfigError(
                "RELAY_TOKEN_KEYS",
                "",
                "set RELAY_TOKEN_KEYS (or RELAY_TOKEN_KEYS_FILE) when the database is PostgreSQL; "
                "make a key with `creativeai-connector relay keygen`",
            )
        return read_or_create_key_file(Path(path))


def new_token_key() -> str:
    """A fresh random token key (32 bytes, URL-safe base64)."""
    return TokenSealer.generate_key()


def read_or_create_key_file(path: Path) -> tuple[str, ...]:
    """Keys from a file, one per line, newest first; a missing file is created with one key."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(new_token_key() + "\n")
    keys = tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
    if not keys:
        raise ConfigError("RELAY_TOKEN_KEYS_FILE", str(path), "a file with one key per line")
    return keys


@dataclass(frozen=True)
class _Var:
    env: str
    attr: str
    parse: Any


def _keys(name: str, raw: str) -> tuple[str, ...]:
    keys = tuple(_list(raw))
    if not keys:
        raise ConfigError(name, raw, "comma-separated keys, newest first")
    return keys


def _wait(name: str, raw: str) -> float:
    wait = parse_duration(name, raw)
    if wait > 0.1:
        raise ConfigError(name, raw, "a duration from 0 to 100ms, e.g. 2ms (0: never wait)")
    return wait


_VARS: tuple[_Var, ...] = (
    _Var("RELAY_DATABASE_URL", "database_url", lambda n, r: r.strip()),
    _Var("RELAY_DATABASE_SCHEMA", "database_schema", lambda n, r: _schema(n, r)),
    _Var(
        "RELAY_SQLITE_SYNCHRONOUS",
        "sqlite_synchronous",
        lambda n, r: _choice(n, r, SQLITE_SYNCHRONOUS),
    ),
    _Var("RELAY_GROUP_COMMIT", "group_commit", _bool),
    _Var("RELAY_GROUP_WAIT", "group_wait", lambda n, r: _wait(n, r)),
    _Var("RELAY_TOKEN_KEYS", "token_keys", _keys),
    _Var("RELAY_TOKEN_KEYS_FILE", "token_keys_file", lambda n, r: r.strip()),
    _Var("RELAY_PUBLIC_URL", "public_url", _url),
    _Var("RELAY_MAX_BODY_BYTES", "max_body_bytes", lambda n, r: _int(n, r, 1024, 1 << 30)),
    _Var("RELAY_RETRY_SCHEDULE", "retry_schedule", _schedule),
    _Var("RELAY_RETRY_JITTER", "retry_jitter", lambda n, r: _float(n, r, 0.0, 0.5)),
    _Var("RELAY_RETRY_SCALE", "retry_scale", lambda n, r: _float(n, r, 0.0, 1000.0)),
    _Var("RELAY_ATTEMPT_TIMEOUT", "attempt_timeout", parse_duration),
    _Var("RELAY_CONNECT_TIMEOUT", "connect_timeout", parse_duration),
    _Var("RELAY_ALLOW_HTTP", "allow_http", _bool),
    _Var("RELAY_ALLOW_NETWORKS", "allow_networks", _networks),
    _Var("RELAY_ALLOWED_PORTS", "allowed_ports", _ports),
    _Var("RELAY_WORKERS", "workers", lambda n, r: _int(n, r, 1, 256)),
    _Var("RELAY_HOST_WORKERS", "host_workers", lambda n, r: _int(n, r, 1, 256)),
    _Var("RELAY_POLL_INTERVAL", "poll_interval", parse_duration),
    _Var("RELAY_LEASE", "lease", parse_duration),
    _Var("RELAY_ROUTE_TTL", "route_ttl", parse_duration),
    _Var("RELAY_ROUTE_TTL_MAX", "route_ttl_max", parse_duration),
    _Var("RELAY_EMBEDDED_WORKER", "embedded_worker", _bool),
    _Var("RELAY_HOST", "host", lambda n, r: r.strip()),
    _Var("RELAY_PORT", "port", lambda n, r: _int(n, r, 0, 65535)),
    _Var("RELAY_LOG_LEVEL", "log_level", lambda n, r: _choice(n, r, LOG_LEVELS)),
    _Var("RELAY_LOG_JSON", "log_json", _bool),
    _Var("RELAY_POOL_SIZE", "pool_size", lambda n, r: _int(n, r, 1, 256)),
    _Var("RELAY_METRICS_TOKEN", "metrics_token", lambda n, r: _metrics_token(n, r)),
    _Var("RELAY_METRICS_PORT", "metrics_port", lambda n, r: _int(n, r, 1, 65535)),
)


def _metrics_token(name: str, raw: str) -> str:
    value = raw.strip()
    if len(value) < 16 or not re.fullmatch(r"[A-Za-z0-9._~+/=-]+", value):
        raise ConfigError(
            name, raw, "at least 16 characters of A-Z a-z 0-9 . _ ~ + / = - (a bearer token)"
        )
    return value


def _schema(name: str, raw: str) -> str:
    value = raw.strip()
    if not re.match(r"^[a-z_][a-z0-9_]{0,62}$", value):
        raise ConfigError(name, raw, "a lower-case SQL identifier (letters, digits, _)")
    return value


ENV_VARS: tuple[str, ...] = tuple(v.env for v in _VARS)

#: Settings that were renamed: an old name is refused at start, never silently ignored.
RENAMED: dict[str, str] = {"RELAY_SQLITE_GROUP_WAIT": "RELAY_GROUP_WAIT"}

#: Settings that were removed with what they chose (each did not pay for itself in
#: `bench/relay.py`; the relay README's Storage section has the figures): refused at start,
#: so a deployment that still sets one learns it has no effect.
REMOVED: dict[str, str] = {
    "RELAY_SQLITE_WAL_SYNC": "the relay's own WAL fsync is gone; SQLite syncs its WAL itself",
    "RELAY_SQLITE_FLOCK": "the flock between processes is gone; SQLite's busy wait remains",
    "RELAY_SQLITE_WRITER": "the ingest writer process is gone; webhooks are stored inline",
}
assert {v.attr for v in _VARS} == {f.name for f in fields(RelayConfig)}
