"""Make: a credit cap on every paid module, what a finished module was charged, the job a
wait that gives up leaves, run by the test-side runtime against the sandbox.

A cap makes the module ask the price endpoint first; over the cap, or when the price cannot
be checked, the module stops before the paid request. What the sandbox saw (its jobs and
batches, its credit balance) says whether anything was started or paid.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST
from make_iml.appfiles import LocalApp
from make_iml.inputs import make_cases, make_parameters, module_of
from make_iml.runtime import MakeError, Runtime

from connector.catalog import CATALOG, limits, steps, text
from connector.platforms.make import modules
from connector.sandbox import pricing
from connector.sandbox.harness import RunningSandbox

pytestmark = pytest.mark.slow

APP = LocalApp.load(Path(__file__).resolve().parents[1] / "make-app")
CASES = {c["name"]: c for c in make_cases()}
API = limits.DEFAULT_BASE_URL
PRICE_URL = API + CATALOG.operation(steps.PRICE_OPERATION).path
PAID = [
    n
    for n, c in CASES.items()
    if c["operation"] in {o.key for o in steps.capped(CATALOG.operations.values())}
]


@pytest.fixture
def make(sandbox: RunningSandbox) -> Runtime:
    return Runtime(APP, delay_scale=FAST, routes={API: sandbox.url})


@pytest.fixture
def connection(make: Runtime, sandbox: RunningSandbox) -> dict[str, Any]:
    connected = make.connect({"apiKey": sandbox.api_key})
    make.log.clear()  # the log holds the module's own requests only
    return connected


def _parameters(case: str, **changes: Any) -> tuple[str, dict[str, Any]]:
    op = CATALOG.operation(CASES[case]["operation"])
    return module_of(op), {**make_parameters(op, CASES[case]["input"]), **changes}


def _run(make: Runtime, case: str, connection: dict[str, Any], **changes: Any) -> list[Any]:
    module, parameters = _parameters(case, **changes)
    return make.run_module(module, parameters, connection)


def _started(sandbox: RunningSandbox) -> int:
    """Every create the sandbox took: its jobs (a batch's videos included) and batches."""
    batches = sandbox.http.get("/_sandbox/batches").json()["batches"]
    return len(sandbox.jobs()) + len(batches)


# -- the options ---------------------------------------------------------------------------------


def test_every_paid_module_offers_a_cap_and_a_record_key() -> None:
    for op in steps.capped(CATALOG.operations.values()):
        params = {p["name"]: p for p in APP.module(module_of(op)).codes["mappableParams"]}
        cap, key = params[modules.MAX_CREDITS_PARAM], params[modules.RECORD_KEY_PARAM]
        assert cap["label"] == text.sentence_case(steps.MAX_CREDITS.label) == "Max credits"
        assert cap["type"] == "uinteger" and not cap.get("required")
        assert cap["help"] == steps.MAX_CREDITS.help
        assert key["label"] == "Record key" and not key.get("required")
        assert steps.RECORD_KEY.without_ledger in key["help"]  # the guarantee needs the relay
        assert "relay" in key["help"]
    for component in APP.components["module"].values():
        names = {p.get("name") for p in component.codes.get("mappableParams", [])}
        op_keys = {o.key for o in steps.capped(CATALOG.operations.values())}
        if component.id not in {module_of(CATALOG.operation(k)) for k in op_keys}:
            assert modules.MAX_CREDITS_PARAM not in names, component.id


# -- the cap -------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", PAID)
def test_a_cap_at_the_estimate_starts_the_job_after_one_price_request(
    make: Runtime, connection: dict[str, Any], sandbox: RunningSandbox, case: str
) -> None:
    quoted = pricing.quote(_price_request(case)).credits
    before = sandbox.credits()
    [output] = _run(make, case, connection, maxCredits=quoted)
    price, create, *_ = make.log
    assert price["request"]["url"] == PRICE_URL and price["response"]["status"] == 200
    assert price["response"]["body"]["credits"] == quoted
    assert create["request"]["url"] != PRICE_URL
    answer = create["response"]["body"]  # what the create charged (a job that then fails,
    charged = answer.get("credits_charged", answer.get("credits"))  # is refunded later)
    if charged is None:  # an image answer names no credits, and is never refunded
        charged = before - sandbox.credits()
    assert charged == quoted  # charged what was quoted
    assert output


def _price_request(case: str) -> dict[str, Any]:
    request = CASES[case]["request"]
    return dict(request["json"]) if "json" in request else dict(request["multipart"]["fields"])


@pytest.mark.parametrize("case", PAID)
def test_a_cap_under_the_estimate_starts_nothing(
    make: Runtime, connection: dict[str, Any], sandbox: RunningSandbox, case: str
) -> None:
    quoted = pricing.quote(_price_request(case)).credits
    before = sandbox.credits()
    with pytest.raises(MakeError) as caught:
        _run(make, case, connection, maxCredits=quoted - 1)
    assert caught.value.kind == "DataError"
    assert caught.value.message == steps.over_cap(quoted, quoted - 1)
    assert [e["request"]["url"] for e in make.log] == [PRICE_URL]  # no paid request
    assert _started(sandbox) == 0 and sandbox.credits() == before


def test_a_batch_over_the_cap_as_a_whole_starts_none_of_its_videos(
    make: Runtime, connection: dict[str, Any], sandbox: RunningSandbox
) -> None:
    case = "batch of two videos"
    videos = [
        pricing.quote({**_price_request(case), "prompts": [p]}).credits
        for p in _price_request(case)["prompts"]
    ]
    total = pricing.quote(_price_request(case)).credits
    assert total == sum(videos) and len(videos) == 2
    cap = max(videos)  # enough for any one video, not for the batch
    with pytest.raises(MakeError) as caught:
        _run(make, case, connection, maxCredits=cap)
    assert (
        caught.value.message
        == f"not started: this would cost about {total} credits, the cap is {cap}"
    )
    assert _started(sandbox) == 0
    [batch] = _run(make, case, connection, maxCredits=total)
    assert _started(sandbox) == 1 + len(videos)  # the batch and its videos, once
    assert batch["credits_charged"] == total  # the finished module says what it was charged


def test_a_request_that_cannot_be_priced_is_not_started(
    make: Runtime, connection: dict[str, Any], sandbox: RunningSandbox
) -> None:
    module, parameters = _parameters(
        "video from text, defaults left to the API", model="not-a-model", maxCredits=500
    )
    with pytest.raises(MakeError) as caught:
        make.run_module(module, parameters, connection, check=False)
    assert caught.value.message.startswith(
        "not started: the price of this request cannot be checked, so the cap of 500 credits"
    )
    assert "not-a-model" in caught.value.message  # the API's reason
    assert caught.value.kind == "DataError"
    assert _started(sandbox) == 0


def test_a_price_check_refused_for_a_rate_limit_stays_a_rate_limit_error(
    make: Runtime, connection: dict[str, Any], sandbox: RunningSandbox
) -> None:
    sandbox.fault("fail", status=429, retry_after=7, operation=steps.PRICE_OPERATION)
    with pytest.raises(MakeError) as caught:
        _run(make, "voice", connection, maxCredits=100)
    assert caught.value.kind == "RateLimitError"  # Make waits and tries the run again
    assert caught.value.message.startswith("not started: the price of this request cannot")
    assert _started(sandbox) == 0


def test_without_a_cap_no_price_is_asked(
    make: Runtime, connection: dict[str, Any], sandbox: RunningSandbox
) -> None:
    _run(make, "voice", connection)
    assert PRICE_URL not in [e["request"]["url"] for e in make.log]
    assert _started(sandbox) == 1


# -- what a finished module was charged, and what a wait that gives up leaves -------------------


def test_a_finished_module_outputs_what_it_was_charged_and_refunded(
    make: Runtime, connection: dict[str, Any], sandbox: RunningSandbox
) -> None:
    [voice] = _run(make, "voice", connection, waitForResult=True)
    assert voice["state"] == "completed" and voice["credits"] == pricing.flat_credits(
        "voice.create"
    )
    [video] = _run(
        make,
        "video from text, defaults left to the API",
        connection,
        prompt="a failing clip [sandbox:fail]",
    )
    sandbox.advance(1000)
    get = CATALOG.operation("video.get")
    [failed] = make.run_module(module_of(get), {"id": video["id"]}, connection)
    assert failed["state"] == "failed"
    assert failed["credits_refunded"] == video["credits"] > 0 and failed["credits"] == 0


def test_a_wait_that_gives_up_names_the_job_and_the_module_that_fetches_it(
    sandbox_factory: Callable[..., RunningSandbox],
) -> None:
    slow = sandbox_factory(time_scale=1.0)  # real time: the voice takes seconds
    make = Runtime(APP, sleep=lambda _: None, routes={API: slow.url})
    connection = make.connect({"apiKey": slow.api_key})
    with pytest.raises(MakeError) as caught:
        _run(make, "voice", connection, waitForResult=True)
    [job] = slow.jobs()
    status_label = text.sentence_case(CATALOG.operation("job.get").label)
    assert caught.value.message.startswith(f"Job {job['id']} is still ")
    assert f"map its ID into {status_label} to fetch the result later" in caught.value.message
    [later] = make.run_module(
        module_of(CATALOG.operation("job.get")), {"id": job["id"]}, connection
    )
    assert later["id"] == job["id"]  # the module it names fetches it


# -- files within Make's limit --------------------------------------------------------------------

CDN = "https://cdn.creativeai.run"
LIMIT = limits.MAKE_MODULE_FILE


class _BigFiles(http.server.BaseHTTPRequestHandler):
    """Stands for the CDN holding a file larger than Make's module limit: answers a range
    request with the one byte and the total size, as a CDN does."""

    size = LIMIT.max_bytes + 2_345_678 if LIMIT.max_bytes else 0
    full_downloads = 0

    def do_GET(self) -> None:
        if self.headers.get("Range") == "bytes=0-0":
            self.send_response(206)
            self.send_header("Content-Range", f"bytes 0-0/{self.size}")
            self.send_header("Content-Length", "1")
            self.end_headers()
            self.wfile.write(b"\0")
            return
        type(self).full_downloads += 1
        self.send_response(200)
        self.send_header("Content-Length", str(self.size))
        self.end_headers()
        self.wfile.write(b"\0" * self.size)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def big_cdn() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BigFiles)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _voice_with_file(cdn_url: str, sandbox: RunningSandbox) -> Any:
    make = Runtime(APP, delay_scale=FAST, routes={API: sandbox.url, CDN: cdn_url})
    connection = make.connect({"apiKey": sandbox.api_key})
    [voice] = _run(make, "voice", connection, waitForResult=True, downloadFile=True)
    return voice


