"""Running the relay as a process: serve (and forward), or forward only.

Both block until SIGTERM or SIGINT (or `stop` is set), then shut down gracefully: stop
accepting requests, let the forwarder finish the attempts in flight (each is bounded by
the attempt timeout; a delivery cut short is sent again when its lease runs out), close
the database.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from typing import IO

from connector.relay import logs
from connector.relay.app import create_app, relay_of
from connector.relay.config import RelayConfig
from connector.relay.relay import Relay
from connector.relay.storage import open_storage
from connector.serving import serve

log = logs.get_logger("server")


def _stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """Set `stop` on SIGTERM/SIGINT (main thread only); returns a function that undoes it."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {
        sig: signal.signal(sig, lambda signum, frame: stop.set())
        for sig in (signal.SIGTERM, signal.SIGINT)
    }

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def run_server(
    config: RelayConfig,
    *,
    forward: bool = True,
    stop: threading.Event | None = None,
    announce: IO[str] | None = None,
) -> int:
    """Serve the relay (and forward, unless `forward=False`) until stopped."""
    stop = stop or threading.Event()
    app = create_app(config.with_(embedded_worker=forward))
    relay = relay_of(app)
    restore = _stop_on_signals(stop)
    try:
        with serve(app, host=config.host, port=config.port) as server:
            url = server.url
            log.info("listening", extra=logs.fields(url=url, forwarding=forward))
            print(f"relay listening on {url}", file=announce or sys.stdout, flush=True)
            stop.wait()
            log.info("shutting down")
    finally:
        restore()
        relay.close()
    log.info("stopped")
    return 0


def run_worker(
    config: RelayConfig,
    *,
    metrics_port: int | None = None,
    stop: threading.Event | None = None,
    announce: IO[str] | None = None,
) -> int:
    """Forward deliveries (no HTTP API) until stopped; several may share one database."""
    stop = stop or threading.Event()
    if config.log_json:
        logs.configure(config.log_level)
    # No inbound webhooks here: this process stores its own attempts (no writer process).
    relay = Relay.build(config, open_storage(config.with_(sqlite_writer="INLINE")))
    restore = _stop_on_signals(stop)
    try:
        if metrics_port is not None:
            from prometheus_client import start_http_server

            start_http_server(metrics_port, addr=config.host, registry=relay.metrics.registry)
        relay.metrics.watch_storage(relay.storage.counts)
        relay.start_forwarder()
        print("relay worker running", file=announce or sys.stdout, flush=True)
        stop.wait()
        log.info("shutting down")
    finally:
        restore()
        relay.close()
    log.info("stopped")
    return 0
