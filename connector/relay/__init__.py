"""The relay: verified, durable forwarding of CreativeAI completion webhooks into workflows.

Security building blocks live in their own modules:

- `connector.relay.tokens`: sealed URL tokens (`/hooks/<token>`), with key rotation.
- `connector.relay.ssrf`: the guard on every forwarding target (URL checks, one checked
  DNS resolution, connection pinned to the checked address).
- `connector.relay.signing`: Standard Webhooks signatures on forwarded requests.

The relay itself:

- `connector.relay.create_app(config=None)`: the Flask app factory
  (`gunicorn 'connector.relay:create_app()'`), settings from `RELAY_*` variables
  (`connector.relay.config.RelayConfig`, documented in `connector/relay/README.md`).
- `connector.relay.cli`: the `relay` subcommands (`serve`, `worker`, `keygen`);
  `python -m connector.relay` runs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connector.relay.app import create_app
    from connector.relay.config import RelayConfig

__all__ = ["RelayConfig", "create_app"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so `connector.relay.tokens` & co. do not pull in Flask.
    if name == "create_app":
        from connector.relay.app import create_app

        return create_app
    if name == "RelayConfig":
        from connector.relay.config import RelayConfig

        return RelayConfig
    raise AttributeError(f"module 'connector.relay' has no attribute {name!r}")