def test_a_finished_file_within_the_limit_is_handed_over(
    sandbox_factory: Callable[..., RunningSandbox],
) -> None:
    sandbox = sandbox_factory(public_base_url=CDN)
    voice = _voice_with_file(sandbox.url, sandbox)  # the CDN is the sandbox's own files
    assert voice["output_url"].startswith(CDN + "/files/")
    served = sandbox.http.get(voice["output_url"].removeprefix(CDN)).content
    assert voice["file_data"] == served and len(served) <= (LIMIT.max_bytes or 0)
    assert voice["file_name"] == voice["output_url"].rsplit("/", 1)[1]
    assert "file_message" not in voice


def test_a_file_over_the_limit_is_left_at_its_url_with_the_limit_and_the_size(
    sandbox_factory: Callable[..., RunningSandbox], big_cdn: str
) -> None:
    sandbox = sandbox_factory(public_base_url=CDN)
    _BigFiles.full_downloads = 0
    voice = _voice_with_file(big_cdn, sandbox)
    assert voice["output_url"].startswith(CDN) and voice["state"] == "completed"
    assert "file_data" not in voice and _BigFiles.full_downloads == 0  # never downloaded
    size_mb = f"{round(_BigFiles.size / 100_000) / 10:g}"
    assert voice["file_message"] == limits.file_over_limit(LIMIT, size_mb)
    assert "5 MB" in voice["file_message"] and "7.3 MB" in voice["file_message"]


