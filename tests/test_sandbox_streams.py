"""Progress streams: three dialects, event ids, resuming with Last-Event-ID, dropped streams.

Streams are parsed with the client's own WHATWG decoder and dialect normalizer, so these
tests also prove the sandbox and the client agree.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import httpx
import pytest

from connector.catalog import limits
from connector.client.sse import ServerSentEvent, SSEDecoder, StreamUpdate, follow, normalize
from connector.sandbox import SandboxConfig, media
from connector.sandbox.harness import RunningSandbox

STEPS = SandboxConfig().stream_steps
VIDEO = "/v1/videos/generations/stream"
IMAGE = "/v1/images/generations/stream"


def open_stream(
    sb: RunningSandbox,
    path: str,
    body: dict[str, Any],
    dialect: str | None = None,
    last_event_id: str | None = None,
) -> tuple[httpx.Response, list[ServerSentEvent]]:
    """POST a stream request and read it to its end."""
    headers = {"Accept": limits.STREAM_MEDIA_TYPE}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    params = {"dialect": dialect} if dialect else {}
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    with sb.http.stream(
        "POST", path, json={**body, "stream": True}, params=params, headers=headers
    ) as answer:
        if answer.status_code == 200:
            for chunk in answer.iter_bytes():
                events.extend(decoder.feed(chunk))
            events.extend(decoder.close())
        else:
            answer.read()
    return answer, events


def updates(events: Iterable[ServerSentEvent]) -> list[StreamUpdate]:
    return [u for u in (normalize(e) for e in events) if u is not None]


def job_of(event: ServerSentEvent) -> str:
    return event.id.rsplit(":", 1)[0]


@pytest.mark.parametrize("dialect", ["1", "2", "3", None])
@pytest.mark.parametrize("path", [VIDEO, IMAGE])
def test_every_dialect_streams_to_a_real_output(
    sandbox: RunningSandbox, path: str, dialect: str | None
) -> None:
    answer, events = open_stream(sandbox, path, {"prompt": "A product on a turntable"}, dialect)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith(limits.STREAM_MEDIA_TYPE)
    job_id = job_of(events[0])
    assert [e.id for e in events] == [f"{job_id}:{n}" for n in range(STEPS + 1)]
    assert events[0].retry is not None  # reconnect quickly on a fast clock
    found = updates(events)
    assert [u.kind for u in found][-1] == "completed"
    assert all(u.kind == "progress" for u in found[:-1])
    percents = [u.percent for u in found if u.percent is not None and u.kind == "progress"]
    assert percents == sorted(percents) and len(percents) >= STEPS - 1
    [url] = found[-1].urls
    file = httpx.get(url)
    assert file.status_code == 200
    assert file.headers["content-type"] == ("video/mp4" if path == VIDEO else "image/png")
    if path == VIDEO:  # the stream's job is an ordinary video generation
        status = sandbox.http.get(f"/v1/video/generations/{job_id}").json()
        assert (status["status"], status["output_url"]) == ("completed", url)


def test_dialect_1_uses_named_events(sandbox: RunningSandbox) -> None:
    _, events = open_stream(sandbox, VIDEO, {"prompt": "x"}, "1")
    assert [e.event for e in events] == ["progress"] * STEPS + ["complete"]
    first, last = json.loads(events[0].data), json.loads(events[-1].data)
    assert first == {"status": "progress", "percent": 0}
    assert last["status"] == "complete" and last["url"].endswith(".mp4")


def test_dialect_2_frames_are_generation_objects_with_the_id(sandbox: RunningSandbox) -> None:
    _, events = open_stream(sandbox, VIDEO, {"prompt": "x", "duration": 4}, "2")
    frames = [json.loads(e.data) for e in events]
    job_id = job_of(events[0])
    assert all(set(f) == {"id", "status", "input", "data", "usage"} for f in frames)
    assert {f["id"] for f in frames} == {job_id}  # reconcile by id after a drop
    assert [f["status"] for f in frames] == ["PENDING"] + ["PROCESSING"] * (STEPS - 1) + [
        "COMPLETED"
    ]
    assert frames[0]["input"] == {"prompt": "x", "duration": 4}
    assert frames[-1]["data"]["outputs"][0].endswith(".mp4")
    assert frames[-1]["usage"] == {"credits": 60}


def test_dialect_3_frames_are_typed(sandbox: RunningSandbox) -> None:
    _, events = open_stream(sandbox, IMAGE, {"prompt": "x", "n": 2}, "3")
    frames = [json.loads(e.data) for e in events]
    assert frames[0]["type"] == "log"
    assert [f["type"] for f in frames[1:-1]] == ["progress"] * (STEPS - 1)
    assert [f["percentage"] for f in frames[1:-1]] == [
        round(100 * n / STEPS) for n in range(1, STEPS)
    ]
    assert frames[-1]["type"] == "complete" and len(frames[-1]["outputs"]) == 2
    png = httpx.get(frames[-1]["outputs"][1]).content
    assert png.startswith(b"\x89PNG")


@pytest.mark.parametrize(("dialect", "kind"), [("1", "error"), ("2", "FAILED"), ("3", "error")])
def test_a_failing_job_ends_its_stream_with_an_error(
    sandbox: RunningSandbox, dialect: str, kind: str
) -> None:
    before = sandbox.credits()
    _, events = open_stream(sandbox, VIDEO, {"prompt": "x [sandbox:fail]"}, dialect)
    last = updates(events)[-1]
    assert last.kind == "failed" and last.code == "generation_timeout" and last.message
    data = json.loads(events[-1].data)
    assert kind in (events[-1].event, data.get("status"), data.get("type"))
    assert sandbox.credits() == before  # refunded


def test_refusals_come_before_the_stream_as_json(sandbox: RunningSandbox) -> None:
    invalid, _ = open_stream(sandbox, VIDEO, {"duration": 4})
    assert invalid.status_code == 400 and invalid.json()["error"]["param"] == "prompt"
    blocked, _ = open_stream(sandbox, IMAGE, {"prompt": "[sandbox:content_policy]"})
    assert blocked.status_code == 400
    assert blocked.json()["error"]["code"] == "content_policy_violation"
    dialect, _ = open_stream(sandbox, VIDEO, {"prompt": "x"}, dialect="4")
    assert dialect.status_code == 400 and dialect.json()["error"]["param"] == "dialect"


def test_a_dropped_stream_resumes_after_its_last_event(sandbox: RunningSandbox) -> None:
    sandbox.fault("stream_drop", after_events=3)
    charged = sandbox.credits()
    _, first = open_stream(sandbox, VIDEO, {"prompt": "x"}, "2")
    assert len(first) == 3 and not updates(first)[-1].terminal  # ended without a result
    job_id = job_of(first[0])
    charged -= sandbox.credits()
    _, rest = open_stream(sandbox, VIDEO, {"prompt": "x"}, "2", last_event_id=first[-1].id)
    assert [e.id for e in rest] == [f"{job_id}:{n}" for n in range(3, STEPS + 1)]
    assert updates(rest)[-1].kind == "completed"
    assert len(sandbox.jobs()) == 1 and charged == 60  # resumed: no new job, no new charge
    again, none = open_stream(sandbox, VIDEO, {"prompt": "x"}, "2", last_event_id=rest[-1].id)
    assert again.status_code == 204 and none == []  # after the terminal event: stop


def test_resuming_an_unknown_stream_is_not_found(sandbox: RunningSandbox) -> None:
    for last in ("vgen_nope:3", "garbage"):
        answer, _ = open_stream(sandbox, VIDEO, {"prompt": "x"}, last_event_id=last)
        assert answer.status_code == 404
        assert answer.json()["error"]["param"] == "Last-Event-ID"


def test_the_clients_follow_reconnects_through_drops(sandbox: RunningSandbox) -> None:
    sandbox.fault("stream_drop", after_events=2, count=2)
    opened: list[str | None] = []

    def connect(last_event_id: str | None) -> tuple[int, Iterable[bytes]]:
        opened.append(last_event_id)
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        answer = sandbox.http.post(
            VIDEO + "?dialect=3", json={"prompt": "x", "stream": True}, headers=headers
        )
        return answer.status_code, [answer.content]

    found = list(follow(connect, sleep=lambda _: None))
    assert found[-1].kind == "completed" and found[-1].urls
    assert len(opened) == 3 and opened[0] is None
    assert opened[1] is not None and opened[1].endswith(":1")
    assert opened[2] is not None and opened[2].endswith(":3")


def test_a_stream_output_is_real_media(sandbox: RunningSandbox, tmp_path: Any) -> None:
    _, events = open_stream(sandbox, VIDEO, {"prompt": "x", "duration": 3}, "1")
    path = tmp_path / "s.mp4"
    path.write_bytes(httpx.get(updates(events)[-1].urls[0]).content)
    info = media.probe(path)
    assert info["video"]["codec"] == "h264"
    assert info["duration"] == pytest.approx(3, abs=0.2)
