"""The generated Make app, end to end: each module's communication, run by the test-side
runtime with sample parameters, against the local sandbox API and the real relay.

The app calls the production API's address; the runtime routes it to the sandbox. Make's
webhook address is a local target: what the API (without a relay) or the relay posts to it
goes through the webhook's own `output`, as Make would turn it into bundles, and then
through the trigger's own request. Make's waits are scaled like the sandbox clock (`FAST`),
so a 3 s poll takes 0.03 s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST
from make_iml.appfiles import LocalApp
from make_iml.hooks import deliveries
from make_iml.inputs import expected_output, make_cases, make_parameters, module_of
from make_iml.runtime import MakeError, Runtime

from connector.catalog import CATALOG, JobKind, NormalizedState, errors, limits, states
from connector.platforms.make.model import NOTICE_WEBHOOK_ID, WEBHOOK_ID
from connector.platforms.make.modules import WAIT_BUDGET_S
from connector.relay.testing import (
    RunningRelay,
    Target,
    fast_config,
    running_relay,
    running_target,
    sqlite_url,
)
from connector.sandbox.harness import RunningSandbox

pytestmark = pytest.mark.slow

APP = LocalApp.load(Path(__file__).resolve().parents[1] / "make-app")
CASES = {c["name"]: c for c in make_cases()}
S = NormalizedState


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RunningRelay]:
    with running_relay(fast_config(sqlite_url(tmp_path), embedded_worker=True)) as running:
        yield running


@pytest.fixture
def make_hook() -> Iterator[Target]:
    """Stands for the URL Make gives the trigger's webhook."""
    with running_target() as running:
        yield running


API = limits.DEFAULT_BASE_URL


@pytest.fixture
def make(sandbox: RunningSandbox) -> Runtime:
    """Make, with the production API's address answered by the sandbox."""
    return Runtime(APP, delay_scale=FAST, routes={API: sandbox.url})


@pytest.fixture
def connection(make: Runtime, sandbox: RunningSandbox) -> dict[str, Any]:
    return make.connect({"apiKey": sandbox.api_key})


def _run(make: Runtime, case: str, connection: dict[str, Any], **changes: Any) -> list[Any]:
    op = CATALOG.operation(CASES[case]["operation"])
    parameters = {**make_parameters(op, CASES[case]["input"]), **changes}
    return make.run_module(module_of(op), parameters, connection)


def _state(kind: JobKind, status: str) -> NormalizedState:
    return states.STATUSES[kind][status]


# -- the connection ----------------------------------------------------------------------------


def test_the_connection_checks_the_key_with_one_request(
    make: Runtime, sandbox: RunningSandbox
) -> None:
    connection = make.connect({"apiKey": sandbox.api_key})
    assert connection == {"apiKey": sandbox.api_key}
    [check] = make.log
    assert check["request"]["url"] == API + CATALOG.operation("model.list").path
    assert check["response"]["status"] == 200
    assert sandbox.api_key not in repr(make.log)


def test_a_wrong_key_is_an_invalid_access_token(make: Runtime, sandbox: RunningSandbox) -> None:
    with pytest.raises(MakeError) as caught:
        make.connect({"apiKey": "sk-not-a-key"})
    assert caught.value.kind == "InvalidAccessTokenError"
    assert caught.value.status == errors.AUTHENTICATION.http_status
    assert caught.value.message.startswith(errors.AUTHENTICATION.title)


# -- every module against the sandbox --------------------------------------------------------


CREATES = [n for n, c in CASES.items() if CATALOG.operation(c["operation"]).is_async]


@pytest.mark.parametrize("case", CREATES)
def test_each_job_module_outputs_the_job(
    make: Runtime, connection: dict[str, Any], case: str
) -> None:
    op = CATALOG.operation(CASES[case]["operation"])
    [job] = _run(make, case, connection)
    model = CATALOG.response_model(op.key).model_validate(job)
    contract = CATALOG.output(op.key)  # what the module outputs is the sample's shape
    raw = make.log[-1]["response"]["body"]
    assert job == expected_output(contract.fields, contract.job, raw)
    assert set(job) <= set(APP.module(module_of(op)).codes["samples"]) | {"error"}
    assert op.job is not None
    if op.job is JobKind.BATCH:
        assert len(job["jobs"]) == len(CASES[case]["input"]["prompts"])
    else:
        assert _state(op.job, job["status"]) in (S.PENDING, S.PROCESSING), model


