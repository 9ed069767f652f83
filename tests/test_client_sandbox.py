"""Both clients end to end against the sandbox: every operation, every error code (magic
prompts and fault switches), waiting, batching, downloads, and the three stream dialects
with drops and resumes."""

from __future__ import annotations

import asyncio
import base64
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import operation_table
import pytest
from test_client_support import against, run

from connector import webhooks
from connector.catalog import CATALOG, Operation, Upload, errors, limits
from connector.catalog.responses import BatchStatus, SharedJob, VideoJob
from connector.client import (
    AuthenticationError,
    ContentPolicyError,
    CreativeAI,
    DownloadError,
    InsufficientCreditsError,
    InvalidRequestError,
    JobFailedError,
    JobMayExistError,
    NotFoundError,
    ProviderUnavailableError,
    RateLimitError,
    ServerError,
)
from connector.client.errors import ERROR_CLASSES
from connector.platforms import client as client_emitter
from connector.sandbox.harness import RunningSandbox, WebhookSink

FAST_POLL = 0.01  # real seconds between polls (the sandbox runs 100x faster than real time)


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., RunningSandbox]) -> RunningSandbox:
    """A fresh sandbox without per-minute budgets: these tests poll fast and create often."""
    return sandbox_factory(rate_limits=False)


def ok(out: Any) -> Any:
    assert out.error is None, repr(out.error)
    return out.result


# -- every operation ---------------------------------------------------------------------------

CHART = {"type": "bar", "labels": ["Q1", "Q2"], "datasets": [{"label": "Revenue", "data": [1, 2]}]}


def commerce_flow(client: Any) -> Any:
    """The docs' yardstick, on the sync client: still → clip → narration → narrated MP4."""
    still = client.images.edit(
        model="seedream-v4.5-edit", image=("mug.png", PNG), prompt="Clean product shot"
    )
    clip = client.wait(
        client.videos.create(prompt="Slow turntable shot", image_url=still.data[0].url, duration=5),
        interval=FAST_POLL,
    )
    voice = client.wait(client.voice.create(text="Meet the travel mug."), interval=FAST_POLL)
    mp4 = client.compose.create(
        video_url=clip.output_url, audio_url=voice.output_url, replace_audio=True
    )
    return clip, voice, client.wait(mp4, interval=FAST_POLL)


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8ffff3f0005fe02fea7d6a4"
    "4e0000000049454e44ae426082"
)


def test_the_commerce_flow_runs_end_to_end(sandbox: RunningSandbox) -> None:
    clip, voice, final = ok(against("sync", sandbox, commerce_flow))
    assert isinstance(clip, VideoJob) and clip.status == "completed"
    assert clip.model_actual and clip.model_actual.endswith("i2v")  # image-to-video ran
    assert isinstance(voice, SharedJob) and voice.output_url.endswith(".mp3")
    assert final.status == "COMPLETED" and final.output_url.endswith(".mp4")


def _case_input(op: Operation) -> dict[str, Any]:
    """A builder's input for `op`: its first case in the shared table (written from the docs,
    or made from the catalog's examples for an operation no case covers), uploads decoded."""
    case = next((c for c in operation_table.cases() if c["operation"] == op.key), None)
    given = dict(case["input"]) if case else operation_table.example_input(op)
    for name, value in given.items():
        if isinstance(value, dict) and "base64" in value:
            content = base64.b64decode(value["base64"])
            given[name] = Upload(
                filename=value["filename"], content=content, content_type=value["content_type"]
            )
    return given


async def _every_operation(client: Any) -> dict[str, Any]:
    """Each non-stream operation of the catalog once, through its typed resource method (named
    by the generator), so a new operation is exercised without a test edit. A status lookup
    asks for a job its create started here. `client` is sync or async (answers awaited)."""

    async def do(answer: Any) -> Any:
        return await answer if inspect.isawaitable(answer) else answer

    ops = [op for op in CATALOG.operations.values() if not client_emitter.is_stream(op)]
    got: dict[str, Any] = {}
    for op in sorted(ops, key=lambda o: bool(o.path_params)):  # creates before their lookups
        given = _case_input(op)
        if op.path_params:
            started = next(got[o.key] for o in ops if o.status_operation == op.key and o.key in got)
            given = {p.name: getattr(started, p.name) for p in op.path_params}
        resource = getattr(client, client_emitter.attribute(op.resource))
        method = getattr(resource, client_emitter.method_name(op))
        leading = [given.pop(name) for name in client_emitter.POSITIONAL.get(op.key, ())]
        if op.path_params:
            leading, given = list(given.values()), {}
        got[op.key] = await do(method(*leading, **given))
    return got


