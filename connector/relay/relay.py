"""What every part of one relay process shares: config, storage, sealer, metrics, worker."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app

from connector.relay.config import RelayConfig
from connector.relay.metrics import Metrics
from connector.relay.ssrf import TargetPolicy
from connector.relay.storage import Storage
from connector.relay.tokens import TokenSealer
from connector.relay.worker import Forwarder, target_policy


@dataclass
class Relay:
    config: RelayConfig
    storage: Storage
    sealer: TokenSealer = field(repr=False)
    metrics: Metrics
    policy: TargetPolicy
    forwarder: Forwarder | None = None
    started_at: float = field(default_factory=time.time)
    #: The time the management API stamps and expires entries by (tests move it on).
    clock: Callable[[], float] = field(default=time.time, repr=False)

    @classmethod
    def build(cls, config: RelayConfig, storage: Storage, metrics: Metrics | None = None) -> Relay:
        metrics = metrics or Metrics()
        return cls(
            config=config,
            storage=storage,
            sealer=TokenSealer(config.resolved_token_keys()),
            metrics=metrics,
            policy=target_policy(config),
        )

    def start_forwarder(self) -> Forwarder:
        if self.forwarder is None:
            self.forwarder = Forwarder(
                self.storage, self.config, self.sealer, self.metrics, policy=self.policy
            )
        self.forwarder.start()
        return self.forwarder

    def wake(self) -> None:
        """New deliveries are due: an in-process forwarder starts on them at once."""
        if self.forwarder is not None:
            self.forwarder.wake()

    def close(self) -> None:
        if self.forwarder is not None:
            self.forwarder.stop()
        self.storage.close()


def current_relay() -> Relay:
    relay: Relay = current_app.extensions["relay"]
    return relay