def test_image_modules_answer_at_once(make: Runtime, connection: dict[str, Any]) -> None:
    [generated] = _run(make, "image with a transparent background", connection)
    assert len(generated["data"]) == CASES["image with a transparent background"]["input"]["n"]
    [edited] = _run(make, "image edit (multipart)", connection)
    assert edited["data"][0]["url"].endswith(".png")


def test_get_modules_follow_jobs_to_their_end(
    make: Runtime, connection: dict[str, Any], sandbox: RunningSandbox
) -> None:
    [video] = _run(make, "video from text, defaults left to the API", connection)
    [batch] = _run(make, "batch of two videos", connection)
    [voice] = _run(make, "voice", connection)
    sandbox.advance(3600)
    [got] = make.run_module("getVideo", {"id": video["id"]}, connection)
    assert (got["id"], got["status"]) == (video["id"], "completed")
    assert got["output_url"]
    [got_batch] = make.run_module("getVideoBatch", {"batch_id": batch["batch_id"]}, connection)
    assert got_batch["completed"] == got_batch["total_jobs"] == 2
    assert all(j["output_url"] for j in got_batch["jobs"])
    [got_job] = make.run_module("getJob", {"id": voice["id"]}, connection)
    assert _state(JobKind.SHARED, got_job["status"]) is S.COMPLETED


def test_list_models_and_the_model_selects(make: Runtime, connection: dict[str, Any]) -> None:
    models = make.run_module("listModels", {"limit": 100}, connection)
    listed = make.log[-1]["response"]["body"]["data"]  # the sandbox's items carry a type
    assert [m["id"] for m in models] == [m["id"] for m in listed]
    assert all("type" not in m for m in models), "the output keeps to the documented keys"
    by_type: dict[str, set[str]] = {}
    for m in listed:
        by_type.setdefault(m["type"], set()).add(m["id"])
    for rpc_id, kind in (
        ("listVideoModels", "video"),
        ("listImageModels", "image"),
        ("listImageEditModels", "image-edit"),
    ):
        options = make.run_rpc(rpc_id, connection)
        assert {o["value"] for o in options} == by_type[kind], rpc_id
        assert all(o["label"] == o["value"] for o in options)
    assert len(make.run_rpc("listModels", connection)) == len(models)


def test_calculate_price(make: Runtime, connection: dict[str, Any]) -> None:
    [quote] = _run(make, "price a video", connection)
    assert quote["credits"] > 0


def test_make_an_api_call_sends_the_path_method_headers_query_and_body(
    make: Runtime, connection: dict[str, Any]
) -> None:
    call = {
        "url": "/v1/models",
        "method": "GET",
        "headers": [{"key": "X-Trace", "value": "t-1"}],
        "qs": [{"key": "type", "value": "video"}],
    }
    [answer] = make.run_module("makeApiCall", call, connection)
    assert answer["statusCode"] == 200 and answer["body"]["data"]
    sent = make.log[-1]["request"]
    assert sent["url"] == API + "/v1/models?type=video"
    assert sent["headers"]["X-Trace"] == "t-1"
    assert sent["headers"][limits.AUTH_HEADER] != "t-1"  # the key still comes from the base
    price = CATALOG.operation(CASES["price a video"]["operation"])
    body = CASES["price a video"]["input"]
    call = {"url": price.path, "method": price.method, "body": body}
    [quote] = make.run_module("makeApiCall", call, connection)
    assert quote["statusCode"] == 200 and quote["body"]["credits"] > 0
    assert make.log[-1]["request"]["body"] == body


def test_make_an_api_call_stays_on_the_api(make: Runtime, connection: dict[str, Any]) -> None:
    absolute = {"url": "https://example.com/v1/models", "method": "GET"}
    with pytest.raises(MakeError) as refused:
        make.run_module("makeApiCall", absolute, connection)
    assert refused.value.kind == "DataError" and "does not match" in refused.value.message
    for mapped in ("https://example.com/v1/models", "@example.com/v1/models", "//example.com/x"):
        with pytest.raises(MakeError) as caught:  # a mapped value that slips by stays on the API
            make.run_module(
                "makeApiCall", {"url": mapped, "method": "GET"}, connection, check=False
            )
        assert caught.value.status == 404
        relative = mapped if mapped.startswith("/") else "/" + mapped
        assert make.log[-1]["request"]["url"] == API + relative


