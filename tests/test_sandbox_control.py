"""Steering the sandbox: input triggers, fault switches, the control API, config, serving."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from connector.catalog import errors, fields, limits
from connector.sandbox import ApiKey, SandboxConfig, create_app, sandbox_of, triggers
from connector.sandbox.config import ENV_VARS
from connector.sandbox.harness import RunningSandbox, WebhookSink
from connector.serving import serve

FROZEN = 1000.0
Factory = Callable[..., RunningSandbox]


@pytest.fixture
def frozen(sandbox_factory: Factory) -> RunningSandbox:
    return sandbox_factory(time_scale=FROZEN)


def error_of(answer: httpx.Response) -> dict[str, Any]:
    detail: dict[str, Any] = answer.json()["error"]
    return detail


# -- triggers in ordinary input -------------------------------------------------------------------

#: The code each refusal status answers with.
REFUSAL_CODES = {
    400: errors.CONTENT_POLICY.code,
    429: errors.RATE_LIMIT.code,
    500: errors.SERVER_ERROR.code,
    503: errors.PROVIDER_UNAVAILABLE.code,
}
REFUSALS = [
    ("/v1/video/generations", {"prompt": "a [sandbox:content_policy] b"}, 400, "prompt"),
    ("/api/generate/voice", {"text": "[sandbox:content_policy]"}, 400, "text"),
    (
        "/api/generate/chart-to-video",
        {"chart_image_url": "https://e.com/c.png", "title": "[sandbox:content_policy]"},
        400,
        "title",
    ),
    (
        "/v1/video/generations/batch",
        {"prompts": [{"prompt": "ok"}, {"prompt": "[sandbox:content_policy]"}]},
        400,
        "prompts[1].prompt",
    ),
    ("/v1/images/generations", {"prompt": "[sandbox:provider_unavailable]"}, 503, None),
    ("/api/generate/voice", {"text": "[sandbox:server_error]"}, 500, None),
    ("/v1/video/generations", {"prompt": "[sandbox:rate_limit]"}, 429, None),
    ("/v1/video/generations", {"prompt": "[sandbox:failover]", "failover": False}, 503, None),
]


@pytest.mark.parametrize(("path", "body", "status", "param"), REFUSALS)
def test_refusal_triggers_answer_at_once_and_are_not_billed(
    sandbox: RunningSandbox, path: str, body: dict[str, Any], status: int, param: str | None
) -> None:
    before = sandbox.credits()
    answer = sandbox.http.post(path, json=body)
    assert answer.status_code == status
    error = error_of(answer)
    assert error["code"] == REFUSAL_CODES[status]
    assert error["param"] == param
    if status == 400:
        assert error["type"] == errors.INVALID_REQUEST.code  # as the docs' example shows
    if status == 429:
        assert answer.headers[limits.RETRY_AFTER_HEADER] == "1"
    assert "[sandbox:" in error["message"]  # says why, for the builder
    assert sandbox.credits() == before and sandbox.jobs() == []


def test_failover_runs_on_another_model_and_says_so(frozen: RunningSandbox) -> None:
    answer = frozen.http.post("/v1/video/generations", json={"prompt": "x [sandbox:failover]"})
    job = answer.json()
    assert job["model"] == "auto" and job["failover_used"] is True
    assert job["model_actual"] == "seedance-1.5-pro-t2v"
    assert job["credits"] == 30  # charged for the model that ran
    assert answer.headers[limits.MODEL_ACTUAL_HEADER] == job["model_actual"]
    assert answer.headers[limits.FAILOVER_USED_HEADER] == "true"
    frozen.advance(30)
    status = frozen.http.get(f"/v1/video/generations/{job['id']}")
    assert status.json()["status"] == "completed" and status.json()["failover_used"] is True
    assert status.headers[limits.FAILOVER_USED_HEADER] == "true"
    image = frozen.http.post("/v1/images/generations", json={"prompt": "[sandbox:failover]"})
    assert image.headers[limits.MODEL_ACTUAL_HEADER] != fields.IMAGE_MODEL.default
    assert image.headers[limits.FAILOVER_USED_HEADER] == "true"


def test_fail_ends_the_job_failed_and_refunds(frozen: RunningSandbox) -> None:
    before = frozen.credits()
    job = frozen.http.post("/v1/video/generations", json={"prompt": "x [sandbox:fail]"}).json()
    assert job["status"] == "processing" and frozen.credits() == before - 60
    frozen.advance(30)
    done = frozen.http.get(f"/v1/video/generations/{job['id']}").json()
    assert done["status"] == "failed" and done["output_url"] is None
    assert done["error"]["code"] == "generation_timeout"
    assert done["error"]["code"] in errors.JOB_FAILURES
    assert (done["credits"], done["credits_refunded"]) == (0, 60)
    assert frozen.credits() == before


def test_fail_on_a_synchronous_image_is_a_500_not_billed(sandbox: RunningSandbox) -> None:
    before = sandbox.credits()
    answer = sandbox.http.post("/v1/images/generations", json={"prompt": "[sandbox:fail]"})
    assert answer.status_code == 500 and error_of(answer)["code"] == "server_error"
    assert sandbox.credits() == before


@pytest.mark.parametrize(("auto_retry", "status"), [(True, "completed"), (False, "failed")])
def test_flaky_jobs_are_saved_by_webhook_auto_retry(
    frozen: RunningSandbox, auto_retry: bool, status: str
) -> None:
    body = {"prompt": "x [sandbox:flaky]", "webhook_auto_retry": auto_retry}
    job = frozen.http.post("/v1/video/generations", json=body).json()
    frozen.advance(21)
    first = frozen.http.get(f"/v1/video/generations/{job['id']}").json()
    assert first["status"] == ("processing" if auto_retry else "failed")
    frozen.advance(21)
    done = frozen.http.get(f"/v1/video/generations/{job['id']}").json()
    assert done["status"] == status
    if not auto_retry:
        assert done["error"]["code"] == "generation_failed"


def test_a_misspelt_trigger_is_refused_with_the_known_ones(sandbox: RunningSandbox) -> None:
    answer = sandbox.http.post("/api/generate/voice", json={"text": "[sandbox:explode]"})
    assert answer.status_code == 400
    error = error_of(answer)
    assert error["param"] == "text"
    assert all(f"[sandbox:{name}]" in error["message"] for name in triggers.TRIGGERS)


def test_triggers_are_stripped_from_revised_prompts(sandbox: RunningSandbox) -> None:
    result = sandbox.http.post(
        "/v1/images/generations", json={"prompt": "garden [sandbox:failover] at dusk"}
    ).json()
    assert "[sandbox:" not in result["data"][0]["revised_prompt"]
    assert "garden at dusk" in result["data"][0]["revised_prompt"]


# -- fault switches -------------------------------------------------------------------------------


def test_fail_the_next_requests_then_recover(sandbox: RunningSandbox) -> None:
    sandbox.fault("fail", status=503, count=2)
    assert [sandbox.http.get("/v1/models").status_code for _ in range(3)] == [503, 503, 200]
    sandbox.fault("fail", status=429, retry_after=2)
    limited = sandbox.http.get("/v1/models")
    assert limited.status_code == 429 and error_of(limited)["code"] == "rate_limit_exceeded"
    assert limited.headers[limits.RETRY_AFTER_HEADER] == "2"
    assert limited.headers[limits.RETRY_AFTER_MS_HEADER] == "2000"
    assert sandbox.control("GET", "faults")["faults"] == []


@pytest.mark.parametrize("status", sorted({e.http_status for e in errors.ALL}))
def test_every_error_status_answers_with_its_catalog_code(
    sandbox: RunningSandbox, status: int
) -> None:
    sandbox.fault("fail", status=status)
    answer = sandbox.http.post("/api/generate/voice", json={"text": "hi"})
    assert answer.status_code == status
    error = error_of(answer)
    assert error["code"] == errors.for_status(status).code
    assert error["type"] and error["message"]
    if status == 429:
        assert answer.headers[limits.RETRY_AFTER_HEADER] == "1"


def test_faults_can_target_an_operation_a_path_or_a_method(sandbox: RunningSandbox) -> None:
    job = sandbox.http.post("/v1/video/generations", json={"prompt": "x"}).json()
    sandbox.fault("fail", status=500, operation="video.get")
    assert sandbox.http.get("/v1/models").status_code == 200
    assert sandbox.http.get(f"/v1/video/generations/{job['id']}").status_code == 500
    sandbox.fault("fail", status=503, path="/api/generate/*", method="GET")
    assert sandbox.http.post("/api/generate/voice", json={"text": "a"}).status_code == 202
    assert sandbox.http.get("/api/generate/status/nope").status_code == 503
    sandbox.fault("fail", status=500, path="/files/*")
    assert httpx.get(sandbox.url + "/files/anything.mp4").status_code == 500
    sandbox.fault("fail", status=500)
    assert sandbox.http.get("/_sandbox/clock").status_code == 200  # control is never faulted
    sandbox.clear_faults()
    assert sandbox.http.get("/v1/models").status_code == 200


def test_reset_before_drops_the_connection_and_creates_nothing(sandbox: RunningSandbox) -> None:
    sandbox.fault("reset")
    with pytest.raises(httpx.TransportError):
        sandbox.http.post("/v1/video/generations", json={"prompt": "x"})
    assert sandbox.jobs() == []


def test_reset_after_does_the_work_but_loses_the_answer(sandbox: RunningSandbox) -> None:
    before = sandbox.credits()
    sandbox.fault("reset", when="after", operation="video.create_from_text")
    with pytest.raises(httpx.TransportError):
        sandbox.http.post("/v1/video/generations", json={"prompt": "reconcile me"})
    [job] = sandbox.jobs()  # accepted and billed: a client must reconcile, not blindly retry
    assert job["prompt"] == "reconcile me" and sandbox.credits() == before - 60


def test_delay_holds_the_answer(sandbox: RunningSandbox) -> None:
    sandbox.fault("delay", seconds=0.3)
    started = time.monotonic()
    assert sandbox.http.get("/v1/models").status_code == 200
    assert time.monotonic() - started >= 0.3
    assert sandbox.control("GET", "faults")["faults"] == []  # used up


@pytest.mark.parametrize(
    ("spec", "param"),
    [
        ({"action": "explode"}, "action"),
        ({"action": "fail", "status": 200}, "status"),
        ({"action": "fail", "status": 503, "count": 0}, "count"),
        ({"action": "fail", "status": 503, "colour": "red"}, "colour"),
        ({"action": "fail", "status": 503, "operation": "video.delete"}, "operation"),
        ({"action": "reset", "when": "later"}, "when"),
        ({"action": "delay"}, "seconds"),
        ({"action": "stream_drop", "after_events": -1}, "after_events"),
        ({"action": "webhook_drop", "path": "/x"}, "path"),
    ],
)
def test_bad_fault_specs_name_the_field(
    sandbox: RunningSandbox, spec: dict[str, Any], param: str
) -> None:
    answer = sandbox.http.post("/_sandbox/faults", json=spec)
    assert answer.status_code == 400
    assert error_of(answer)["param"] == param
    assert param in error_of(answer)["message"]


# -- the control API ------------------------------------------------------------------------------


def test_the_clock_moves_when_advanced(frozen: RunningSandbox) -> None:
    start = frozen.now()
    assert frozen.advance(12.5) == pytest.approx(start + 12.5, abs=0.01)
    clock = frozen.control("GET", "clock")
    assert clock["time_scale"] == FROZEN and clock["time"].endswith("Z")
    bad = frozen.http.post("/_sandbox/clock", json={"advance": -1})
    assert bad.status_code == 400 and error_of(bad)["param"] == "advance"


def test_jobs_can_be_listed_filtered_and_read(frozen: RunningSandbox) -> None:
    video = frozen.http.post("/v1/video/generations", json={"prompt": "x"}).json()
    voice = frozen.http.post("/api/generate/voice", json={"text": "x"}).json()
    assert {j["id"] for j in frozen.jobs()} == {video["id"], voice["id"]}
    assert [j["id"] for j in frozen.jobs(operation="voice.create")] == [voice["id"]]
    assert [j["id"] for j in frozen.jobs(status="processing")] == [video["id"]]
    assert frozen.job(voice["id"])["key"] == "sandbox"
    assert frozen.http.get("/_sandbox/jobs/nope").status_code == 404
    frozen.advance(60)
    assert len(frozen.jobs(state="completed")) == 2
    assert frozen.control("GET", "files")["files"]


def test_reset_forgets_everything_and_restores_credits(
    frozen: RunningSandbox, webhook_sink: WebhookSink
) -> None:
    frozen.http.post(
        "/api/generate/voice", json={"text": "x", "webhook_url": webhook_sink.url_for()}
    )
    frozen.advance(60)
    webhook_sink.wait_for(1)
    frozen.fault("fail", status=500, path="/nothing")
    frozen.set_credits(3)
    frozen.reset()
    overview = frozen.control("GET", "")
    assert overview["jobs"] == 0 and overview["faults"] == []
    assert overview["webhook_attempts"] == 0
    assert frozen.credits() == ApiKey("x").credits


def test_credits_are_set_by_key_name_or_key(sandbox_factory: Factory) -> None:
    sb = sandbox_factory(api_keys=(ApiKey("sk-a", label="a"), ApiKey("sk-b", label="b")))
    assert sb.set_credits(5, key="b") == 5 and sb.credits("b") == 5
    by_key = sb.http.post("/_sandbox/credits", json={"api_key": "sk-a", "credits": 7})
    assert by_key.json() == {"key": "a", "credits": 7}
    unknown = sb.http.post("/_sandbox/credits", json={"api_key": "sk-secret-zz", "credits": 1})
    assert unknown.status_code == 400 and "sk-secret-zz" not in unknown.text
    assert sb.http.post("/_sandbox/credits", json={"credits": -1}).status_code == 400


def test_the_control_api_is_for_loopback_only_and_can_be_off() -> None:
    app = create_app(SandboxConfig())
    try:
        remote = app.test_client().get("/_sandbox/", environ_base={"REMOTE_ADDR": "10.1.2.3"})
        assert remote.status_code == 403
        local = app.test_client().get("/_sandbox/", environ_base={"REMOTE_ADDR": "127.0.0.1"})
        assert local.status_code == 200
    finally:
        sandbox_of(app).close()
    off = create_app(SandboxConfig(control=False))
    try:
        assert off.test_client().get("/_sandbox/").status_code == 404
    finally:
        sandbox_of(off).close()


def test_output_links_use_the_public_base_url(sandbox_factory: Factory) -> None:
    sb = sandbox_factory(public_base_url="https://Tunnel.example.com/sandbox/", time_scale=FROZEN)
    video = sb.http.post("/v1/video/generations", json={"prompt": "x"}).json()
    voice = sb.http.post("/api/generate/voice", json={"text": "x"}).json()
    sb.advance(60)
    video_url = sb.http.get(f"/v1/video/generations/{video['id']}").json()["output_url"]
    voice_url = sb.http.get(f"/api/generate/status/{voice['id']}").json()["output_url"]
    assert video_url.startswith("https://Tunnel.example.com/sandbox/files/")
    # The sandbox knows these links are its own files and composes them.
    comp = sb.http.post(
        "/api/generate/compose",
        json={"video_url": video_url, "audio_url": voice_url, "replace_audio": True},
    ).json()
    sb.advance(60)
    assert sb.http.get(f"/api/generate/status/{comp['id']}").json()["status"] == "COMPLETED"


def test_files_are_served_with_ranges_and_unknown_ones_are_404(frozen: RunningSandbox) -> None:
    job = frozen.http.post("/v1/images/generations", json={"prompt": "x", "size": "1024x1024"})
    url = job.json()["data"][0]["url"]
    part = httpx.get(url, headers={"Range": "bytes=0-7"})
    assert part.status_code == 206 and part.content == b"\x89PNG\r\n\x1a\n"
    assert httpx.head(url).status_code == 200
    missing = httpx.get(frozen.url + "/files/nope.png")
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"


# -- configuration --------------------------------------------------------------------------------


def test_config_from_the_environment() -> None:
    config = SandboxConfig.from_env(
        {
            "SANDBOX_API_KEYS": "sk-one:free:10, sk-two:pro::whsec_2",
            "SANDBOX_TIME_SCALE": "0.01",
            "SANDBOX_VIDEO_SECONDS": "7",
            "SANDBOX_PUBLIC_URL": "https://tunnel.example.com/",
            "SANDBOX_RATE_LIMITS": "off",
        }
    )
    one, two = config.api_keys
    assert (one.plan, one.credits, one.secret) == ("free", 10, "sk-one")
    assert (two.plan, two.credits, two.secret) == ("pro", ApiKey("x").credits, "whsec_2")
    assert config.time_scale == 0.01 and config.job_seconds["video"] == 7
    assert config.job_seconds["voice"] == SandboxConfig().job_seconds["voice"]
    assert config.public_base_url == "https://tunnel.example.com"
    assert config.rate_limits is False
    assert all(name.startswith("SANDBOX_") for name in ENV_VARS)


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"SANDBOX_API_KEYS": "sk-secret-1:gold"}, "gold"),
        ({"SANDBOX_API_KEYS": "sk-secret-1:free:lots"}, "lots"),
        ({"SANDBOX_TIME_SCALE": "fast"}, "SANDBOX_TIME_SCALE"),
        ({"SANDBOX_TIME_SCALE": "0"}, "time_scale"),
        ({"SANDBOX_CONTROL": "maybe"}, "SANDBOX_CONTROL"),
    ],
)
def test_bad_config_is_refused_without_showing_keys(env: dict[str, str], words: str) -> None:
    with pytest.raises(ValueError, match=words) as caught:
        SandboxConfig.from_env(env)
    assert "sk-secret-1" not in str(caught.value)


def test_keys_never_show_in_reprs() -> None:
    key = ApiKey("sk-very-secret", signing_secret="whsec_hidden")
    text = repr(key) + repr(SandboxConfig(api_keys=(key,)))
    assert "sk-very-secret" not in text and "whsec_hidden" not in text
    assert key.name.startswith("key-")


# -- serving --------------------------------------------------------------------------------------


def test_serve_runs_an_app_on_a_free_port_and_stops_cleanly() -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode()]

    with serve(app) as one, serve(app) as two:
        assert one.port != two.port and one.port > 0
        assert one.url == f"http://127.0.0.1:{one.port}"
        assert httpx.get(one.url + "/hello").text == "/hello"
        assert httpx.get(two.url + "/there").text == "/there"
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", one.port), timeout=1):
        pass


def test_python_dash_m_runs_the_sandbox_until_interrupted() -> None:
    command = [sys.executable, "-m", "connector.sandbox", "--port", "0", "--quiet"]
    env = {**os.environ, "SANDBOX_TIME_SCALE": "0.01"}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            url = first.split(" on ", 1)[1].split()[0]
            answer = httpx.get(url + "/v1/models", headers={"Authorization": "Bearer sk-sandbox"})
            assert answer.status_code == 200
        finally:
            process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
