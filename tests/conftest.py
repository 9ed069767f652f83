"""Shared fixtures: a running sandbox with a fast clock, and a local webhook receiver.

    def test_something(sandbox, webhook_sink):
        answer = sandbox.http.post("/v1/video/generations", json={
            "prompt": "x", "webhook_url": webhook_sink.url_for("/hook")})
        sandbox.advance(60)                    # every job due by then has finished
        [hook] = webhook_sink.wait_for(1)

`sandbox` is a `connector.sandbox.harness.RunningSandbox`: `.url`, `.api_key`, `.http` (an
httpx client with the key set), `.app`, and control helpers (`advance`, `fault`, `jobs`,
`webhook_attempts`, `set_credits`, `reset`, `wait_for`). `sandbox_factory(**settings)`
starts more, with other `SandboxConfig` settings. `webhook_sink` records every request
(`.requests`, `.wait_for(n)`) and answers 200 unless told otherwise (`.respond(500, times=2)`).
`pg_schema` names a fresh PostgreSQL schema for one test module (skips without a server).
`mode` runs a client test once on the sync client and once on the async one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from connector.relay.testing import postgres_available, postgres_schema
from connector.sandbox import harness
from connector.sandbox.harness import RunningSandbox, WebhookSink

#: Real seconds per sandbox second in tests: a 20 s video takes 0.2 s, webhook retries
#: come at 0, 0.05 and 0.3 s.
FAST = 0.01


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., RunningSandbox]]:
    """Start sandboxes with `SandboxConfig` settings (`time_scale` defaults to FAST)."""
    with ExitStack() as stack:

        def start(**settings: Any) -> RunningSandbox:
            settings.setdefault("time_scale", FAST)
            return stack.enter_context(harness.running_sandbox(**settings))

        yield start


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., RunningSandbox]) -> RunningSandbox:
    """A fresh sandbox (default key `sk-sandbox`, enterprise plan) with a fast clock."""
    return sandbox_factory()


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    """Which client a test runs on: "sync" (`CreativeAI`) or "async" (`AsyncCreativeAI`)."""
    return str(request.param)


@pytest.fixture
def webhook_sink() -> Iterator[WebhookSink]:
    """A local HTTP receiver on 127.0.0.1 that records requests (answers 200 by default)."""
    with harness.webhook_sink() as sink:
        yield sink


@pytest.fixture(scope="module")
def pg_schema() -> Iterator[str]:
    if not postgres_available():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    with postgres_schema() as name:
        yield name