def test_list_models_outputs_at_most_its_limit(make: Runtime, connection: dict[str, Any]) -> None:
    every = make.run_module("listModels", {"limit": 100}, connection)
    assert len(every) > 2
    assert make.run_module("listModels", {"limit": 2}, connection) == every[:2]


@pytest.mark.parametrize("with_mask", [False, True])
def test_edit_image_sends_a_mask_part_only_when_given(
    make: Runtime, connection: dict[str, Any], with_mask: bool
) -> None:
    op = CATALOG.operation("image.edit")
    parameters = make_parameters(op, CASES["image edit (multipart)"]["input"])
    if with_mask:
        parameters["mask"] = {"fileName": "mask.png", "data": parameters["image"]["data"]}
    [edited] = make.run_module(module_of(op), parameters, connection)
    assert edited["data"][0]["url"].endswith(".png")
    [sent] = [e["request"] for e in make.log if e["request"]["url"].endswith(op.path)]
    assert ("mask" in sent["body"]) is with_mask


# -- waiting inside the module ---------------------------------------------------------------


def test_voice_and_compose_can_wait_for_their_result(
    make: Runtime, connection: dict[str, Any], sandbox: RunningSandbox
) -> None:
    [video] = _run(make, "video from text, defaults left to the API", connection)
    sandbox.advance(3600)
    [video] = make.run_module("getVideo", {"id": video["id"]}, connection)
    [voice] = _run(make, "voice", connection, waitForResult=True)
    assert (voice["status"], voice["type"]) == ("COMPLETED", "VOICE")
    [composed] = _run(
        make,
        "compose, mixing over the original",
        connection,
        waitForResult=True,
        video_url=video["output_url"],
        audio_url=voice["output_url"],
    )
    assert composed["status"] == "COMPLETED" and composed["output_url"].endswith(".mp4")


def test_a_failed_job_stops_the_waiting_module_with_its_reason(
    make: Runtime, connection: dict[str, Any]
) -> None:
    with pytest.raises(MakeError) as caught:
        _run(make, "voice", connection, waitForResult=True, text="Hello [sandbox:fail]")
    assert caught.value.kind == "RuntimeError"
    assert " ended FAILED: " in caught.value.message and "timed out" in caught.value.message


def test_a_job_still_running_past_the_limit_is_an_error_naming_it(
    sandbox_factory: Callable[..., RunningSandbox],
) -> None:
    slow = sandbox_factory(time_scale=1.0)  # real time: the voice takes seconds
    polls: list[float] = []
    make = Runtime(APP, sleep=polls.append, routes={API: slow.url})  # waits counted, not slept
    connection = make.connect({"apiKey": slow.api_key})
    with pytest.raises(MakeError) as caught:
        _run(make, "voice", connection, waitForResult=True)
    assert "is still" in caught.value.message and caught.value.message.startswith("Job voice_")
    assert sum(polls) <= WAIT_BUDGET_S


# -- the error mapping ---------------------------------------------------------------------------


def test_429_is_a_rate_limit_error_with_the_delay(
    make: Runtime, connection: dict[str, Any], sandbox: RunningSandbox
) -> None:
    sandbox.fault("fail", status=429, retry_after=7, operation="voice.create")
    with pytest.raises(MakeError) as caught:
        _run(make, "voice", connection)
    assert (caught.value.kind, caught.value.status) == ("RateLimitError", 429)
    assert caught.value.message.startswith(errors.RATE_LIMIT.title)
    assert caught.value.message.endswith("Retry after 7 s.")


def test_400_is_a_data_error_naming_the_field(make: Runtime, connection: dict[str, Any]) -> None:
    with pytest.raises(MakeError) as caught:
        _run(make, "video from image", connection, model="no-such-model")
    assert (caught.value.kind, caught.value.status) == ("DataError", 400)
    assert caught.value.message.startswith(errors.INVALID_REQUEST.title)
    assert "(field: model)" in caught.value.message


def test_a_content_policy_refusal_says_so(make: Runtime, connection: dict[str, Any]) -> None:
    with pytest.raises(MakeError) as caught:
        _run(make, "video from image", connection, prompt="A scene [sandbox:content_policy]")
    assert caught.value.kind == "DataError"
    assert caught.value.message.startswith(errors.CONTENT_POLICY.title)
    assert errors.CONTENT_POLICY.advice in caught.value.message