def test_get_video_hands_over_a_finished_file_within_the_limit(
    sandbox_factory: Callable[..., RunningSandbox], big_cdn: str
) -> None:
    sandbox = sandbox_factory(public_base_url=CDN)
    make = Runtime(APP, delay_scale=FAST, routes={API: sandbox.url, CDN: sandbox.url})
    connection = make.connect({"apiKey": sandbox.api_key})
    [started] = _run(make, "video from text, defaults left to the API", connection)
    sandbox.advance(1000)
    get = module_of(CATALOG.operation("video.get"))
    [video] = make.run_module(get, {"id": started["id"], "downloadFile": True}, connection)
    assert video["state"] == "completed" and video["output_url"].startswith(CDN)
    served = sandbox.http.get(video["output_url"].removeprefix(CDN)).content
    if len(served) <= (LIMIT.max_bytes or 0):
        assert video["file_data"] == served and "file_message" not in video
    else:  # the sandbox's clip itself is over Make's limit
        assert "file_data" not in video and "over Make's" in video["file_message"]
    big = Runtime(APP, delay_scale=FAST, routes={API: sandbox.url, CDN: big_cdn})
    big_connection = big.connect({"apiKey": sandbox.api_key})
    [large] = big.run_module(get, {"id": started["id"], "downloadFile": True}, big_connection)
    assert "file_data" not in large and large["output_url"] == video["output_url"]
    assert large["file_message"].startswith("The file is 7.3 MB, over Make's module file")
    [plain] = make.run_module(get, {"id": started["id"]}, connection)
    assert not {"file_data", "file_message"} & set(plain)


def test_without_asking_no_file_is_fetched(
    make: Runtime, connection: dict[str, Any], sandbox: RunningSandbox
) -> None:
    [voice] = _run(make, "voice", connection, waitForResult=True)
    assert voice["state"] == "completed"
    assert not {"file_data", "file_message", "file_name"} & set(voice)
    assert not any("/files/" in e["request"]["url"] for e in make.log)
