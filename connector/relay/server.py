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
from contextlib import ExitStack
from typing import IO

from connector.relay import logs
from connector.relay.app import create_app, relay_of
from connector.relay.config import RelayConfig
from connector.relay.health import MetricsApp
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


def _serve_metrics(serving: ExitStack, relay: Relay, port: int | None) -> str | None:
    """`/metrics` alone on `port` (RELAY_METRICS_PORT / --metrics-port) until `serving`
    ends; its URL (None without a port)."""
    if port is None:
        return None
    metrics = MetricsApp(relay.config, relay.metrics)
    server = serving.enter_context(serve(metrics, host=relay.config.host, port=port))
    log.info("metrics listening", extra=logs.fields(url=server.url + "/metrics"))
    return server.url + "/metrics"


def _announce(line: str, metrics_url: str | None, announce: IO[str] | None) -> None:
    out = announce or sys.stdout
    print(line, file=out, flush=True)
    if metrics_url is not None:
        print(f"relay metrics on {metrics_url}", file=out, flush=True)


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
        with ExitStack() as serving:
            server = serving.enter_context(serve(app, host=config.host, port=config.port))
            url = server.url
            metrics_url = _serve_metrics(serving, relay, config.metrics_port)
            log.info("listening", extra=logs.fields(url=url, forwarding=forward))
            _announce(f"relay listening on {url}", metrics_url, announce)
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
    relay = Relay.build(config, open_storage(config))
    restore = _stop_on_signals(stop)
    metrics_port = metrics_port if metrics_port is not None else config.metrics_port
    try:
        with ExitStack() as serving:
            relay.metrics.watch_storage(relay.storage.counts)
            metrics_url = _serve_metrics(serving, relay, metrics_port)
            relay.start_forwarder()
            _announce("relay worker running", metrics_url, announce)
            stop.wait()
            log.info("shutting down")
    finally:
        restore()
        relay.close()
    log.info("stopped")
    return 0