def test_missing_credits_and_a_provider_outage(
    make: Runtime, connection: dict[str, Any], sandbox: RunningSandbox
) -> None:
    sandbox.fault("fail", status=503, operation="image.generate")
    with pytest.raises(MakeError) as outage:
        _run(make, "image with a transparent background", connection)
    assert outage.value.kind == "ConnectionError"
    sandbox.set_credits(0)
    with pytest.raises(MakeError) as broke:
        _run(make, "voice", connection)
    assert broke.value.message.startswith(errors.INSUFFICIENT_CREDITS.title)


# -- without a relay: the job's own notification, confirmed by fetching the job ---------------


NOTICE_TRIGGER = "watchJobNotifications"


def _notice(make: Runtime, received: Any) -> dict[str, Any]:
    [bundle] = make.receive(NOTICE_WEBHOOK_ID, {}, body=received.json(), headers=received.headers)
    return bundle


def test_a_notification_is_confirmed_by_fetching_the_job(
    make: Runtime, connection: dict[str, Any], sandbox: RunningSandbox, make_hook: Target
) -> None:
    address = make_hook.url + "/make"  # the webhook address the builder maps
    [job] = _run(make, "video from text, defaults left to the API", connection, webhook_url=address)
    assert sandbox.job(job["id"])["webhook_url"] == address
    sandbox.advance(3600)
    [posted] = deliveries(make_hook, 1)
    [bundle] = make.run_trigger(NOTICE_TRIGGER, _notice(make, posted), connection)
    assert (bundle["event"], bundle["confirmed"]) == ("video.generation.completed", True)
    assert bundle["job"]["id"] == job["id"] and bundle["job"]["status"] == "completed"
    fetched = make.log[-1]["request"]
    assert (fetched["method"], fetched["url"]) == ("GET", f"{API}/v1/video/generations/{job['id']}")
    assert sandbox.api_key not in repr(make.log)


@pytest.mark.parametrize("case", ["voice", "compose, mixing over the original"])
def test_shared_status_jobs_are_confirmed_too(
    make: Runtime, connection: dict[str, Any], sandbox: RunningSandbox, make_hook: Target, case: str
) -> None:
    [job] = _run(make, case, connection, webhook_url=make_hook.url + "/make")
    sandbox.advance(3600)
    [posted] = deliveries(make_hook, 1)
    [bundle] = make.run_trigger(NOTICE_TRIGGER, _notice(make, posted), connection)
    assert bundle["confirmed"] is True and bundle["job"]["id"] == job["id"]
    claimed = CATALOG.events[bundle["event"]].state
    assert claimed.terminal and _state(JobKind.SHARED, bundle["job"]["status"]) is claimed


def test_a_forged_notification_does_not_pass_as_a_completion(
    make: Runtime, connection: dict[str, Any]
) -> None:
    [job] = _run(make, "video from text, defaults left to the API", connection)  # still running
    forged = {"id": job["id"], "status": "completed", "output_url": "https://evil.example/x.mp4"}
    headers = {limits.EVENT_HEADER: "video.generation.completed"}
    [bundle] = make.receive(NOTICE_WEBHOOK_ID, {}, body=forged, headers=headers)
    [checked] = make.run_trigger(NOTICE_TRIGGER, bundle, connection)
    assert checked["confirmed"] is False
    assert checked["job"]["status"] in ("pending", "processing")
    assert checked["job"]["output_url"] is None  # what the API says, never what was posted

    other = {**forged, "id": "vgen_not_a_job_of_this_account"}
    [bundle] = make.receive(NOTICE_WEBHOOK_ID, {}, body=other, headers=headers)
    with pytest.raises(MakeError) as caught:
        make.run_trigger(NOTICE_TRIGGER, bundle, connection)
    assert caught.value.status == 404

    claims_failure = {limits.EVENT_HEADER: "video.generation.failed"}
    [bundle] = make.receive(NOTICE_WEBHOOK_ID, {}, body=forged, headers=claims_failure)
    assert make.run_trigger(NOTICE_TRIGGER, bundle, connection)[0]["confirmed"] is False


# -- the instant trigger, through the real relay ------------------------------------------------


