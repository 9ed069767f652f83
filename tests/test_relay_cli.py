"""The relay as processes: `python -m connector.relay serve` and `worker`, graceful stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from connector.relay.testing import (
    Target,
    api_webhook,
    running_target,
    slow_target,
    video_payload,
    wait_until,
)
from connector.relay.tokens import TokenSealer

pytestmark = pytest.mark.slow

KEY = "sk-cli-test"


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        RELAY_DATABASE_URL=f"sqlite:///{tmp_path / 'relay.sqlite3'}",
        RELAY_ALLOW_HTTP="true",
        RELAY_ALLOW_NETWORKS="127.0.0.0/8",
        RELAY_POLL_INTERVAL="50ms",
        RELAY_RETRY_SCALE="0.001",
        RELAY_LOG_LEVEL="INFO",
    )
    return env


@contextmanager
def _process(
    args: list[str], env: dict[str, str], ready: str
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector.relay", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        failed = proc.poll() is not None and proc.stderr is not None
        assert line.startswith(ready), (line, proc.stderr.read() if failed else "")  # type: ignore[union-attr]
        yield proc, line.strip()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def _flow(url: str, target: Target) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}) as api:
        route = api.post("/v1/routes", json={"target_url": target.url}).json()
    body, headers = api_webhook(video_payload(), KEY)
    assert httpx.post(route["webhook_url"], content=body, headers=headers).status_code == 202
    (got,) = target.wait_for(1)
    assert got.body == body


def test_serve_answers_forwards_and_stops_gracefully_on_sigterm(tmp_path: Path) -> None:
    with (
        running_target() as target,
        _process(["serve", "--port", "0"], _env(tmp_path), "relay listening on ") as (proc, line),
    ):
        url = line.rsplit(" ", 1)[1]
        assert httpx.get(url + "/readyz").json()["forwarder"] == "running"
        _flow(url, target)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        assert proc.stderr is not None
        entries = [json.loads(x) for x in proc.stderr.read().splitlines() if x.strip()]
    messages = [e["msg"] for e in entries]
    assert "listening" in messages
    assert messages[-1] == "stopped"
    assert (tmp_path / "relay.sqlite3.keys").exists()  # made on first start, kept for restarts


def test_sigterm_stops_within_the_attempt_timeout_while_a_target_dribbles(tmp_path: Path) -> None:
    """The target answers a byte every 0.2 s (17 s in all); the attempt in flight ends at
    its 1 s deadline, so the relay is gone well within 1 s plus its own shutdown."""
    env = {**_env(tmp_path), "RELAY_ATTEMPT_TIMEOUT": "1s", "RELAY_CONNECT_TIMEOUT": "1s"}
    with (
        slow_target(0.2) as slow,
        _process(["serve", "--port", "0"], env, "relay listening on ") as (proc, line),
    ):
        url = line.rsplit(" ", 1)[1]
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}) as api:
            route = api.post("/v1/routes", json={"target_url": slow.url}).json()
        body, headers = api_webhook(video_payload(), KEY)
        assert httpx.post(route["webhook_url"], content=body, headers=headers).status_code == 202
        wait_until(lambda: slow.active >= 1, timeout=10)
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        took = time.monotonic() - signalled
    assert took < 2.5, f"stopped {took:.1f} s after SIGTERM (attempt timeout 1 s)"


def test_a_separate_worker_process_forwards_what_serve_accepted(tmp_path: Path) -> None:
    env = _env(tmp_path)
    env["RELAY_TOKEN_KEYS"] = TokenSealer.generate_key()
    with (
        running_target() as target,
        _process(["serve", "--port", "0", "--no-forward"], env, "relay listening on ") as (_, line),
        _process(["worker"], env, "relay worker running") as (worker, _),
    ):
        url = line.rsplit(" ", 1)[1]
        assert httpx.get(url + "/readyz").json()["forwarder"] == "external"
        _flow(url, target)
        worker.send_signal(signal.SIGINT)
        assert worker.wait(15) == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


METRICS_TOKEN = "cli-metrics-token-0123456789"


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_metrics_on_their_own_port_with_a_token(tmp_path: Path, command: str) -> None:
    env = _env(tmp_path)
    port = _free_port()
    env.update(RELAY_METRICS_PORT=str(port), RELAY_METRICS_TOKEN=METRICS_TOKEN)
    ready = "relay listening on " if command == "serve" else "relay worker running"
    args = [command, "--port", "0"] if command == "serve" else [command]
    with _process(args, env, ready) as (proc, line):
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == f"relay metrics on http://127.0.0.1:{port}/metrics"
        metrics = f"http://127.0.0.1:{port}/metrics"
        assert httpx.get(metrics).status_code == 401
        scraped = httpx.get(metrics, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert scraped.status_code == 200 and "relay_attempts_total" in scraped.text
        if command == "serve":
            url = line.rsplit(" ", 1)[1]
            auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}
            assert httpx.get(url + "/metrics", headers=auth).status_code == 404
            assert httpx.get(url + "/healthz").status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0


def test_keygen_and_migrate(tmp_path: Path) -> None:
    run = [sys.executable, "-m", "connector.relay"]
    key = subprocess.run([*run, "keygen"], capture_output=True, text=True, check=True).stdout
    TokenSealer([key.strip()])
    done = subprocess.run(
        [*run, "migrate"], env=_env(tmp_path), capture_output=True, text=True, check=True
    )
    assert "schema at version" in done.stdout
    bad = subprocess.run(
        [*run, "serve"],
        env={**_env(tmp_path), "RELAY_WORKERS": "none"},
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert "RELAY_WORKERS" in bad.stderr