def test_every_operation_answers_its_typed_model(
    mode: str, sandbox_factory: Callable[..., RunningSandbox]
) -> None:
    sandbox = sandbox_factory()  # with the per-minute budgets, so the rate headers are sent
    if mode == "async":
        got = ok(against(mode, sandbox, _every_operation))
    else:
        got = ok(against(mode, sandbox, lambda client: asyncio.run(_every_operation(client))))
    streams = {k for k, op in CATALOG.operations.items() if op.path.endswith("/stream")}
    assert streams and set(got) == set(CATALOG.operations) - streams  # streams: see below
    for key, answer in got.items():
        assert isinstance(answer, CATALOG.response_model(key)), key
        assert answer.meta is not None and 200 <= answer.meta.status_code < 300, key
    assert len(got["image.generate"].data) == 2
    assert got["video.create_from_image"].model_actual.endswith("i2v")  # `create` picked it
    assert got["price.calculate"].credits > 0
    assert {m.type for m in got["model.list"].data} >= {"video", "image"}
    meta = got["video.create_from_text"].meta
    assert meta.rate_limit_limit is not None and meta.rate_limit_remaining is not None
    assert meta.model_actual == got["video.create_from_text"].model_actual


def test_failover_is_reported_in_the_model_and_its_meta(mode: str, sandbox: RunningSandbox) -> None:
    job = ok(against(mode, sandbox, lambda c: c.videos.create(prompt="x [sandbox:failover]")))
    assert job.failover_used is True and job.meta.failover_used is True
    assert job.meta.model_actual == job.model_actual


# -- waiting ---------------------------------------------------------------------------------


def test_wait_follows_each_kind_of_job(mode: str, sandbox: RunningSandbox) -> None:
    seen: list[str] = []

    def action(client: Any) -> Any:
        if mode == "sync":
            return [
                client.wait(
                    client.videos.create(prompt="v"),
                    interval=FAST_POLL,
                    on_progress=lambda j: seen.append(j.status),
                ),
                client.wait(client.voice.create(text="v"), interval=FAST_POLL),
                client.wait(client.batches.create(["a", "b"]), interval=FAST_POLL),
            ]

        async def go() -> list[Any]:
            video = await client.videos.create(prompt="v")
            return [
                await client.wait(
                    video, interval=FAST_POLL, on_progress=lambda j: seen.append(j.status)
                ),
                await client.wait(await client.voice.create(text="v"), interval=FAST_POLL),
                await client.wait(await client.batches.create(["a", "b"]), interval=FAST_POLL),
            ]

        return go()

    video, voice, batch = ok(against(mode, sandbox, action))
    assert video.status == "completed" and video.output_url
    assert seen[-1] == "completed" and len(seen) >= 2  # polled more than once
    assert voice.status == "COMPLETED"
    assert isinstance(batch, BatchStatus) and batch.completed == 2


def test_a_failed_job_raises_with_the_job(mode: str, sandbox: RunningSandbox) -> None:
    def action(client: Any) -> Any:
        if mode == "sync":
            return client.wait(client.videos.create(prompt="x [sandbox:fail]"), interval=FAST_POLL)

        async def go() -> Any:
            job = await client.videos.create(prompt="x [sandbox:fail]")
            return await client.wait(job, interval=FAST_POLL)

        return go()

    error = against(mode, sandbox, action).raised(JobFailedError)
    assert error.job.status == "failed"
    assert error.job.error is not None and error.job.error.code in errors.JOB_FAILURES


# -- every error code ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "marker, cls",
    [
        ("content_policy", ContentPolicyError),
        ("provider_unavailable", ProviderUnavailableError),
        ("server_error", ServerError),
        ("rate_limit", RateLimitError),
    ],
)
def test_magic_prompts_raise_their_errors(
    mode: str, sandbox: RunningSandbox, marker: str, cls: type[Exception]
) -> None:
    out = against(
        mode, sandbox, lambda c: c.videos.create(prompt=f"x [sandbox:{marker}]"), max_retries=0
    )
    error = out.raised(cls)
    assert error.code == cls.error_code.code and cls.error_code.advice in str(error)
    if cls is RateLimitError:
        assert error.retry_after is not None and error.retry_after > 0
    assert sandbox.jobs() == []  # refused, so nothing was started