def _inbox(relay: RunningRelay, key: str) -> str:
    with relay.api(key) as api:
        inbox: str = api.get("/v1/inbox").json()["webhook_url"]
    return inbox


def test_the_trigger_subscribes_receives_and_unsubscribes(
    make: Runtime,
    connection: dict[str, Any],
    sandbox: RunningSandbox,
    relay: RunningRelay,
    make_hook: Target,
) -> None:
    events = ["video.generation.completed", "video.generation.failed"]
    hook_params = {"relayUrl": relay.url, "events": events, "fanOutBatch": False}
    data = make.attach(WEBHOOK_ID, hook_params, connection, url=make_hook.url + "/make")
    assert data["relayUrl"] == relay.url
    with relay.api(sandbox.api_key) as api:
        subscription = api.get(f"/v1/subscriptions/{data['subscriptionId']}").json()
    assert subscription["target_url"] == make_hook.url + "/make"
    assert subscription["events"] == events and subscription["status"] == "active"

    inbox = _inbox(relay, sandbox.api_key)
    [job] = _run(make, "video from text, defaults left to the API", connection, webhook_url=inbox)
    sandbox.advance(3600)
    [forwarded] = deliveries(make_hook, 1)
    [bundle] = make.receive(
        WEBHOOK_ID, hook_params, body=forwarded.json(), headers=forwarded.headers
    )
    assert bundle["event"] == "video.generation.completed"
    assert bundle["delivery_id"] == job["id"]
    assert bundle["payload"]["status"] == "completed" and bundle["payload"]["output_url"]

    make.detach(WEBHOOK_ID, data, connection)
    with relay.api(sandbox.api_key) as api:
        assert api.get(f"/v1/subscriptions/{data['subscriptionId']}").json()["status"] != "active"
    assert sandbox.api_key not in repr(make.log)


def test_creating_the_relay_trigger_without_a_relay_names_the_relay(
    make: Runtime, connection: dict[str, Any], sandbox: RunningSandbox
) -> None:
    events = {"events": ["video.generation.completed"], "fanOutBatch": False}
    with pytest.raises(MakeError) as missing:
        make.attach(WEBHOOK_ID, events, connection, url="https://hook.example/x")
    assert missing.value.kind == "DataError" and "Relay URL (relayUrl) is required" in str(
        missing.value
    )
    with pytest.raises(MakeError) as not_a_relay:  # the API's address instead of the relay's
        make.attach(
            WEBHOOK_ID,
            {**events, "relayUrl": sandbox.url},
            connection,
            url="https://hook.example/x",
        )
    assert not_a_relay.value.kind == "InvalidConfigurationError"
    message = not_a_relay.value.message
    assert message.startswith(f"The CreativeAI relay at {sandbox.url} did not accept")
    assert "(HTTP 404)" in message and "Relay URL" in message


@pytest.mark.parametrize("fan_out", [True, False])
def test_a_batch_arrives_once_or_once_per_video(
    make: Runtime,
    connection: dict[str, Any],
    sandbox: RunningSandbox,
    relay: RunningRelay,
    make_hook: Target,
    fan_out: bool,
) -> None:
    hook_params = {
        "relayUrl": relay.url,
        "events": ["video.batch.completed"],
        "fanOutBatch": fan_out,
    }
    make.attach(WEBHOOK_ID, hook_params, connection, url=make_hook.url + "/make")
    inbox = _inbox(relay, sandbox.api_key)
    [batch] = _run(make, "batch of two videos", connection, webhook_url=inbox)
    sandbox.advance(3600)
    expected = len(batch["jobs"]) if fan_out else 1
    received = deliveries(make_hook, expected)
    bundles = [
        b
        for r in received
        for b in make.receive(WEBHOOK_ID, hook_params, body=r.json(), headers=r.headers)
    ]
    assert len(bundles) == expected
    if fan_out:
        assert {b["delivery_id"] for b in bundles} == {j["id"] for j in batch["jobs"]}
        assert {b["event"] for b in bundles} == {"video.generation.completed"}
        assert all(b["payload"]["batch_id"] == batch["batch_id"] for b in bundles)
    else:
        [only] = bundles
        assert (only["event"], only["delivery_id"]) == ("video.batch.completed", batch["batch_id"])
        assert len(only["payload"]["jobs"]) == len(batch["jobs"])
