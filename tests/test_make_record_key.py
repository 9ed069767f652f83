"""Make: one job per record. A paid module given a Record key and a Relay URL keeps the key in
the relay's ledger, so the same key started again returns the job it already started; run by
the test-side runtime against the sandbox (the API) and a real relay (the ledger).

What the sandbox saw (its jobs and batches) counts the paid creates; the relay's own ledger
API says what was kept under a key.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from conftest import FAST
from make_iml.appfiles import LocalApp
from make_iml.inputs import make_cases, make_parameters, module_of
from make_iml.runtime import MakeError, Runtime

from connector.catalog import CATALOG, Operation, limits, steps
from connector.platforms.make import modules
from connector.platforms.make.model import RELAY_LEDGER, RELAY_URL
from connector.relay.testing import RunningRelay, fast_config, running_relay, sqlite_url
from connector.sandbox import pricing
from connector.sandbox.harness import RunningSandbox

pytestmark = pytest.mark.slow

APP = LocalApp.load(Path(__file__).resolve().parents[1] / "make-app")
API = limits.DEFAULT_BASE_URL
PAID = steps.capped(CATALOG.operations.values())


def _first_case(op: Operation) -> dict[str, Any]:
    return next(c for c in make_cases() if c["operation"] == op.key)


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RunningRelay]:
    with running_relay(fast_config(sqlite_url(tmp_path), embedded_worker=True)) as running:
        yield running


@pytest.fixture
def make(sandbox: RunningSandbox) -> Runtime:
    return Runtime(APP, delay_scale=FAST, routes={API: sandbox.url})


@pytest.fixture
def connection(make: Runtime, sandbox: RunningSandbox) -> dict[str, Any]:
    connected = make.connect({"apiKey": sandbox.api_key})
    make.log.clear()
    return connected


def _run(
    make: Runtime, op: Operation, connection: dict[str, Any], **changes: Any
) -> dict[str, Any]:
    parameters = {**make_parameters(op, _first_case(op)["input"]), **changes}
    [output] = make.run_module(module_of(op), parameters, connection)
    assert isinstance(output, dict)
    return output


def _started(sandbox: RunningSandbox) -> int:
    """Every create the sandbox took: its jobs (images and a batch's videos included) and
    batches."""
    batches = sandbox.http.get("/_sandbox/batches").json()["batches"]
    return len(sandbox.jobs()) + len(batches)


def _entry(relay: RunningRelay, key: str, op: Operation, record_key: str) -> Any:
    with relay.api(key) as api:
        answer = api.get(f"{RELAY_LEDGER}/{op.key}/{quote(record_key, safe='')}")
    return answer.json() if answer.status_code == 200 else None


# -- the options -----------------------------------------------------------------------------


def test_every_paid_module_offers_a_relay_url_beside_the_record_key() -> None:
    webhook = {p["name"]: p for p in APP.webhook("completedGenerations").codes["params"]}
    for op in PAID:
        found = {p["name"]: p for p in APP.module(module_of(op)).codes["mappableParams"]}
        key, relay = found[modules.RECORD_KEY_PARAM], found[RELAY_URL]
        assert relay["label"] == webhook[RELAY_URL]["label"] == "Relay URL"
        assert relay["type"] == "url" and not relay.get("required") and relay["advanced"]
        assert relay["validate"] == webhook[RELAY_URL]["validate"]  # one rule for both
        assert steps.RECORD_KEY.without_ledger in key["help"] and "Relay URL" in key["help"]
        names = list(found)
        assert names.index(RELAY_URL) == names.index(modules.RECORD_KEY_PARAM) + 1


# -- the same key twice ------------------------------------------------------------------------


def _creates(sandbox: RunningSandbox, op: Operation, spent: int) -> int:
    """How many paid creates of `op` the sandbox took: its batches, its jobs of the
    operation, or for a synchronous image (the sandbox keeps no job), what was charged over
    one image's price."""
    if op.key == "batch.create":
        return len(sandbox.http.get("/_sandbox/batches").json()["batches"])
    if op.job is not None:
        return len(sandbox.jobs(operation=op.key))
    request = _first_case(op)["request"]
    body = request["json"] if "json" in request else request["multipart"]["fields"]
    return spent // pricing.quote(dict(body)).credits


def _inputs(
    op: Operation, make: Runtime, connection: dict[str, Any], sandbox: RunningSandbox
) -> dict[str, Any]:
    """What a create needs to end well in the sandbox: a compose, media the sandbox made."""
    if op.key != "compose.create":
        return {}
    video = _run(make, CATALOG.operation("video.create_from_text"), connection)
    voice = _run(make, CATALOG.operation("voice.create"), connection)
    sandbox.advance(3600)
    [video] = make.run_module(
        module_of(CATALOG.operation("video.get")), {"id": video["id"]}, connection
    )
    [voice] = make.run_module(
        module_of(CATALOG.operation("job.get")), {"id": voice["id"]}, connection
    )
    return {"video_url": video["output_url"], "audio_url": voice["output_url"]}


#: Paid creates the sandbox took when each paid module ran twice with the same key.
FIGURES: dict[str, int] = {}


@pytest.mark.parametrize("op", PAID, ids=lambda op: op.key)
def test_the_same_record_key_twice_starts_one_job(
    make: Runtime,
    connection: dict[str, Any],
    sandbox: RunningSandbox,
    relay: RunningRelay,
    op: Operation,
) -> None:
    keyed = {
        modules.RECORD_KEY_PARAM: f"sku/42 {op.key}",  # a / in it: encoded, part of the key
        RELAY_URL: relay.url,
        **_inputs(op, make, connection, sandbox),
    }
    credits = sandbox.credits()
    first = _run(make, op, connection, **keyed)
    assert _creates(sandbox, op, credits - sandbox.credits()) == 1
    paid = modules.job_key(CATALOG, op) if op.job else None
    entry = _entry(relay, sandbox.api_key, op, keyed[modules.RECORD_KEY_PARAM])
    assert entry is not None and entry["key"] == keyed[modules.RECORD_KEY_PARAM]
    if paid:
        assert entry["job_id"] == first[paid] and entry["result"] is None
    else:
        assert entry["job_id"] is None and entry["result"]
    make.log.clear()
    second = _run(make, op, connection, **keyed)
    FIGURES[op.key] = _creates(sandbox, op, credits - sandbox.credits())
    assert FIGURES[op.key] == 1  # the second run paid for nothing
    assert not [e for e in make.log if e["request"]["url"] == API + op.path]
    contract = CATALOG.output(op.key)
    assert set(second) <= set(contract.keys) and set(first) <= set(contract.keys)
    if paid:  # the job fetched back, under the create's own contract
        assert second[paid] == first[paid]
        assert {paid, "status", "state"} <= set(second)
    else:
        assert second == first  # the stored answer, as the API gave it


def test_a_batch_reused_by_its_key_is_the_same_batch(
    make: Runtime, connection: dict[str, Any], sandbox: RunningSandbox, relay: RunningRelay
) -> None:
    op = CATALOG.operation("batch.create")
    keyed = {modules.RECORD_KEY_PARAM: "catalogue-2026", RELAY_URL: relay.url}
    first = _run(make, op, connection, **keyed)
    before = _started(sandbox)
    assert before == 1 + first["total_jobs"]  # the batch and each of its videos, once
    sandbox.advance(1000)
    second = _run(make, op, connection, **keyed)
    assert second["batch_id"] == first["batch_id"] and _started(sandbox) == before
    assert second["state"] == "completed"  # fetched back: as it is now


def test_a_reused_job_is_waited_for_as_a_fresh_one(
    make: Runtime, connection: dict[str, Any], sandbox: RunningSandbox, relay: RunningRelay
) -> None:
    op = CATALOG.operation("voice.create")
    keyed = {modules.RECORD_KEY_PARAM: "row-7", RELAY_URL: relay.url}
    started = _run(make, op, connection, **keyed)
    assert started["state"] in ("pending", "processing")
    waited = _run(make, op, connection, **keyed, **{modules.WAIT_PARAM: True})
    assert waited["id"] == started["id"] and waited["state"] == "completed"
    assert len(sandbox.jobs()) == 1


def test_a_failed_job_lets_the_key_start_again(
    make: Runtime, connection: dict[str, Any], sandbox: RunningSandbox, relay: RunningRelay
) -> None:
    op = CATALOG.operation("video.create_from_text")
    keyed = {
        modules.RECORD_KEY_PARAM: "sku-9",
        RELAY_URL: relay.url,
        "prompt": "a failing clip [sandbox:fail]",
    }
    failing = _run(make, op, connection, **keyed)
    sandbox.advance(1000)
    assert sandbox.job(failing["id"])["status"] == "failed"
    again = _run(make, op, connection, **{**keyed, "prompt": "a clip that works"})
    assert again["id"] != failing["id"] and len(sandbox.jobs()) == 2
    entry = _entry(relay, sandbox.api_key, op, "sku-9")
    assert entry["job_id"] == again["id"]  # the key now names the new job
    third = _run(make, op, connection, **keyed)
    assert third["id"] == again["id"] and len(sandbox.jobs()) == 2


def test_a_synchronous_image_reuses_the_stored_answer_without_calling_the_api(
    make: Runtime, connection: dict[str, Any], sandbox: RunningSandbox, relay: RunningRelay
) -> None:
    op = CATALOG.operation("image.generate")
    keyed = {modules.RECORD_KEY_PARAM: "hero-banner", RELAY_URL: relay.url}
    first = _run(make, op, connection, **keyed)
    credits = sandbox.credits()
    make.log.clear()
    second = _run(make, op, connection, **keyed, maxCredits=1_000_000)
    assert second == first and sandbox.credits() == credits
    assert [e["request"]["url"].startswith(relay.url) for e in make.log] == [True]  # lookup


def test_keys_are_kept_per_operation(
    make: Runtime, connection: dict[str, Any], sandbox: RunningSandbox, relay: RunningRelay
) -> None:
    keyed = {modules.RECORD_KEY_PARAM: "sku-1", RELAY_URL: relay.url}
    _run(make, CATALOG.operation("voice.create"), connection, **keyed)
    _run(make, CATALOG.operation("video.create_from_text"), connection, **keyed)
    assert len(sandbox.jobs()) == 2  # the same key under two operations: two jobs


def test_a_key_with_url_characters_is_one_key_for_the_lookup_and_the_put(
    make: Runtime, connection: dict[str, Any], sandbox: RunningSandbox, relay: RunningRelay
) -> None:
    op = CATALOG.operation("voice.create")
    key = "a%2F b?c=d&e#f/é"  # the lookup sends it as a query value, the put in the path
    keyed = {modules.RECORD_KEY_PARAM: key, RELAY_URL: relay.url}
    first = _run(make, op, connection, **keyed)
    assert _entry(relay, sandbox.api_key, op, key)["job_id"] == first["id"]
    second = _run(make, op, connection, **keyed)
    assert second["id"] == first["id"] and len(sandbox.jobs()) == 1


def test_a_job_the_api_no_longer_has_stops_the_module_naming_it(
    make: Runtime, connection: dict[str, Any], sandbox: RunningSandbox, relay: RunningRelay
) -> None:
    """Make cannot take the API's 404 as an answer and go on, so a key whose job is gone
    stops the module before anything is paid, naming the job (what is left for Make)."""
    op = CATALOG.operation("voice.create")
    with relay.api(sandbox.api_key) as api:
        api.put(f"{RELAY_LEDGER}/{op.key}/sku-gone", json={"job_id": "voice_gone"})
    keyed = {modules.RECORD_KEY_PARAM: "sku-gone", RELAY_URL: relay.url}
    with pytest.raises(MakeError) as caught:
        _run(make, op, connection, **keyed)
    assert caught.value.message.startswith(
        "not started: this Record key already started job voice_gone, which cannot be fetched "
        "back (HTTP 404"
    )
    assert _started(sandbox) == 0


def test_a_ledger_that_does_not_keep_the_answer_names_what_was_paid_for(
    make: Runtime, connection: dict[str, Any], sandbox: RunningSandbox, relay: RunningRelay
) -> None:
    """The relay refuses a result over its limit (`steps.LEDGER.max_result_bytes`): the
    images are paid for, so the error lists their URLs."""
    op = CATALOG.operation("image.generate")
    prompt = "x" * (steps.LEDGER.max_result_bytes // 3)  # echoed in each of 4 images
    keyed = {modules.RECORD_KEY_PARAM: "big", RELAY_URL: relay.url, "prompt": prompt, "n": 4}
    with pytest.raises(MakeError) as caught:
        _run(make, op, connection, **keyed)
    [create] = [e for e in make.log if e["request"]["url"] == API + op.path]
    urls = " ".join(d["url"] for d in create["response"]["body"]["data"])
    assert caught.value.kind == "RuntimeError"
    assert caught.value.message.startswith(
        f"paid for images {urls}, but the relay's ledger did not keep it under this Record "
        "key (HTTP 400: result="
    )
    assert _entry(relay, sandbox.api_key, op, "big") is None


# -- without a relay, or with a wrong one --------------------------------------------------------


def test_without_a_relay_two_runs_make_two_creates(
    make: Runtime, connection: dict[str, Any], sandbox: RunningSandbox
) -> None:
    op = CATALOG.operation("video.create_from_text")
    first = _run(make, op, connection, **{modules.RECORD_KEY_PARAM: "sku-42"})
    second = _run(make, op, connection, **{modules.RECORD_KEY_PARAM: "sku-42"})
    assert first["id"] != second["id"] and len(sandbox.jobs()) == 2  # as the help says
    assert all(e["request"]["url"].startswith(API) for e in make.log)  # no relay asked


def test_a_relay_url_that_is_not_a_relay_starts_nothing_and_says_so(
    make: Runtime, connection: dict[str, Any], sandbox: RunningSandbox
) -> None:
    op = CATALOG.operation("voice.create")
    with pytest.raises(MakeError) as caught:
        _run(make, op, connection, **{modules.RECORD_KEY_PARAM: "k", RELAY_URL: sandbox.url})
    assert caught.value.kind == "InvalidConfigurationError"
    assert caught.value.message.startswith(
        "not started: the relay's ledger could not be asked about this Record key (HTTP 404"
    )
    assert f"Check the Relay URL ({sandbox.url})" in caught.value.message
    assert _started(sandbox) == 0
