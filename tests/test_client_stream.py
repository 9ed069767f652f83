"""`stream()`: progress streams over a local server that drops, refuses and resumes on cue.

The sandbox tests run the three dialects end to end; these pin the connection rules:
retry only before the stream is established, never reopen it (that would re-send the paid
create), settle a drop through the status endpoint with the job id the frames or event ids
gave, and say what is known when there is none.
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


def status_path(job_id: str) -> str:
    return STATUS_PATH.replace("{id}", job_id)


def calls(server: ScriptedServer) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in server.received]


DONE_1 = {"id": "job_1", "status": "completed", "output_url": "https://cdn.example/1.mp4"}


def test_a_drop_is_settled_by_the_status_endpoint_never_by_a_second_create(mode: str) -> None:
    # A server that ignores Last-Event-ID would start (and bill) a second job for a re-sent
    # create: the stream is never reopened; the job named by the event ids is looked up.
    creates = [stream(progress(0, 0, retry=5), progress(1, 30), cut=True)]
    second_job = stream(progress(0, 0), complete(1))
    statuses = [Reply(200, {"id": "job_1", "status": "processing"}), Reply(200, DONE_1)]

    def answer(got: Any) -> Reply:
        if got.method == "POST":
            return creates.pop(0) if creates else second_job
        return statuses.pop(0)

    with ScriptedServer(answer) as s:
        out = run(mode, s.url, start)
    assert out.error is None
    assert kinds(out.result) == [("progress", 0), ("progress", 30), ("completed", None)]
    assert out.result[-1].urls == ("https://cdn.example/1.mp4",)
    assert calls(s) == [("POST", STREAM_PATH)] + [("GET", status_path("job_1"))] * 2
    assert all(r.header("Last-Event-ID") is None for r in s.received)


def test_a_clean_end_without_a_result_is_settled_too(mode: str) -> None:
    with ScriptedServer([stream(progress(0, 10)), Reply(200, DONE_1)]) as server:
        out = run(mode, server.url, start)
    assert out.result[-1].kind == "completed"
    assert calls(server) == [("POST", STREAM_PATH), ("GET", status_path("job_1"))]


def test_a_drop_inside_the_final_event_still_gives_the_result(mode: str) -> None:
    # Events :0-:9 pass, then only the `id:` line of the final event, then a reset: that
    # event never counted, and the job is settled as completed, not lost.
    whole = [progress(n, 10 * n) for n in range(10)]
    first = stream(*whole, b"id: job_1:10\n", cut=True)
    with ScriptedServer([first, Reply(200, DONE_1)]) as server:
        out = run(mode, server.url, start)
    assert out.error is None
    assert out.result[-1].kind == "completed" and out.result[-1].job_id == "job_1"
    assert len(out.result) == 11
    assert calls(server) == [("POST", STREAM_PATH), ("GET", status_path("job_1"))]


def test_a_job_named_by_its_frames_is_followed_to_its_end(mode: str) -> None:
    first = stream(generation(0, "PENDING", 0), generation(1, "PROCESSING", 40), cut=True)
    done = {"id": "vgen_9", "status": "completed", "output_url": "https://cdn.example/9.mp4"}
    script = [first, Reply(200, {"id": "vgen_9", "status": "processing"}), Reply(200, done)]
    with ScriptedServer(script) as server:
        out = run(
            mode,
            server.url,
            start,
        )
    assert out.error is None
    last = out.result[-1]
    assert last.kind == "completed" and last.job_id == "vgen_9"
    assert last.urls == ("https://cdn.example/9.mp4",)
    assert calls(server) == [
        ("POST", STREAM_PATH),
        ("GET", status_path("vgen_9")),
        ("GET", status_path("vgen_9")),
    ]
    assert len(out.sleeps) == 1  # polled at the catalog's cadence, like wait()


def test_a_failed_job_found_by_the_status_endpoint_is_a_failed_update(mode: str) -> None:
    first = stream(generation(0, "PROCESSING", 10), cut=True)
    failed = {
        "id": "vgen_9",
        "status": "failed",
        "error": {"message": "timed out", "code": "generation_timeout"},
    }
    with ScriptedServer([first, Reply(200, failed)]) as server:
        out = run(mode, server.url, start)
    assert out.error is None
    last = out.result[-1]
    assert (last.kind, last.code, last.message) == ("failed", "generation_timeout", "timed out")


def test_a_drop_before_any_event_is_not_resent(mode: str) -> None:
    with ScriptedServer([stream(cut=True), stream(complete(0))]) as server:
        out = run(mode, server.url, start)
    error = out.raised(JobMayExistError)
    assert "progress stream dropped before naming the job" in str(error)
    assert "never name their job" in str(error)
    assert len(server.received) == 1  # the create was not sent twice


def test_an_event_id_naming_an_unknown_job_says_the_job_may_exist(mode: str) -> None:
    # Dialect 1 frames never name their job; the event id's job part is only a hint.
    with ScriptedServer([stream(progress(0, 10), cut=True), Reply(404)]) as server:
        out = run(mode, server.url, start)
    error = out.raised(JobMayExistError)
    text = str(error)
    assert "'job_1:0'" in text and "suggested job 'job_1'" in text and "HTTP 404" in text
    assert "dialects 1 and 3" in text and "never name their job" in text
    assert "/v1/video/generations/{id}" in text
    assert calls(server) == [("POST", STREAM_PATH), ("GET", status_path("job_1"))]


def test_an_event_id_without_a_job_part_says_the_job_may_exist(mode: str) -> None:
    first = stream(b'id: 7\nevent: progress\ndata: {"status":"progress","percent":5}\n\n', cut=True)
    with ScriptedServer([first]) as server:
        out = run(mode, server.url, start)
    error = out.raised(JobMayExistError)
    assert "last event id '7'" in str(error) and "never name their job" in str(error)
    assert len(server.received) == 1


def test_with_a_job_id_but_no_status_endpoint_the_drop_is_reported(mode: str) -> None:
    first = stream(generation(0, "PROCESSING", 10), cut=True)
    with ScriptedServer([first]) as server:
        out = run(mode, server.url, lambda c: c.images.stream(prompt="a garden"))
    error = out.raised(StreamInterruptedError)
    assert error.job_id == "vgen_9" and "no status endpoint" in str(error)
    assert "vgen_9" in str(error) and len(server.received) == 1


def test_a_204_ends_the_stream_quietly(mode: str) -> None:
    with ScriptedServer([Reply(204)]) as server:
        out = run(mode, server.url, start)
    assert out.error is None and out.result == []


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


def test_a_settled_stream_that_outlasts_the_wait_keeps_the_job_id(mode: str) -> None:
    from test_client_support import FakeClock

    from connector.client import WaitTimeoutError

    clock = FakeClock()
    first = stream(generation(0, "PROCESSING", 10), cut=True)
    script = [first] + [Reply(200, {"id": "vgen_9", "status": "processing"})] * 200
    with ScriptedServer(script) as server:
        out = run(
            mode,
            server.url,
            lambda c: c.videos.stream(prompt="A drone shot", poll_interval=120),
            on_sleep=clock.advance,
            clock=clock,
        )
    error = out.raised(WaitTimeoutError)
    assert error.job_id == "vgen_9"
    assert "GET /v1/video/generations/vgen_9" in str(error)
    assert "creativeai-connector status vgen_9" in str(error)
    assert [r.method for r in server.received].count("POST") == 1
