"""`wait`: bounded polling at the catalog's cadence, for videos, shared-status jobs and batches."""

from __future__ import annotations

from typing import Any

import pytest
from test_client_support import FakeClock, Reply, ScriptedServer, run

from connector.catalog import limits
from connector.catalog.responses import BatchCreated, BatchStatus, SharedJob, VideoJob
from connector.catalog.spec import JobKind
from connector.client import JobFailedError, WaitTimeoutError

VIDEO_EVERY = limits.POLL_CADENCE[JobKind.VIDEO].interval
SHARED_EVERY = limits.POLL_CADENCE[JobKind.SHARED].interval


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def video(status: str, **extra: Any) -> dict[str, Any]:
    return {"id": "vgen_1", "object": "video.generation", "status": status, **extra}


def shared(status: str, **extra: Any) -> dict[str, Any]:
    return {"id": "voice_1", "type": "VOICE", "status": status, **extra}


def polled(mode: str, script: list[Reply], job: Any, **wait_args: Any) -> Any:
    clock = FakeClock()
    seen: list[Any] = []
    with ScriptedServer(script) as server:
        out = run(
            mode,
            server.url,
            lambda c: c.wait(job, on_progress=seen.append, **wait_args),
            clock=clock,
            on_sleep=clock.advance,
        )
    out.seen = seen
    out.paths = [r.path for r in server.received]
    return out


def test_video_is_polled_every_ten_seconds_until_completed(mode: str) -> None:
    job = VideoJob.model_validate(video("processing"))
    done = video("completed", output_url="https://cdn.example/v.mp4")
    script = [Reply(200, video("pending")), Reply(200, video("processing")), Reply(200, done)]
    out = polled(mode, script, job)
    assert out.error is None
    assert isinstance(out.result, VideoJob) and out.result.output_url == "https://cdn.example/v.mp4"
    assert out.sleeps == [VIDEO_EVERY, VIDEO_EVERY]
    assert out.paths == ["/v1/video/generations/vgen_1"] * 3
    assert [j.status for j in out.seen] == ["pending", "processing", "completed"]
    assert out.result.meta is not None and out.result.meta.status_code == 200


def test_shared_jobs_use_the_shared_cadence_and_upper_case_states(mode: str) -> None:
    job = SharedJob.model_validate(shared("PENDING"))
    script = [Reply(200, shared("PROCESSING")), Reply(200, shared("COMPLETED", output_url="u"))]
    out = polled(mode, script, job)
    assert out.error is None and out.result.status == "COMPLETED"
    assert out.sleeps == [SHARED_EVERY]
    assert out.paths == ["/api/generate/status/voice_1"] * 2


def test_interval_is_overridable(mode: str) -> None:
    job = VideoJob.model_validate(video("processing"))
    out = polled(
        mode, [Reply(200, video("processing")), Reply(200, video("completed"))], job, interval=2.5
    )
    assert out.sleeps == [2.5]


def test_timeout_raises_with_the_job_id_and_polling_is_bounded(mode: str) -> None:
    job = VideoJob.model_validate(video("processing"))
    script = [Reply(200, video("processing")) for _ in range(10)]
    out = polled(mode, script, job, timeout=25)
    error = out.raised(WaitTimeoutError)
    assert error.job_id == "vgen_1" and error.timeout == 25
    assert isinstance(error, TimeoutError)
    assert "vgen_1" in str(error) and "processing" in str(error)
    # it says how to fetch the result later
    assert "GET /v1/video/generations/vgen_1" in str(error)
    assert "creativeai-connector status vgen_1" in str(error)
    assert error.status_operation == "video.get"
    assert out.sleeps == [VIDEO_EVERY, VIDEO_EVERY, 5.0]  # never past the deadline
    assert len(out.paths) == 4


def test_failed_job_raises_with_the_job(mode: str) -> None:
    job = VideoJob.model_validate(video("processing"))
    failed = video(
        "failed",
        error={
            "message": "Video generation timed out",
            "type": "server_error",
            "code": "generation_timeout",
        },
    )
    out = polled(mode, [Reply(200, failed)], job)
    error = out.raised(JobFailedError)
    assert error.job.id == "vgen_1" and error.job.status == "failed"
    assert "Video generation timed out (generation_timeout)" in str(error)


def test_failed_job_is_returned_when_asked(mode: str) -> None:
    job = VideoJob.model_validate(video("processing"))
    out = polled(
        mode, [Reply(200, video("failed", error_message="boom"))], job, raise_on_failure=False
    )
    assert out.error is None and out.result.status == "failed"


