"""Relay settings from RELAY_* variables: parsing, defaults, errors, and the README."""

from __future__ import annotations

from pathlib import Path

import pytest

import connector.relay
from connector.relay.config import (
    DEFAULT_RETRY_SCHEDULE,
    ENV_VARS,
    ConfigError,
    RelayConfig,
    parse_duration,
)
from connector.relay.tokens import TokenSealer

README = Path(connector.relay.__file__).with_name("README.md")


def test_defaults_follow_the_documented_schedule_and_limits() -> None:
    config = RelayConfig()
    assert list(config.retry_schedule) == [0, 5, 300, 1800, 7200, 18000, 36000, 36000]
    assert config.retry_schedule == DEFAULT_RETRY_SCHEDULE
    assert config.retry_jitter == 0.2
    assert (config.attempt_timeout, config.connect_timeout) == (15.0, 5.0)
    assert config.max_body_bytes == 5 * 1024 * 1024
    assert config.is_sqlite
    assert not config.allow_http


def test_every_variable_is_read() -> None:
    key = TokenSealer.generate_key()
    config = RelayConfig.from_env(
        {
            "RELAY_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test",
            "RELAY_DATABASE_SCHEMA": "relay_a",
            "RELAY_SQLITE_SYNCHRONOUS": "normal",
            "RELAY_GROUP_WAIT": "5ms",
            "RELAY_TOKEN_KEYS": f"{key}, {TokenSealer.generate_key()}",
            "RELAY_PUBLIC_URL": "https://relay.example.com/",
            "RELAY_MAX_BODY_BYTES": "2048",
            "RELAY_RETRY_SCHEDULE": "0, 250ms, 2s, 1m",
            "RELAY_RETRY_JITTER": "0.1",
            "RELAY_RETRY_SCALE": "0.5",
            "RELAY_ATTEMPT_TIMEOUT": "10s",
            "RELAY_CONNECT_TIMEOUT": "2",
            "RELAY_ALLOW_HTTP": "yes",
            "RELAY_ALLOW_NETWORKS": "10.1.2.3/8, fd00::/8",
            "RELAY_ALLOWED_PORTS": "443,5678",
            "RELAY_WORKERS": "8",
            "RELAY_POLL_INTERVAL": "500ms",
            "RELAY_LEASE": "2m",
            "RELAY_ROUTE_TTL": "1d",
            "RELAY_ROUTE_TTL_MAX": "30d",
            "RELAY_EMBEDDED_WORKER": "true",
            "RELAY_HOST": "0.0.0.0",
            "RELAY_PORT": "9000",
            "RELAY_LOG_LEVEL": "debug",
            "RELAY_LOG_JSON": "false",
            "RELAY_POOL_SIZE": "4",
            "RELAY_TOKEN_KEYS_FILE": "/etc/relay/keys",
        }
    )
    assert config.database_schema == "relay_a"
    assert config.sqlite_synchronous == "NORMAL"
    assert config.group_wait == 0.005
    assert config.token_keys[0] == key
    assert config.public_url == "https://relay.example.com"
    assert config.retry_schedule == (0.0, 0.25, 2.0, 60.0)
    assert config.scaled_schedule() == (0.0, 0.125, 1.0, 30.0)
    assert config.allow_networks == ("10.0.0.0/8", "fd00::/8")
    assert config.allowed_ports == (443, 5678)
    assert (config.attempt_timeout, config.connect_timeout, config.lease) == (10, 2, 120)
    assert (config.route_ttl, config.route_ttl_max) == (86400, 30 * 86400)
    assert config.embedded_worker and config.allow_http and not config.log_json
    assert (config.host, config.port, config.workers, config.pool_size) == ("0.0.0.0", 9000, 8, 4)
    assert config.log_level == "DEBUG"
    assert key not in repr(config)


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("RELAY_RETRY_SCHEDULE", "0, soon", "duration"),
        ("RELAY_RETRY_JITTER", "0.9", "0.0 to 0.5"),
        ("RELAY_ALLOW_HTTP", "maybe", "true, false"),
        ("RELAY_ALLOW_NETWORKS", "10.0.0.0/33", "CIDR"),
        ("RELAY_ALLOWED_PORTS", "443,70000", "1 to 65535"),
        ("RELAY_WORKERS", "0", "1 to 256"),
        ("RELAY_LOG_LEVEL", "loud", "DEBUG"),
        ("RELAY_PUBLIC_URL", "relay.example.com", "absolute"),
        ("RELAY_DATABASE_URL", "mysql://x", "sqlite:///"),
        ("RELAY_DATABASE_SCHEMA", "Drop Table", "identifier"),
        ("RELAY_CONNECT_TIMEOUT", "30", "at most RELAY_ATTEMPT_TIMEOUT"),
        ("RELAY_ROUTE_TTL", "90d", "at most RELAY_ROUTE_TTL_MAX"),
        ("RELAY_GROUP_WAIT", "1s", "0 to 100ms"),
    ],
)
def test_bad_values_name_the_variable_the_value_and_what_is_allowed(
    name: str, value: str, allowed: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        RelayConfig.from_env({name: value})
    assert caught.value.name == name
    assert name in str(caught.value)
    assert allowed in str(caught.value)


def test_token_keys_never_appear_in_errors() -> None:
    with pytest.raises(ConfigError) as caught:
        RelayConfig.from_env({"RELAY_TOKEN_KEYS": " , "})
    assert "<hidden>" in str(caught.value)


def test_durations() -> None:
    assert parse_duration("X", "15") == 15
    assert parse_duration("X", "250ms") == 0.25
    assert parse_duration("X", "2h") == 7200
    with pytest.raises(ConfigError):
        parse_duration("X", "-1s")


def test_a_key_file_is_made_beside_the_sqlite_database(tmp_path: Path) -> None:
    config = RelayConfig(database_url=f"sqlite:///{tmp_path / 'r.db'}")
    keys = config.resolved_token_keys()
    assert keys == config.resolved_token_keys()  # made once, then read
    assert (tmp_path / "r.db.keys").stat().st_mode & 0o777 == 0o600
    TokenSealer(list(keys))
    with pytest.raises(ConfigError) as caught:
        RelayConfig(database_url="postgresql://x/y").resolved_token_keys()
    assert caught.value.name == "RELAY_TOKEN_KEYS"


def test_the_readme_documents_every_variable() -> None:
    text = README.read_text()
    missing = [name for name in ENV_VARS if f"`{name}`" not in text]
    assert missing == []


def test_the_factory_reads_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    monkeypatch.setenv("RELAY_LOG_JSON", "false")
    app = connector.relay.create_app()  # what `gunicorn 'connector.relay:create_app()'` calls
    from connector.relay.app import relay_of

    relay = relay_of(app)
    try:
        assert relay.storage.backend == "sqlite"
        assert (tmp_path / "env.db").exists()
        assert relay.forwarder is None  # forwarding runs only where asked for
    finally:
        relay.close()


def test_a_bad_metrics_token_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        RelayConfig.from_env({"RELAY_METRICS_TOKEN": "short secret"})
    assert caught.value.name == "RELAY_METRICS_TOKEN"
    assert "short secret" not in str(caught.value) and "<hidden>" in str(caught.value)
    config = RelayConfig.from_env({"RELAY_METRICS_TOKEN": "t" * 20, "RELAY_METRICS_PORT": "9101"})
    assert (config.metrics_token, config.metrics_port) == ("t" * 20, 9101)
    assert "t" * 20 not in repr(config)
    with pytest.raises(ConfigError, match="RELAY_METRICS_PORT"):
        RelayConfig.from_env({"RELAY_METRICS_PORT": "8780"})


def test_a_renamed_setting_is_refused_naming_its_new_name() -> None:
    with pytest.raises(ConfigError) as caught:
        RelayConfig.from_env({"RELAY_SQLITE_GROUP_WAIT": "2ms"})
    assert "RELAY_SQLITE_GROUP_WAIT" in str(caught.value)
    assert "RELAY_GROUP_WAIT" in caught.value.allowed
    assert RelayConfig.from_env({"RELAY_GROUP_WAIT": "2ms"}).group_wait == 0.002


@pytest.mark.parametrize(
    "name", ["RELAY_SQLITE_WAL_SYNC", "RELAY_SQLITE_FLOCK", "RELAY_SQLITE_WRITER"]
)
def test_a_removed_setting_is_refused_not_silently_ignored(name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        RelayConfig.from_env({name: "inline"})
    assert caught.value.name == name and "removed" in caught.value.allowed
    assert RelayConfig.from_env({name: ""}).group_commit  # an empty value is no setting
