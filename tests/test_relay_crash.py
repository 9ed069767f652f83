"""Crash tests: a relay process killed with SIGKILL while signed events stream in.

The promise under test: once the relay answered 2xx, the event is delivered or visibly
dead-lettered, never lost. A sender thread posts signed events through sealed webhook
URLs and records which got a 2xx; the relay (`python -m connector.relay`, a real
subprocess) is killed mid-stream, with deliveries pending and leased; then

- SQLite: the relay restarts on the same file, and every acknowledged event reaches the
  healthy target or is dead in the delivery log (its target always fails);
- PostgreSQL: a second process shares the database; it takes over what the killed one
  held once the leases run out, without any restart.

Events that got no 2xx (cut off by the kill) may or may not arrive: nothing is required
of them. Deliveries are at least once: a send cut short by the kill is sent again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector.catalog import limits
from connector.relay.storage.postgres import PostgresStorage
from connector.relay.testing import (
    PG_URL,
    Reply,
    Target,
    api_webhook,
    postgres_available,
    postgres_schema,
    running_target,
    video_payload,
    wait_until,
)
from connector.relay.tokens import TokenSealer

pytestmark = pytest.mark.slow

KEY = "sk-crash-test"
#: Acknowledged events before the kill (the stream goes on until the relay is gone).
ACKED_BEFORE_KILL = 60
SENDERS = 2
ATTEMPTS = 3
DELIVERY_ID = limits.DELIVERY_ID_HEADER.lower()
#: Every process of a test shares it, and a restart opens the URLs made before the kill.
TOKEN_KEY = TokenSealer.generate_key()


def _env(database_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        RELAY_DATABASE_URL=database_url,
        RELAY_TOKEN_KEYS=TOKEN_KEY,
        RELAY_ALLOW_HTTP="true",
        RELAY_ALLOW_NETWORKS="127.0.0.0/8",
        RELAY_POLL_INTERVAL="50ms",
        RELAY_RETRY_SCHEDULE="0,50ms,100ms",
        RELAY_RETRY_JITTER="0",
        RELAY_ATTEMPT_TIMEOUT="1s",
        RELAY_CONNECT_TIMEOUT="500ms",
        RELAY_LEASE="1500ms",  # what a killed process held comes back this soon
        RELAY_LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


@dataclass
class Relay:
    proc: subprocess.Popen[str]
    url: str


@contextmanager
def _relay(args: list[str], env: dict[str, str]) -> Iterator[Relay]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector.relay", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith(("relay listening on ", "relay worker running")), line
        yield Relay(proc, line.rsplit(" ", 1)[1] if "listening" in line else "")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def _hook_path(relay_url: str, target_url: str) -> str:
    with httpx.Client(base_url=relay_url, headers={"Authorization": f"Bearer {KEY}"}) as api:
        answer = api.post("/v1/routes", json={"target_url": target_url})
    assert answer.status_code == 201, answer.text
    webhook_url: str = answer.json()["webhook_url"]
    return webhook_url.removeprefix(relay_url)


@dataclass
class Stream:
    """Sender threads posting signed events, alternating between two hook paths."""

    base: str
    paths: tuple[str, str]  # (to the healthy target, to the failing target)
    acked: list[set[str]] = field(default_factory=lambda: [set(), set()])
    refused: int = 0
    failed: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for n in range(SENDERS):
            thread = threading.Thread(target=self._send, args=(n,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _send(self, sender: int) -> None:
        with httpx.Client(base_url=self.base, timeout=5) as http:
            i = 0
            while not self.stop.is_set():
                job_id = f"vgen_crash_{sender}_{i:05d}"
                side = i % 2
                i += 1
                body, headers = api_webhook(video_payload(job_id), KEY)
                try:
                    answer = http.post(self.paths[side], content=body, headers=headers)
                except httpx.HTTPError:
                    with self._lock:
                        self.failed += 1
                    continue
                with self._lock:
                    if 200 <= answer.status_code < 300:
                        self.acked[side].add(job_id)
                    else:
                        self.refused += 1

    def count(self) -> int:
        with self._lock:
            return len(self.acked[0]) + len(self.acked[1])

    def failures(self) -> int:
        with self._lock:
            return self.failed

    def join(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(10)


def _arrived(target: Target) -> set[str]:
    return {r.headers[DELIVERY_ID] for r in list(target.received)}


def _deliveries(relay_url: str) -> dict[str, list[str]]:
    """Every delivery of the tenant: API delivery id -> statuses (one per delivery)."""
    found: dict[str, list[str]] = {}
    cursor = None
    with httpx.Client(base_url=relay_url, headers={"Authorization": f"Bearer {KEY}"}) as api:
        while True:
            params: dict[str, Any] = {"limit": 200}
            if cursor:
                params["cursor"] = cursor
            page = api.get("/v1/deliveries", params=params).json()
            for d in page["data"]:
                found.setdefault(d["delivery_id"], []).append(d["status"])
            cursor = page["next_cursor"]
            if not cursor:
                return found


def _stream_then_kill(relay: Relay, stream: Stream) -> None:
    stream.start()
    wait_until(lambda: stream.count() >= ACKED_BEFORE_KILL, timeout=30)
    relay.proc.send_signal(signal.SIGKILL)
    relay.proc.wait(10)
    # The stream was still going: posts after the kill fail.
    wait_until(lambda: stream.failures() > 0, timeout=10)
    stream.join()


def _none_lost(relay_url: str, healthy: Target, stream: Stream) -> None:
    """Every acknowledged event: succeeded at the healthy target, or dead at the failing one."""
    to_healthy, to_failing = stream.acked

    def settled() -> bool:
        statuses = _deliveries(relay_url)
        return all(statuses.get(job) == ["succeeded"] for job in to_healthy) and all(
            statuses.get(job) == ["dead"] for job in to_failing
        )

    wait_until(settled, timeout=30, every=0.1)
    assert to_healthy <= _arrived(healthy)


@pytest.fixture
def targets() -> Iterator[tuple[Target, Target]]:
    with running_target() as healthy, running_target() as failing:
        # Slow enough that a backlog builds up: deliveries pending and leased at the kill.
        healthy.default = Reply(200, delay=0.05)
        failing.default = Reply(503)
        yield healthy, failing


def test_sqlite_relay_killed_mid_stream_loses_no_acknowledged_event(
    tmp_path: Path, targets: tuple[Target, Target]
) -> None:
    healthy, failing = targets
    env = _env(f"sqlite:///{tmp_path / 'relay.sqlite3'}")
    with _relay(["serve", "--port", "0"], env) as first:
        paths = (_hook_path(first.url, healthy.url), _hook_path(first.url, failing.url))
        stream = Stream(first.url, paths)
        _stream_then_kill(first, stream)
    to_healthy, to_failing = stream.acked
    assert len(to_healthy) + len(to_failing) >= ACKED_BEFORE_KILL
    assert to_healthy - _arrived(healthy), "the kill came after every delivery: nothing to test"

    with _relay(["serve", "--port", "0"], env) as second:
        _none_lost(second.url, healthy, stream)
        assert len(failing.received) >= len(to_failing) * ATTEMPTS


@pytest.fixture
def pg_schema() -> Iterator[str]:
    if not postgres_available():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    with postgres_schema() as name:
        yield name


@pytest.mark.postgres
def test_postgres_survivor_takes_over_the_killed_process_leases(
    pg_schema: str, targets: tuple[Target, Target]
) -> None:
    healthy, failing = targets
    # Every slot may go to the one healthy host: a backlog of leases at the kill.
    env = _env(PG_URL, RELAY_DATABASE_SCHEMA=pg_schema, RELAY_HOST_WORKERS="4")
    with (
        _relay(["serve", "--port", "0", "--workers", "4"], env) as doomed,
        _relay(["serve", "--port", "0", "--workers", "1"], env) as survivor,
    ):
        paths = (_hook_path(doomed.url, healthy.url), _hook_path(doomed.url, failing.url))
        stream = Stream(doomed.url, paths)
        _stream_then_kill(doomed, stream)
        storage = PostgresStorage(PG_URL, schema=pg_schema, pool_size=1)
        try:
            leased = storage.counts().get("delivering", 0)
        finally:
            storage.close()
        # The survivor sends one at a time: more leased than that were the killed one's.
        assert leased >= 2, leased
        _none_lost(survivor.url, healthy, stream)
        assert survivor.proc.poll() is None