def test_canceled_shared_job_counts_as_failed(mode: str) -> None:
    job = SharedJob.model_validate(shared("PROCESSING"))
    out = polled(mode, [Reply(200, shared("CANCELED"))], job)
    error = out.raised(JobFailedError)
    assert error.job.status == "CANCELED"


def test_a_finished_job_is_returned_without_a_request(mode: str) -> None:
    job = VideoJob.model_validate(video("completed"))
    out = polled(mode, [], job)
    assert out.result is job and out.paths == []


def test_batches_are_followed_until_every_video_ends(mode: str) -> None:
    created = BatchCreated.model_validate(
        {
            "batch_id": "b1",
            "total_jobs": 2,
            "jobs": [{"id": "v1", "status": "pending"}, {"id": "v2", "status": "pending"}],
        }
    )
    jobs = [{"id": "v1", "status": "completed"}, {"id": "v2", "status": "processing"}]
    halfway = {"batch_id": "b1", "total_jobs": 2, "completed": 1, "processing": 1, "jobs": jobs}
    end_jobs = [
        {"id": "v1", "status": "completed"},
        {"id": "v2", "status": "failed", "error_message": "x"},
    ]
    end = {"batch_id": "b1", "total_jobs": 2, "completed": 1, "failed": 1, "jobs": end_jobs}
    out = polled(mode, [Reply(200, halfway), Reply(200, end)], created)
    assert out.error is None  # a batch with a failed video still ends; failures are per video
    assert isinstance(out.result, BatchStatus) and out.result.failed == 1
    assert out.paths == ["/v1/video/generations/batch/b1"] * 2
    assert out.sleeps == [limits.POLL_CADENCE[JobKind.BATCH].interval]


def test_unknown_status_spellings_keep_polling(mode: str) -> None:
    job = VideoJob.model_validate(video("processing"))
    out = polled(mode, [Reply(200, video("rendering")), Reply(200, video("completed"))], job)
    assert out.error is None and len(out.paths) == 2


def test_only_jobs_can_be_waited_for(mode: str) -> None:
    from connector.catalog.responses import ModelList

    out = polled(mode, [], ModelList(data=[]))
    error = out.raised(TypeError)
    assert "VideoJob" in str(error)


def test_async_on_progress_may_be_a_coroutine() -> None:
    import asyncio

    from connector.client import AsyncCreativeAI

    seen: list[str] = []

    async def note(job: VideoJob) -> None:
        seen.append(job.status)

    async def main(url: str) -> VideoJob:
        async def no_wait(_: float) -> None:
            return None

        async with AsyncCreativeAI(api_key="k", base_url=url, sleep=no_wait) as client:
            return await client.wait(VideoJob.model_validate(video("pending")), on_progress=note)

    with ScriptedServer(
        [Reply(200, video("processing")), Reply(200, video("completed"))]
    ) as server:
        result = asyncio.run(main(server.url))
    assert result.status == "completed" and seen == ["processing", "completed"]


def test_a_batch_wait_that_gives_up_keeps_the_batch_id(mode: str) -> None:
    created = BatchCreated.model_validate(
        {"batch_id": "b1", "total_jobs": 1, "jobs": [{"id": "v1", "status": "pending"}]}
    )
    running = {
        "batch_id": "b1",
        "total_jobs": 1,
        "processing": 1,
        "jobs": [{"id": "v1", "status": "processing"}],
    }
    out = polled(mode, [Reply(200, running) for _ in range(10)], created, timeout=25)
    error = out.raised(WaitTimeoutError)
    assert error.job_id == "b1" and error.status_operation == "batch.get"
    assert "GET /v1/video/generations/batch/b1" in str(error)
    assert "creativeai-connector status b1" in str(error)


def test_many_videos_that_outlast_the_wait_keep_their_batch_and_job_ids(mode: str) -> None:
    created = {
        "batch_id": "b1",
        "total_jobs": 2,
        "jobs": [{"id": "v1", "status": "pending"}, {"id": "v2", "status": "pending"}],
    }
    running = {**created, "processing": 2}
    script = [Reply(202, created), *(Reply(200, running) for _ in range(10))]
    clock = FakeClock()
    with ScriptedServer(script) as server:
        out = run(
            mode,
            server.url,
            lambda c: c.generate_videos(["a", "b"], wait=True, timeout=25),
            clock=clock,
            on_sleep=clock.advance,
        )
    assert out.error is None, out.error
    for item, job_id in zip(out.result, ("v1", "v2"), strict=True):
        assert not item.ok and isinstance(item.error, WaitTimeoutError)
        assert item.error.job_id == "b1" and item.batch_id == "b1"
        assert item.job is not None and item.job.id == job_id  # each video's own id too
