"""`RelayLedger`: record keys kept in a real relay's ledger (`connector/relay/testing.py`, on
SQLite), with the sandbox as the API and its key as the relay's tenant; counting the paid
creates the sandbox saw. The relay's own ledger tests are `test_relay_ledger.py`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paid_cases
import pytest
from test_client_support import free_port, run

from connector.catalog import CATALOG, steps
from connector.client import LedgerError, RelayLedger
from connector.relay.testing import RunningRelay, fast_config, running_relay, sqlite_url
from connector.sandbox.config import ApiKey
from connector.sandbox.harness import RunningSandbox

PAID = [op.key for op in steps.capped(CATALOG.operations.values())]


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRelay]:
    config = fast_config(sqlite_url(tmp_path_factory.mktemp("client-ledger")))
    with running_relay(config, clean=True) as running:
        yield running


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., RunningSandbox]) -> RunningSandbox:
    # Each test its own sandbox key: the relay (shared by the module) keeps entries by key.
    # Real time: the example compose (not of sandbox media) fails when it runs, and a failed
    # job rightly lets the key start again; here both runs come before that.
    key = ApiKey(f"sk-relay-{os.urandom(4).hex()}", label="sandbox")
    return sandbox_factory(rate_limits=False, api_keys=(key,), time_scale=1.0)


@pytest.fixture
def ledger(relay: RunningRelay, sandbox: RunningSandbox) -> Iterator[RelayLedger]:
    with RelayLedger(relay.url, sandbox.api_key) as ledger:
        yield ledger


def against(mode: str, sandbox: RunningSandbox, action: Any, **options: Any) -> Any:
    return run(mode, sandbox.url, action, api_key=sandbox.api_key, **options)


def _twice(mode: str, op_key: str, fields: dict[str, Any]) -> Callable[[Any], Any]:
    def action(c: Any) -> Any:
        if mode == "sync":
            return [c.call(op_key, **fields, record_key="sku/1") for _ in range(2)]

        async def both() -> list[Any]:
            return [await c.call(op_key, **fields, record_key="sku/1") for _ in range(2)]

        return both()

    return action


@pytest.mark.parametrize("op_key", PAID)
def test_the_same_record_key_twice_starts_one_job(
    mode: str,
    relay: RunningRelay,
    sandbox: RunningSandbox,
    ledger: RelayLedger,
    op_key: str,
) -> None:
    fields = paid_cases.client_input(op_key)
    out = against(mode, sandbox, _twice(mode, op_key, fields), ledger=ledger)
    assert out.error is None, out.error
    first, second = out.result
    assert paid_cases.creates(sandbox) == 1  # the figure: 1 paid create for 2 runs
    with relay.api(sandbox.api_key) as api:  # the relay holds it for this key's tenant
        entry = api.get(f"/v1/ledger/{op_key}/sku%2F1").json()
    if not CATALOG.operation(op_key).is_async:  # images: their answer is kept
        assert second.model_dump() == first.model_dump() == entry["result"]
    else:
        kept = getattr(first, "batch_id", None) or first.id
        assert entry["job_id"] == kept == (getattr(second, "batch_id", None) or second.id)


def test_a_failed_job_lets_the_key_start_again(
    mode: str, sandbox: RunningSandbox, ledger: RelayLedger
) -> None:
    def create(c: Any) -> Any:
        return c.videos.create(prompt="a [sandbox:fail]", record_key="k")

    first = against(mode, sandbox, create, ledger=ledger)
    sandbox.advance(120)
    again = against(mode, sandbox, create, ledger=ledger)
    assert first.error is None and again.error is None, (first.error, again.error)
    assert again.result.id != first.result.id
    assert paid_cases.creates(sandbox) == 2
    entry = ledger.get("video.create_from_text", "k")
    assert entry is not None and entry.job_id == again.result.id


def test_another_api_key_has_its_own_ledger(
    relay: RunningRelay, sandbox: RunningSandbox, ledger: RelayLedger
) -> None:
    ledger.put("voice.create", "k", job_id="job_1")
    with RelayLedger(relay.url, "sk-someone-else") as theirs:
        assert theirs.get("voice.create", "k") is None
    entry = ledger.get("voice.create", "k")
    assert entry is not None and entry.job_id == "job_1"
    ledger.forget("voice.create", "k")
    assert ledger.get("voice.create", "k") is None


def _cli(sandbox: RunningSandbox, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREATIVEAI_")}
    api = ["--base-url", sandbox.url, "--api-key", sandbox.api_key]
    return subprocess.run(
        [sys.executable, "-m", "connector.cli", *args, *api],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_the_cli_started_twice_with_a_relay_ledger_starts_one_job(
    relay: RunningRelay, sandbox: RunningSandbox
) -> None:
    command = ["voice", "create", "--text", "Hi", "--record-key", "row 7", "--ledger", relay.url]
    first = _cli(sandbox, *command)
    assert first.returncode == 0, first.stderr
    second = _cli(sandbox, *command)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["id"] == json.loads(first.stdout)["id"]
    assert paid_cases.creates(sandbox) == 1
    assert sandbox.api_key not in first.stderr + second.stderr


@pytest.mark.parametrize("where", ["api", "closed port"])
def test_a_relay_that_refuses_or_is_not_there_starts_nothing(
    mode: str, sandbox: RunningSandbox, where: str
) -> None:
    url = sandbox.url if where == "api" else f"http://127.0.0.1:{free_port()}"
    with RelayLedger(url, sandbox.api_key) as ledger:
        out = against(
            mode, sandbox, lambda c: c.videos.create(prompt="p", record_key="k"), ledger=ledger
        )
    error = out.raised(LedgerError)
    expected = "no ledger there" if where == "api" else "cannot be reached"
    assert expected in str(error) and url in str(error)
    assert sandbox.api_key not in str(error)
    assert paid_cases.creates(sandbox) == 0


def test_the_cli_names_the_option_of_a_relay_that_refuses(
    sandbox: RunningSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    from connector.cli import main

    api = ["--base-url", sandbox.url, "--api-key", sandbox.api_key]
    argv = ["video", "create", *api, "--prompt", "p", "--record-key", "k", "--ledger", sandbox.url]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: --ledger {sandbox.url}: the relay at {sandbox.url} refused")
    assert paid_cases.creates(sandbox) == 0


def test_a_relay_url_must_be_a_plain_http_url(tmp_path: Path) -> None:
    for bad in ("ftp://relay.example", "https://user:pw@relay.example", "relay.example"):
        with pytest.raises(LedgerError, match="relay URL"):
            RelayLedger(bad, "sk-x")
