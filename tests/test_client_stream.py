"""`stream()`: progress streams over a local server that drops, refuses and resumes on cue.

The sandbox tests run the three dialects end to end; these pin the connection rules:
retry only before the stream is established, resume with Last-Event-ID, settle through the
status endpoint when resuming fails, and never re-send a create that may have started.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_client_support import Reply, ScriptedServer, error_body, run

from connector.catalog import CATALOG, limits
from connector.client import (
    InvalidRequestError,
    JobMayExistError,
    StreamInterruptedError,
    UnexpectedResponseError,
)
from connector.client.sse import StreamUpdate

STREAM_PATH = CATALOG.operation("video.stream").path
STATUS_PATH = CATALOG.operation("video.get").path


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def event(
    seq: int, data: dict[str, Any], name: str | None = None, retry: int | None = None
) -> bytes:
    lines = [f"id: job_1:{seq}"]
    if name:
        lines.append(f"event: {name}")
    if retry is not None:
        lines.append(f"retry: {retry}")
    lines.append("data: " + json.dumps(data))
    return ("\n".join(lines) + "\n\n").encode()


def progress(seq: int, percent: int, **kw: Any) -> bytes:
    return event(seq, {"status": "progress", "percent": percent}, "progress", **kw)


def complete(seq: int) -> bytes:
    return event(seq, {"status": "complete", "url": "https://cdn.example/v.mp4"}, "complete")


def generation(seq: int, status: str, progress: int) -> bytes:
    return event(seq, {"id": "vgen_9", "status": status, "data": {"progress": progress}})


def stream(*events: bytes, cut: bool = False) -> Reply:
    return Reply(200, action="stream", events=list(events), cut=cut)


def start(client: Any) -> Any:
    return client.videos.stream(prompt="A drone shot", duration=5)


def kinds(updates: list[StreamUpdate]) -> list[tuple[str, float | None]]:
    return [(u.kind, u.percent) for u in updates]


def test_a_whole_stream_yields_progress_then_the_result(mode: str) -> None:
    with ScriptedServer([stream(progress(0, 0), progress(1, 50), complete(2))]) as server:
        out = run(mode, server.url, start)
    assert out.error is None
    assert kinds(out.result) == [("progress", 0), ("progress", 50), ("completed", None)]
    assert out.result[-1].urls == ("https://cdn.example/v.mp4",)
    got = server.received[0]
    assert got.method == "POST" and got.path == STREAM_PATH
    assert got.header("Accept") == limits.STREAM_MEDIA_TYPE
    assert got.json() == {"prompt": "A drone shot", "duration": 5, "stream": True}


def test_dialect_is_asked_for_in_the_query(mode: str) -> None:
    with ScriptedServer([stream(complete(0))]) as server:
        run(mode, server.url, lambda c: c.videos.stream(prompt="p", dialect="3"))
    assert server.received[0].path == STREAM_PATH + "?dialect=3"


@pytest.mark.parametrize("status", [429, 503])
def test_refusals_before_the_stream_starts_are_retried(mode: str, status: int) -> None:
    refused = Reply(
        status,
        error_body("rate_limit_exceeded", "slow down"),
        headers={limits.RETRY_AFTER_HEADER: "2"},
    )
    with ScriptedServer([refused, stream(progress(0, 0), complete(1))]) as server:
        out = run(mode, server.url, start)
    assert out.error is None and out.result[-1].kind == "completed"
    assert out.sleeps == [2.0] and len(server.received) == 2


def test_other_refusals_raise_their_error(mode: str) -> None:
    with ScriptedServer(
        [Reply(400, error_body("invalid_request_error", "bad", "prompt"))]
    ) as server:
        out = run(mode, server.url, start)
    error = out.raised(InvalidRequestError)
    assert error.param == "prompt" and len(server.received) == 1


def test_a_drop_resumes_with_the_last_event_id(mode: str) -> None:
    first = stream(progress(0, 0, retry=5), progress(1, 30), cut=True)
    rest = stream(progress(2, 60), complete(3))
    with ScriptedServer([first, rest]) as server:
        out = run(mode, server.url, start)
    assert out.error is None
    assert kinds(out.result) == [
        ("progress", 0),
        ("progress", 30),
        ("progress", 60),
        ("completed", None),
    ]
    resumed = server.received[1]
    assert resumed.header("Last-Event-ID") == "job_1:1"
    assert resumed.json() == server.received[0].json()
    assert out.sleeps == [0.005]  # the server's retry: 5 ms


def test_a_clean_end_without_a_result_also_resumes(mode: str) -> None:
    with ScriptedServer([stream(progress(0, 10)), stream(complete(1))]) as server:
        out = run(mode, server.url, start)
    assert out.result[-1].kind == "completed"
    assert server.received[1].header("Last-Event-ID") == "job_1:0"


def test_a_refused_resume_is_settled_by_the_status_endpoint(mode: str) -> None:
    first = stream(generation(0, "PENDING", 0), generation(1, "PROCESSING", 40), cut=True)
    done = {"id": "vgen_9", "status": "completed", "output_url": "https://cdn.example/9.mp4"}
    script = [
        first,
        Reply(503),
        Reply(200, {"id": "vgen_9", "status": "processing"}),
        Reply(200, done),
    ]
    with ScriptedServer(script) as server:
        out = run(mode, server.url, start)
    assert out.error is None
    last = out.result[-1]
    assert last.kind == "completed" and last.job_id == "vgen_9"
    assert last.urls == ("https://cdn.example/9.mp4",)
    methods = [(r.method, r.path) for r in server.received]
    status_path = STATUS_PATH.replace("{id}", "vgen_9")
    # one create, one resume (its 503 is not retried once the stream began), then polling
    assert methods == [
        ("POST", STREAM_PATH),
        ("POST", STREAM_PATH),
        ("GET", status_path),
        ("GET", status_path),
    ]


def test_a_failed_job_found_by_the_status_endpoint_is_a_failed_update(mode: str) -> None:
    first = stream(generation(0, "PROCESSING", 10), cut=True)
    failed = {
        "id": "vgen_9",
        "status": "failed",
        "error": {"message": "timed out", "code": "generation_timeout"},
    }
    with ScriptedServer([first, Reply(404), Reply(200, failed)]) as server:
        out = run(mode, server.url, start)
    assert out.error is None
    last = out.result[-1]
    assert (last.kind, last.code, last.message) == ("failed", "generation_timeout", "timed out")


def test_a_drop_before_any_event_is_not_resent(mode: str) -> None:
    with ScriptedServer([stream(cut=True), stream(complete(0))]) as server:
        out = run(mode, server.url, start)
    error = out.raised(JobMayExistError)
    assert "progress stream dropped before naming the job" in str(error)
    assert len(server.received) == 1  # the create was not sent twice


def test_without_a_job_id_a_refused_resume_says_the_job_exists(mode: str) -> None:
    with ScriptedServer([stream(progress(0, 10), cut=True), Reply(404)]) as server:
        out = run(mode, server.url, start)
    error = out.raised(JobMayExistError)
    assert "'job_1:0'" in str(error) and "HTTP 404" in str(error)
    assert "/v1/video/generations/{id}" in str(error)
    assert len(server.received) == 2


def test_with_a_job_id_but_no_status_endpoint_the_drop_is_reported(mode: str) -> None:
    first = stream(generation(0, "PROCESSING", 10), cut=True)
    with ScriptedServer([first, Reply(404)]) as server:
        out = run(mode, server.url, lambda c: c.images.stream(prompt="a garden"))
    error = out.raised(StreamInterruptedError)
    assert error.job_id == "vgen_9" and error.status == 404
    assert "vgen_9" in str(error)


def test_a_204_on_resume_ends_the_stream_quietly(mode: str) -> None:
    with ScriptedServer([stream(progress(0, 10), cut=True), Reply(204)]) as server:
        out = run(mode, server.url, start)
    assert out.error is None and kinds(out.result) == [("progress", 10)]


def test_a_json_answer_instead_of_a_stream_is_reported(mode: str) -> None:
    with ScriptedServer([Reply(200, {"id": "vgen_1", "status": "processing"})]) as server:
        out = run(mode, server.url, start)
    error = out.raised(UnexpectedResponseError)
    assert limits.STREAM_MEDIA_TYPE in str(error) and "probably started" in str(error)


def test_stream_input_is_checked_before_anything_is_sent(mode: str) -> None:
    from connector.catalog import InvalidInput

    with ScriptedServer([]) as server:
        out = run(mode, server.url, lambda c: c.videos.stream(prompt="p", duration=1))
    assert out.raised(InvalidInput).param == "duration"
    assert server.received == []
