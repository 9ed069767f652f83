"""The sandbox itself: keys and credits, jobs on the sandbox clock, outputs, webhooks.

`Sandbox` holds all state in memory behind one lock; the HTTP layer (`api`, `files`,
`control`) only parses requests and shapes answers. Requests arrive already validated
by the catalog; this module decides what happens to them.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import uuid
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from connector.catalog import CATALOG, JobKind, NormalizedState, errors, fields, limits
from connector.sandbox import pricing, triggers
from connector.sandbox.apierrors import ErrorResponse
from connector.sandbox.clock import Clock, Scheduler
from connector.sandbox.config import ApiKey, SandboxConfig
from connector.sandbox.delivery import Deliveries
from connector.sandbox.faults import Faults
from connector.sandbox.jobs import (
    Batch,
    Job,
    batch_item_prefix,
    batch_prefix,
    event_for,
    id_prefix,
    job_error,
)
from connector.sandbox.outputs import FILES_PREFIX, MediaSpec, MediaStore
from connector.sandbox.ratelimit import RateLimiter, header_seconds

__all__ = ["INVALID_MEDIA", "Sandbox"]

log = logging.getLogger(__name__)
S = NormalizedState
T = TypeVar("T")

#: Error code of a compose job whose inputs are not media the sandbox can read (the
#: sandbox's own; the docs name none for it).
INVALID_MEDIA = "invalid_media"
GENERATION_TIMEOUT, GENERATION_FAILED = "generation_timeout", "generation_failed"
assert {GENERATION_TIMEOUT, GENERATION_FAILED} <= set(errors.JOB_FAILURES)

#: Narration pace: characters per second of speech at speed 1.0 (about 150 words a minute).
CHARS_PER_SECOND = 15.0
MAX_AUDIO_SECONDS = 600.0
#: Retry-After the `[sandbox:rate_limit]` trigger answers with (seconds).
TRIGGER_RETRY_AFTER = 1


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def frame_size(aspect_ratio: str | None, resolution: str | None) -> tuple[int, int]:
    """Width and height (even) of a clip: the resolution is the short side."""
    short = int(str(resolution or fields.RESOLUTION.default).rstrip("p"))
    across, down = (int(n) for n in str(aspect_ratio or "16:9").split(":"))
    if across >= down:
        return round(short * across / down / 2) * 2, short
    return short, round(short * down / across / 2) * 2


def image_size(size: str | None) -> tuple[int, int]:
    width, height = str(size or fields.SIZE.example).lower().split("x")
    return int(width), int(height)


class Sandbox:
    """State and behaviour of one sandbox app (thread-safe)."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.clock = Clock(config.time_scale)
        self.scheduler = Scheduler(self.clock)
        self.faults = Faults()
        media_dir = config.media_dir or tempfile.mkdtemp(prefix="creativeai-sandbox-")
        # A temporary media directory goes with the sandbox: on close, else when collected.
        self._remove_media: Callable[[], Any] = (
            weakref.finalize(self, shutil.rmtree, media_dir, True)
            if config.media_dir is None
            else (lambda: None)
        )
        self.store = MediaStore(Path(media_dir))
        self.deliveries = Deliveries(
            self.clock, self.scheduler, self.faults, timeout=config.webhook_timeout
        )
        self.limiter = RateLimiter(config.rate_window, self.clock.real_now)
        self._lock = threading.RLock()
        self._keys = {k.name: k for k in config.api_keys}
        self._credits = {k.name: k.credits for k in config.api_keys}
        self._jobs: dict[str, Job] = {}
        self._batches: dict[str, Batch] = {}
        #: Base URLs output links were given under (compose accepts links under any of them).
        self.bases: set[str] = set()
        if config.public_base_url:
            self.bases.add(config.public_base_url)
        self.closed = False

    # -- keys and credits ------------------------------------------------------------------

    def authenticate(self, presented: str | None) -> ApiKey | None:
        return self.config.key(presented) if presented else None

    def key_named(self, name: str) -> ApiKey | None:
        return self._keys.get(name)

    def balance(self, key: ApiKey) -> int:
        with self._lock:
            return self._credits[key.name]

    def set_credits(self, key: ApiKey, credits: int) -> None:
        with self._lock:
            self._credits[key.name] = credits

    def keys_view(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    "name": k.name,
                    "plan": k.plan,
                    "per_minute": k.per_minute,
                    "credits": self._credits[k.name],
                    "signed_webhooks": k.secret is not None,
                }
                for k in self.config.api_keys
            ]

    def _charge(self, key: ApiKey, credits: int) -> None:
        """Take `credits` from the key (call with the lock held)."""
        have = self._credits[key.name]
        if have < credits:
            raise ErrorResponse(
                errors.INSUFFICIENT_CREDITS,
                f"This request needs {credits} credits and the key has {have} (not billed). "
                "Top up at Dashboard -> Billing (sandbox: POST /_sandbox/credits).",
            )
        self._credits[key.name] = have - credits

    def _refund(self, job: Job) -> None:
        self._credits[job.key_name] = self._credits.get(job.key_name, 0) + job.credits
        job.credits_refunded, job.credits = job.credits, 0

    def base_url(self, request_base: str) -> str:
        """Base of output links: the configured public URL, else where the request came in."""
        with self._lock:
            self.bases.add(request_base.rstrip("/"))
        return self.config.public_base_url or request_base.rstrip("/")

    def read(self, view: Callable[[], T]) -> T:
        """Build an answer from jobs without a transition happening halfway through it."""
        with self._lock:
            return view()

    # -- triggers ------------------------------------------------------------------------------

    def _triggers(self, body: Mapping[str, Any]) -> list[triggers.Found]:
        try:
            found = triggers.find(body)
        except triggers.UnknownTrigger as exc:
            raise ErrorResponse(errors.INVALID_REQUEST, str(exc), param=exc.param) from None
        refusal = triggers.first(
            found, "content_policy", "provider_unavailable", "server_error", "rate_limit"
        )
        if refusal is None:
            return found
        marker = f"(sandbox trigger [sandbox:{refusal.name}] in {refusal.param})"
        if refusal.name == "content_policy":
            raise ErrorResponse(
                errors.CONTENT_POLICY,
                "Your request was rejected because it may generate content that violates our "
                f"usage policy. Rephrase and retry; you were not billed. {marker}",
                param=refusal.param,
            )
        if refusal.name == "provider_unavailable":
            raise ErrorResponse(
                errors.PROVIDER_UNAVAILABLE,
                f"Every provider for this model is unavailable; try again later. {marker}",
            )
        if refusal.name == "server_error":
            raise ErrorResponse(errors.SERVER_ERROR, f"Internal error; try again. {marker}")
        raise ErrorResponse(
            errors.RATE_LIMIT,
            f"Too many requests; retry after {TRIGGER_RETRY_AFTER} s. {marker}",
            headers=retry_headers(TRIGGER_RETRY_AFTER),
        )

    @staticmethod
    def _outcome(found: list[triggers.Found]) -> str | None:
        hit = triggers.first(found, "fail", "flaky")
        return hit.name if hit else None

    # -- video -----------------------------------------------------------------------------------

    def _video_model(
        self, body: Mapping[str, Any], found: list[triggers.Found]
    ) -> tuple[str, str, bool]:
        """(requested model, model that runs, failover used) for a video request."""
        model = str(body.get("model") or fields.VIDEO_MODEL.default)
        known = pricing.models_of("video")
        if model not in known:
            raise ErrorResponse(
                errors.INVALID_REQUEST,
                f"model {model!r} is not served; expected one of {', '.join(known)} "
                "(GET /v1/models lists them)",
                param=fields.VIDEO_MODEL.name,
            )
        runs = pricing.resolve_video_model(model)
        if triggers.first(found, "failover") is None:
            return model, runs, False
        if body.get("failover") is False:
            raise ErrorResponse(
                errors.PROVIDER_UNAVAILABLE,
                f"The provider of {runs} is unavailable and failover is off "
                "(sandbox trigger [sandbox:failover] with failover=false).",
            )
        return model, pricing.alternative(runs, fields.VIDEO_MODEL), True

    def _video_job(
        self,
        key: ApiKey,
        op_key: str,
        body: dict[str, Any],
        base: str,
        found: list[triggers.Found],
        *,
        prefix: str,
        starts_at: float,
    ) -> Job:
        model, runs, failover = self._video_model(body, found)
        from_image = bool(body.get("image_url"))
        duration = int(body.get("duration") or pricing.default_duration())
        mode = "i2v" if from_image else "t2v"  # provider keys as the docs show them
        return Job(
            id=_new_id(prefix),
            op=op_key,
            resource="video",
            kind=JobKind.VIDEO,
            key_name=key.name,
            request=body,
            base_url=base,
            credits=pricing.video_credits(runs, duration, from_image=from_image),
            created_at=self.clock.now(),
            starts_at=starts_at,
            ends_at=starts_at + self.config.job_seconds["video"],
            model=model,
            model_actual=f"{runs}-{mode}",
            failover_used=failover,
            outcome=self._outcome(found),
            auto_retry=bool(body.get("webhook_auto_retry")),
            output_seconds=float(duration),
            size=frame_size(body.get("aspect_ratio"), body.get("resolution")),
            webhook_url=body.get("webhook_url"),
        )

    def create_video(
        self, key: ApiKey, op_key: str, body: dict[str, Any], request_base: str
    ) -> Job:
        found = self._triggers(body)
        now = self.clock.now()
        job = self._video_job(
            key,
            op_key,
            body,
            self.base_url(request_base),
            found,
            prefix=id_prefix("video.create_from_text"),
            starts_at=now,
        )
        job.stream = op_key == "video.stream"
        with self._lock:
            self._charge(key, job.credits)
            self._jobs[job.id] = job
            self._begin(job)
        return job

    def create_batch(self, key: ApiKey, body: dict[str, Any], request_base: str) -> Batch:
        base = self.base_url(request_base)
        now = self.clock.now()
        shared = {k: v for k, v in body.items() if k not in ("prompts", "webhook_url")}
        found_all = self._triggers(body)  # refusals anywhere refuse the whole batch
        jobs = []
        for index, item in enumerate(body["prompts"]):
            item_body = {**shared, **{k: v for k, v in item.items() if v is not None}}
            found = [f for f in found_all if f.param.startswith(f"prompts[{index}]")]
            job = self._video_job(
                key,
                "batch.create",
                item_body,
                base,
                found,
                prefix=batch_item_prefix(),
                starts_at=now + index * self.config.batch_stagger,
            )
            job.webhook_url = None  # the batch reports once, for all its jobs
            jobs.append(job)
        batch = Batch(
            id=_new_id(batch_prefix()),
            key_name=key.name,
            jobs=jobs,
            credits_charged=sum(j.credits for j in jobs),
            created_at=now,
            webhook_url=body.get("webhook_url"),
        )
        with self._lock:
            self._charge(key, batch.credits_charged)
            self._batches[batch.id] = batch
            for job in jobs:
                job.batch_id = batch.id
                self._jobs[job.id] = job
                self._begin(job)
        return batch

    # -- voice, compose, chart -------------------------------------------------------------------

    def create_shared(
        self, key: ApiKey, op_key: str, body: dict[str, Any], request_base: str
    ) -> Job:
        found = self._triggers(body)
        op = CATALOG.operation(op_key)
        now = self.clock.now()
        starts = now + self.config.queue_seconds
        seconds: float | None = None
        model = None
        if op.resource == "voice":
            speed = float(body.get("speed") or fields.SPEED.default)
            spoken = len(triggers.strip(body["text"])) / CHARS_PER_SECOND / speed
            seconds = min(max(round(spoken, 1), 1.0), MAX_AUDIO_SECONDS)
            model = str(op.sample_response.get("model"))
        elif op.resource == "chart":
            seconds = float(body.get("duration") or fields.CHART_DURATION.example)
        job = Job(
            id=_new_id(id_prefix(op_key)),
            op=op_key,
            resource=op.resource,
            kind=JobKind.SHARED,
            key_name=key.name,
            request=body,
            base_url=self.base_url(request_base),
            credits=pricing.flat_credits(op_key),
            created_at=now,
            starts_at=starts,
            ends_at=starts + self.config.job_seconds[op.resource],
            model=model,
            model_actual=model,
            outcome=self._outcome(found),
            output_seconds=seconds,
            webhook_url=body.get("webhook_url"),
        )
        with self._lock:
            self._charge(key, job.credits)
            self._jobs[job.id] = job
            self._begin(job)
        return job

    # -- images ------------------------------------------------------------------------------------

    def _image_job(
        self,
        key: ApiKey,
        op_key: str,
        body: dict[str, Any],
        request_base: str,
        size: tuple[int, int],
    ) -> Job:
        found = self._triggers(body)
        edit = op_key == "image.edit"
        model_field = fields.EDIT_MODEL if edit else fields.IMAGE_MODEL
        model = str(body.get("model") or model_field.default)
        known = pricing.models_of("image-edit" if edit else "image")
        if model not in known:
            raise ErrorResponse(
                errors.INVALID_REQUEST,
                f"model {model!r} is not served; expected one of {', '.join(known)}",
                param=model_field.name,
            )
        failover = triggers.first(found, "failover") is not None
        runs = pricing.alternative(model, model_field) if failover else model
        count = int(body.get("n") or 1)
        now = self.clock.now()
        return Job(
            id=_new_id("img"),  # as the docs' image webhook example
            op=op_key,
            resource="image",
            kind=None,
            key_name=key.name,
            request=body,
            base_url=self.base_url(request_base),
            credits=pricing.image_credits(count, edit=edit),
            created_at=now,
            starts_at=now,
            ends_at=now + self.config.job_seconds["image"],
            model=model,
            model_actual=runs,
            failover_used=failover,
            outcome=self._outcome(found),
            size=size,
        )

    def generate_images(
        self,
        key: ApiKey,
        op_key: str,
        body: dict[str, Any],
        request_base: str,
        size: tuple[int, int],
    ) -> Job:
        """A synchronous image answer: the job is complete when this returns."""
        job = self._image_job(key, op_key, body, request_base, size)
        if job.outcome:
            raise ErrorResponse(
                errors.SERVER_ERROR,
                f"The image could not be generated; you were not billed "
                f"(sandbox trigger [sandbox:{job.outcome}]).",
            )
        with self._lock:
            self._charge(key, job.credits)
            self._complete(job, job.created_at)
        return job

    def start_image_stream(
        self, key: ApiKey, body: dict[str, Any], request_base: str, size: tuple[int, int]
    ) -> Job:
        job = self._image_job(key, "image.stream", body, request_base, size)
        job.stream = True
        with self._lock:
            self._charge(key, job.credits)
            self._jobs[job.id] = job
            self._begin(job)
        return job

    # -- reading ------------------------------------------------------------------------------

    def job(self, key: ApiKey, job_id: str, kind: JobKind) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.key_name != key.name or job.kind is not kind:
            where = "video generation" if kind is JobKind.VIDEO else "job"
            raise ErrorResponse(errors.NOT_FOUND, f"No {where} with id {job_id!r}.", param="id")
        return job

    def any_job(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def batch(self, key: ApiKey, batch_id: str) -> Batch:
        with self._lock:
            batch = self._batches.get(batch_id)
        if batch is None or batch.key_name != key.name:
            raise ErrorResponse(
                errors.NOT_FOUND, f"No batch with id {batch_id!r}.", param="batch_id"
            )
        return batch

    def jobs_view(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self.job_control_view(job) for job in self._jobs.values()]

    def job_control_view(self, job: Job) -> dict[str, Any]:
        with self._lock:
            return self._control_view(job)

    def _control_view(self, job: Job) -> dict[str, Any]:
        view = job.video_view(self.clock.iso) if job.kind is JobKind.VIDEO else None
        if view is None:
            view = job.shared_view(self.clock.iso)
        view.update(
            operation=job.op,
            key=job.key_name,
            state=job.state.value,
            starts_at=job.starts_at,
            ends_at=job.ends_at,
            outputs=list(job.outputs),
            stream=job.stream,
        )
        return view

    def batches_view(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {**b.status_view(), "key": b.key_name, "completed_at": b.completed_at}
                for b in self._batches.values()
            ]

    # -- lifecycle ----------------------------------------------------------------------------

    def _begin(self, job: Job) -> None:
        """Schedule a new job's start and end (lock held)."""
        if job.starts_at <= job.created_at:
            self._start(job)
        else:
            self.scheduler.at(job.starts_at, lambda: self._locked(self._start, job))
        self.scheduler.at(job.ends_at, lambda: self._locked(self._finish, job))

    def _locked(self, step: Any, job: Job) -> None:
        with self._lock:
            if self._jobs.get(job.id) is job and not job.state.terminal:
                step(job)

    def _start(self, job: Job) -> None:
        job.state = S.PROCESSING
        if job.resource == "compose":
            problem = self._compose_sources(job)
            if problem:
                self._fail(job, INVALID_MEDIA, problem, at=job.starts_at)

    def _compose_sources(self, job: Job) -> str | None:
        """Find the files behind video_url and audio_url; a message when they are unusable."""
        found = []
        for name, wants in (("video_url", "video"), ("audio_url", "audio")):
            url = str(job.request[name])
            spec = self.store.from_url(url, self.bases)
            if spec is None:
                return (
                    f"{name} could not be downloaded: the sandbox composes only files it "
                    f"serves itself ({FILES_PREFIX}... URLs of finished jobs), got {url!r}"
                )
            usable = spec.has_video if wants == "video" else spec.has_audio
            if not usable:
                return f"{name} has no {wants} track ({spec.name} is {spec.mimetype})"
            found.append(spec.name)
        job.sources = tuple(found)
        return None

    def _finish(self, job: Job) -> None:
        """The job's end is due (stamped at its scheduled end, however far the clock jumped)."""
        at = job.ends_at
        if job.outcome == "flaky":
            if job.auto_retry and not job.retried:
                job.retried = True  # webhook_auto_retry: run it once more, then it works
                job.outcome = None
                job.ends_at = at + job.duration
                self.scheduler.at(job.ends_at, lambda: self._locked(self._finish, job))
                return
            message = "The provider failed to render the job (sandbox trigger [sandbox:flaky])."
            self._fail(job, GENERATION_FAILED, message, at=at)
            return
        if job.outcome == "fail":
            message = "Generation timed out (sandbox trigger [sandbox:fail])."
            self._fail(job, GENERATION_TIMEOUT, message, at=at)
            return
        self._complete(job, at)

    # The state changes last, so a lock-free reader (a stream) that sees a terminal state
    # also sees its outputs or error.

    def _fail(self, job: Job, code: str, message: str, *, at: float) -> None:
        job.error = job_error(code, message)
        job.completed_at = at
        self._refund(job)
        job.state = S.FAILED
        self._ended(job)

    def _complete(self, job: Job, at: float) -> None:
        job.outputs = [self.store.url(job.base_url, s.name) for s in self._outputs(job)]
        job.completed_at = at
        job.state = S.COMPLETED
        self._ended(job)

    def _outputs(self, job: Job) -> list[MediaSpec]:
        """Register the files a finished job produced."""
        seed = triggers.strip(str(job.prompt or job.request.get("text") or job.id))
        store = self.store
        if job.resource == "image":
            width, height = job.size or image_size(None)
            transparent = job.request.get("background") == "transparent"
            return [
                store.add(
                    MediaSpec(
                        name=f"{job.id}-{n}.png",
                        kind="image",
                        seed=f"{seed}#{n}",
                        params={"width": width, "height": height, "transparent": transparent},
                    )
                )
                for n in range(1, int(job.request.get("n") or 1) + 1)
            ]
        if job.resource == "voice":
            voice = job.request.get("voice", fields.VOICE.default)
            spec = MediaSpec(
                name=f"{job.id}.mp3",
                kind="audio",
                seed=f"{seed}#{voice}",
                params={"seconds": job.output_seconds},
            )
        elif job.resource == "compose":
            spec = MediaSpec(
                name=f"{job.id}.mp4",
                kind="composed",
                seed=job.id,
                sources=job.sources,
                replace_audio=bool(job.request.get("replace_audio", True)),
            )
        else:  # video and chart
            if job.resource == "chart":
                seed = str(job.request.get("title") or job.request.get("chart_data") or job.id)
            width, height = job.size or frame_size(None, None)
            spec = MediaSpec(
                name=f"{job.id}.mp4",
                kind="video",
                seed=seed,
                params={
                    "seconds": job.output_seconds,
                    "width": width,
                    "height": height,
                    "with_audio": bool(job.request.get("sound")),
                },
            )
        return [store.add(spec)]

    def _ended(self, job: Job) -> None:
        """A job reached a terminal state: webhooks, batch completion (lock held)."""
        key = self._keys.get(job.key_name)
        event = event_for(job.op, job.state)
        if job.webhook_url and event is not None and key is not None:
            self.deliveries.send(
                event.name,
                job.id,
                job.webhook_url,
                job.event_payload(event, self.clock.iso),
                key.secret,
                ended_at=job.completed_at,
            )
        if job.batch_id:
            batch = self._batches.get(job.batch_id)
            if batch is not None and batch.completed_at is None and batch.done:
                batch.completed_at = max(j.completed_at or 0.0 for j in batch.jobs)
                batch_event = event_for("batch.create", S.COMPLETED)
                if batch.webhook_url and batch_event is not None and key is not None:
                    self.deliveries.send(
                        batch_event.name,
                        batch.id,
                        batch.webhook_url,
                        batch.event_payload(batch_event, self.clock.iso),
                        key.secret,
                        ended_at=batch.completed_at,
                    )
        self.clock.poke()  # wake streams following this job

    # -- control ------------------------------------------------------------------------------

    def advance(self, seconds: float) -> float:
        now = self.clock.advance(seconds)
        self.scheduler.run_due()
        return now

    def settle(self) -> None:
        """Run whatever is due now (answers then reflect the current sandbox time)."""
        self.scheduler.run_due()

    def reset(self) -> None:
        """Forget jobs, batches, outputs, faults, webhook log and rate windows; restore credits."""
        with self._lock:
            self.scheduler.clear()
            self._jobs.clear()
            self._batches.clear()
            self._credits = {k.name: k.credits for k in self.config.api_keys}
            self.store.clear()
            self.faults.clear()
            self.deliveries.clear()
            self.limiter.reset()
        self.clock.poke()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.clock.poke()
        self.scheduler.close()
        self.deliveries.close()
        self._remove_media()


def retry_headers(seconds: float) -> dict[str, str]:
    """`Retry-After` (whole seconds) and `retry-after-ms` for a wait of `seconds`."""
    return {
        limits.RETRY_AFTER_HEADER: str(header_seconds(seconds)),
        limits.RETRY_AFTER_MS_HEADER: str(max(round(seconds * 1000), 0)),
    }