@pytest.mark.parametrize("known", errors.ALL, ids=lambda e: e.code)
def test_fault_switches_raise_the_class_of_each_status(
    mode: str, sandbox: RunningSandbox, known: errors.ErrorCode
) -> None:
    sandbox.fault("fail", status=known.http_status, operation="video.get")
    job = ok(against(mode, sandbox, lambda c: c.videos.create(prompt="x")))
    out = against(mode, sandbox, lambda c: c.videos.get(job.id), max_retries=0)
    expected = ERROR_CLASSES[errors.for_status(known.http_status).code]
    assert type(out.error) is expected and out.error.status == known.http_status


def test_a_bad_key_is_an_authentication_error(mode: str, sandbox: RunningSandbox) -> None:
    out = run(mode, sandbox.url, lambda c: c.models.list(), api_key="sk-not-a-key")
    error = out.raised(AuthenticationError)
    assert "sk-not-a-key" not in str(error)


def test_no_credits_is_insufficient_credits(mode: str, sandbox: RunningSandbox) -> None:
    sandbox.set_credits(0)
    out = against(mode, sandbox, lambda c: c.voice.create(text="Hello"))
    out.raised(InsufficientCreditsError)


def test_an_unknown_id_is_not_found(mode: str, sandbox: RunningSandbox) -> None:
    out = against(mode, sandbox, lambda c: c.jobs.get("voice_doesnotexist"))
    assert out.raised(NotFoundError).param == "id"


def test_a_server_side_refusal_names_the_param(mode: str, sandbox: RunningSandbox) -> None:
    out = against(mode, sandbox, lambda c: c.prices.calculate(model="no-such-model"))
    error = out.raised(InvalidRequestError)
    assert error.param == "model" and "no-such-model" in str(error)


# -- retries against the sandbox's fault switches ------------------------------------------------


def test_transient_faults_are_retried_and_create_once(mode: str, sandbox: RunningSandbox) -> None:
    sandbox.fault("fail", status=503, count=2, operation="video.create_from_text")
    out = against(mode, sandbox, lambda c: c.videos.create(prompt="x"), retry=None)
    assert ok(out).status == "processing"
    assert len(out.sleeps) == 2
    assert len(sandbox.jobs()) == 1


def test_retry_after_from_the_sandbox_is_honoured(mode: str, sandbox: RunningSandbox) -> None:
    sandbox.fault("fail", status=429, retry_after=2.5, operation="model.list")
    out = against(mode, sandbox, lambda c: c.models.list())
    ok(out)
    assert out.sleeps == [2.5]  # retry-after-ms, exactly


def test_a_lost_create_answer_is_not_retried_and_the_webhook_reconciles(
    mode: str, sandbox: RunningSandbox, webhook_sink: WebhookSink
) -> None:
    sandbox.fault("reset", when="after", operation="video.create_from_text")
    hook = webhook_sink.url_for("/hook")
    out = against(mode, sandbox, lambda c: c.videos.create(prompt="x", webhook_url=hook))
    error = out.raised(JobMayExistError)
    assert "webhook" in str(error) and out.sleeps == []
    [job] = sandbox.jobs()  # the job exists, once
    sandbox.advance(60)
    [delivery] = webhook_sink.wait_for(1)
    assert delivery.header(limits.DELIVERY_ID_HEADER) == job["id"]  # the job the answer lost
    signature = delivery.header(limits.SIGNATURE_HEADER)
    assert webhooks.verify(delivery.body, signature, sandbox.api_key)


def test_a_create_timing_out_is_not_retried_and_its_job_still_appears(
    mode: str, sandbox: RunningSandbox
) -> None:
    sandbox.fault("delay", seconds=0.5, operation="voice.create")
    timeout = httpx.Timeout(0.2, connect=10.0)
    out = against(mode, sandbox, lambda c: c.voice.create(text="Hello"), timeout=timeout)
    error = out.raised(JobMayExistError)
    assert "ReadTimeout" in str(error) and out.sleeps == []
    jobs = sandbox.wait_for(sandbox.jobs, what="the job the slow answer created")
    assert len(jobs) == 1  # created once, although the client never saw the answer


def test_a_reset_get_is_retried(mode: str, sandbox: RunningSandbox) -> None:
    sandbox.fault("reset", operation="model.list")
    out = against(mode, sandbox, lambda c: c.models.list())
    assert ok(out).data and len(out.sleeps) == 1


# -- batching --------------------------------------------------------------------------------


