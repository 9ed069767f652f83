"""`creativeai-connector relay …` (also `python -m connector.relay …`).

    relay [serve]      serve the API and forward, in one process (SQLite by default)
    relay serve --no-forward    serve only; run `relay worker` processes beside it
    relay worker       forward only (several workers may share a PostgreSQL database)
    relay migrate      create or upgrade the database schema, then exit
    relay keygen       print a new token key for RELAY_TOKEN_KEYS

Settings come from `RELAY_*` variables (connector/relay/README.md); the options
below override them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from connector.relay.config import ConfigError, RelayConfig, new_token_key


def _config(args: argparse.Namespace) -> RelayConfig:
    config = RelayConfig.from_env()
    changes: dict[str, Any] = {}
    for option, attr in (
        ("host", "host"),
        ("port", "port"),
        ("database_url", "database_url"),
        ("workers", "workers"),
    ):
        value = getattr(args, option, None)
        if value is not None:
            changes[attr] = value
    return config.with_(**changes) if changes else config


def cmd_serve(args: argparse.Namespace) -> int:
    from connector.relay.server import run_server

    return run_server(_config(args), forward=not getattr(args, "no_forward", False))


def cmd_worker(args: argparse.Namespace) -> int:
    from connector.relay.server import run_worker

    return run_worker(_config(args), metrics_port=args.metrics_port)


def cmd_migrate(args: argparse.Namespace) -> int:
    from connector.relay.storage import open_storage

    storage = open_storage(_config(args))
    version = storage.migrate()
    storage.close()
    print(f"schema at version {version} ({storage.backend})")
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    print(new_token_key())
    return 0


def _guarded(handler: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            code: int = handler(args)
        except ConfigError as exc:
            print(f"relay: {exc}", file=sys.stderr)
            return 2
        return code

    return run


def _common(p: argparse.ArgumentParser, serve: bool = True) -> None:
    p.add_argument("--database-url", help="overrides RELAY_DATABASE_URL")
    if serve:
        p.add_argument("--host", help="overrides RELAY_HOST (default 127.0.0.1)")
        p.add_argument("--port", type=int, help="overrides RELAY_PORT (default 8780; 0 = any)")


def add_parser(subparsers: Any) -> None:
    """Register `relay` and its subcommands on the main CLI's subparsers."""
    relay = subparsers.add_parser(
        "relay",
        help="run the webhook relay (verify, dedup, store, forward)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    relay.set_defaults(handler=_guarded(cmd_serve))
    sub = relay.add_subparsers(dest="relay_command", metavar="SUBCOMMAND")

    p = sub.add_parser("serve", help="serve the API and forward (default)")
    _common(p)
    p.add_argument("--workers", type=int, help="overrides RELAY_WORKERS")
    p.add_argument("--no-forward", action="store_true", help="serve only; no forwarding")
    p.set_defaults(handler=_guarded(cmd_serve))

    p = sub.add_parser("worker", help="forward deliveries only")
    _common(p, serve=False)
    p.add_argument("--workers", type=int, help="overrides RELAY_WORKERS")
    p.add_argument("--metrics-port", type=int, help="serve /metrics on this port")
    p.set_defaults(handler=_guarded(cmd_worker))

    p = sub.add_parser("migrate", help="create or upgrade the database schema")
    _common(p, serve=False)
    p.set_defaults(handler=_guarded(cmd_migrate))

    p = sub.add_parser("keygen", help="print a new token key")
    p.set_defaults(handler=cmd_keygen)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m connector.relay")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["relay", *(sys.argv[1:] if argv is None else argv)])
    code: int = args.handler(args)
    return code