def test_generate_videos_reports_each_item(mode: str, sandbox: RunningSandbox) -> None:
    items: list[Any] = [f"clip {n}" for n in range(limits.BATCH_MAX_PROMPTS + 3)]
    items[2] = "this one [sandbox:fail]"
    items.append({"prompt": "bad", "image_url": "not a url"})
    out = against(
        mode, sandbox, lambda c: c.generate_videos(items, wait=True, interval=FAST_POLL, duration=5)
    )
    results = ok(out)
    assert [r.index for r in results] == list(range(len(items)))
    assert isinstance(results[2].error, JobFailedError)
    assert results[-1].error is not None and "image_url" in str(results[-1].error)
    good = [r for i, r in enumerate(results) if i not in (2, len(items) - 1)]
    assert all(r.ok and r.output_url for r in good)
    assert len({r.batch_id for r in results if r.batch_id}) == 2


# -- downloads -------------------------------------------------------------------------------


def test_download_an_output_and_an_expired_one(
    mode: str, sandbox: RunningSandbox, tmp_path: Path
) -> None:
    def action(client: Any) -> Any:
        if mode == "sync":
            image = client.images.generate(prompt="a garden")
            return client.download(image.data[0].url, tmp_path)

        async def go() -> Any:
            image = await client.images.generate(prompt="a garden")
            return await client.download(image.data[0].url, tmp_path)

        return go()

    saved = ok(against(mode, sandbox, action))
    assert saved.path.parent == tmp_path and saved.path.read_bytes()[:8] == PNG[:8]
    assert saved.bytes_written == saved.path.stat().st_size
    gone = against(mode, sandbox, lambda c: c.download(sandbox.url + "/files/nope.mp4", tmp_path))
    error = gone.raised(DownloadError)
    assert error.status == 404 and "expired" in str(error)


# -- streams ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["1", "2", "3"])
def test_each_dialect_streams_to_the_result(
    mode: str, sandbox: RunningSandbox, dialect: str
) -> None:
    updates = ok(against(mode, sandbox, lambda c: c.videos.stream(prompt="x", dialect=dialect)))
    assert [u.kind for u in updates][-1] == "completed"
    percents = [u.percent for u in updates if u.kind == "progress" and u.percent is not None]
    assert percents == sorted(percents) and len(percents) >= 2
    assert updates[-1].urls and updates[-1].urls[0].endswith(".mp4")


@pytest.mark.parametrize("dialect", ["1", "2", "3"])
def test_a_dropped_stream_is_settled_without_a_new_job(
    mode: str, sandbox: RunningSandbox, dialect: str
) -> None:
    # Dialects 1 and 3 never name the job in their frames: the event ids' job part is checked
    # against the status endpoint; dialect 2 frames name it.
    sandbox.fault("stream_drop", after_events=3)
    out = against(
        mode,
        sandbox,
        lambda c: c.videos.stream(prompt="x", dialect=dialect, poll_interval=FAST_POLL),
    )
    updates = ok(out)
    assert updates[-1].kind == "completed" and updates[-1].urls
    assert updates[-1].job_id == sandbox.jobs()[0]["id"]
    assert len(sandbox.jobs()) == 1  # the create was sent once: no new job, no new charge


def test_a_failing_stream_ends_with_a_failed_update(mode: str, sandbox: RunningSandbox) -> None:
    updates = ok(
        against(mode, sandbox, lambda c: c.videos.stream(prompt="x [sandbox:fail]", dialect="2"))
    )
    assert updates[-1].kind == "failed" and updates[-1].code in errors.JOB_FAILURES


def test_a_stream_that_cannot_resume_is_settled_by_the_status_endpoint(
    sandbox: RunningSandbox,
) -> None:
    sandbox.fault("stream_drop", after_events=2)
    updates: list[Any] = []
    with CreativeAI(api_key=sandbox.api_key, base_url=sandbox.url, max_retries=0) as client:
        for update in client.videos.stream(prompt="x", dialect="2", poll_interval=FAST_POLL):
            if not updates:  # the stream is up: make the resume fail
                sandbox.fault("fail", status=503, operation="video.stream")
            updates.append(update)
    last = updates[-1]
    assert last.kind == "completed" and last.urls and last.job_id == sandbox.jobs()[0]["id"]
    assert last.status == "completed"  # lower case: the video status endpoint, not a frame
    assert len(sandbox.jobs()) == 1


def test_a_refused_stream_is_retried_before_it_starts(mode: str, sandbox: RunningSandbox) -> None:
    sandbox.fault("fail", status=429, retry_after=1, operation="image.stream")
    out = against(mode, sandbox, lambda c: c.images.stream(prompt="a garden", dialect="1"))
    assert ok(out)[-1].kind == "completed" and out.sleeps == [1.0]
