"""Jobs and batches the sandbox runs, and how the API shows them.

A job moves pending -> processing -> completed | failed on the sandbox clock. Its answers
(video status, shared status, batch status) and its webhook payloads are built here, in the
shapes the docs show (`Operation.sample_response`, `catalog.events`); status words come from
`catalog.states`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connector.catalog import CATALOG, Event, JobKind, NormalizedState, errors, fields, states

__all__ = ["Batch", "Job", "event_for", "id_prefix", "wire_status"]

S = NormalizedState


def wire_status(kind: JobKind, state: NormalizedState) -> str:
    """A state as the status endpoint of `kind` spells it (video lower, shared upper case)."""
    for raw, normalized in states.STATUSES[kind].items():
        if normalized is state:
            return raw
    raise KeyError(f"{kind} has no status for {state}")  # pragma: no cover


def id_prefix(op_key: str, sample_key: str = "id") -> str:
    """The id prefix the docs show for an operation's jobs (`vgen`, `voice`, `comp` ...)."""
    sample = CATALOG.operation(op_key).sample_response
    return str(sample[sample_key]).split("_")[0]


def batch_item_prefix() -> str:
    jobs = CATALOG.operation("batch.create").sample_response["jobs"]
    return str(jobs[0]["id"]).split("_")[0]


def batch_prefix() -> str:
    """`video_batch` (the batch id is everything before the last underscore)."""
    return str(CATALOG.operation("batch.create").sample_response["batch_id"]).rsplit("_", 1)[0]


def event_for(op_key: str, state: NormalizedState) -> Event | None:
    for event in CATALOG.events.values():
        if op_key in event.operations and event.state is state:
            return event
    return None


def object_name(event: Event) -> str:
    """`video.generation` for `video.generation.completed`."""
    return event.name.rsplit(".", 1)[0]


#: The shared-status `type` of each job resource (the docs show `VOICE`).
def shared_type(resource: str) -> str:
    return resource.upper()


@dataclass(eq=False)
class Job:
    id: str
    op: str  # the operation that created it
    resource: str  # video, voice, compose, chart, image
    kind: JobKind | None  # the status endpoint that follows it (None: image streams)
    key_name: str
    request: dict[str, Any]
    base_url: str
    credits: int
    created_at: float
    starts_at: float
    ends_at: float
    model: str | None = None
    model_actual: str | None = None
    failover_used: bool = False
    state: NormalizedState = S.PENDING
    #: None completes; "fail" ends failed; "flaky" fails unless auto-retried.
    outcome: str | None = None
    auto_retry: bool = False
    retried: bool = False
    outputs: list[str] = field(default_factory=list)  # output URLs
    output_seconds: float | None = None
    size: tuple[int, int] | None = None
    error: dict[str, Any] | None = None
    credits_refunded: int = 0
    completed_at: float | None = None
    batch_id: str | None = None
    webhook_url: str | None = None
    stream: bool = False
    sources: tuple[str, ...] = ()  # compose: the output names behind video_url and audio_url

    @property
    def duration(self) -> float:
        return self.ends_at - self.starts_at

    @property
    def output_url(self) -> str | None:
        return self.outputs[0] if self.outputs else None

    @property
    def prompt(self) -> str | None:
        value = self.request.get("prompt")
        return value if isinstance(value, str) else None

    def status(self) -> str:
        return wire_status(self.kind or JobKind.SHARED, self.state)

    @property
    def error_message(self) -> str | None:
        return self.error["message"] if self.error else None

    # -- answers ---------------------------------------------------------------------------

    def video_view(self, iso: Callable[[float], str]) -> dict[str, Any]:
        """`GET /v1/video/generations/{id}` (also the create answer)."""
        view: dict[str, Any] = {
            "id": self.id,
            "object": object_name(_first_event("video.create_from_text")),
            "model": self.model,
            "model_actual": self.model_actual,
            "status": self.status(),
            "prompt": self.prompt,
        }
        if self.request.get("image_url"):
            view["image_url"] = self.request["image_url"]
        view.update(
            {
                "credits": self.credits,
                "output_url": self.output_url,
                "error": self.error,
                "failover_used": self.failover_used,
                "webhook_url": self.webhook_url,
                "created_at": iso(self.created_at),
                "completed_at": iso(self.completed_at) if self.completed_at is not None else None,
            }
        )
        if self.credits_refunded:
            view["credits_refunded"] = self.credits_refunded
        if self.batch_id:
            view["batch_id"] = self.batch_id
        return view

    def shared_view(self, iso: Callable[[float], str]) -> dict[str, Any]:
        """`GET /api/generate/status/{id}` (also the create answer)."""
        view: dict[str, Any] = {
            "id": self.id,
            "type": shared_type(self.resource),
            **({"model": self.model} if self.model else {}),
            "status": self.status(),
            "output_url": self.output_url,
            "credits": self.credits,
            "parameters": self.parameters(),
            "created_at": iso(self.created_at),
            "completed_at": iso(self.completed_at) if self.completed_at is not None else None,
        }
        if self.error:
            view["error"] = self.error
            view["error_message"] = self.error_message
        if self.credits_refunded:
            view["credits_refunded"] = self.credits_refunded
        if self.webhook_url:
            view["webhook_url"] = self.webhook_url
        return view

    def parameters(self) -> dict[str, Any]:
        """The request's settings, without the long inputs the job already shows."""
        skip = {"text", "prompt", "webhook_url"}
        params = {k: v for k, v in self.request.items() if k not in skip}
        if self.resource == "voice":
            for f in (fields.VOICE, fields.LANGUAGE, fields.SPEED):
                params.setdefault(f.name, f.default)
        return params

    def batch_item(self) -> dict[str, Any]:
        """One entry of `GET /v1/video/generations/batch/{id}`."""
        return {
            "id": self.id,
            "prompt": self.prompt,
            "image_url": self.request.get("image_url"),
            "status": self.status(),
            "output_url": self.output_url,
            "error_message": self.error_message,
            "credits": self.credits,
        }

    # -- webhooks ----------------------------------------------------------------------------

    def event_payload(self, event: Event, iso: Callable[[float], str]) -> dict[str, Any]:
        """The body of this job's completion webhook, in the shape of `event.payload`."""
        done = self.completed_at if self.completed_at is not None else self.ends_at
        body: dict[str, Any] = {
            "id": self.id,
            "object": object_name(event),
            "status": event.state.value,
        }
        if event.payload == "VideoEventPayload":
            body.update(
                model=self.model,
                model_actual=self.model_actual,
                prompt=self.prompt,
                output_url=self.output_url,
            )
        elif event.payload == "VoiceEventPayload":
            body.update(
                text=self.request.get("text"),
                voice=self.request.get("voice", fields.VOICE.default),
                language=self.request.get("language", fields.LANGUAGE.default),
                output_url=self.output_url,
                duration_seconds=self.output_seconds,
            )
        else:
            body["output_url"] = self.output_url
        if self.error:
            body["error"] = self.error
        body["error_message"] = self.error_message
        body["credits"] = self.credits
        if self.error:
            body["credits_refunded"] = self.credits_refunded
        if event.payload == "VideoEventPayload":
            body["failover_used"] = self.failover_used
        body["completed_at"] = iso(done)
        return body


def _first_event(op_key: str) -> Event:
    for event in CATALOG.events.values():
        if op_key in event.operations:
            return event
    raise LookupError(op_key)  # pragma: no cover


def job_error(code: str, message: str) -> dict[str, Any]:
    """A failed job's `error` object (the docs give type `server_error`)."""
    return {"message": message, "type": errors.SERVER_ERROR.code, "code": code}


@dataclass(eq=False)
class Batch:
    id: str
    key_name: str
    jobs: list[Job]
    credits_charged: int
    created_at: float
    webhook_url: str | None = None
    completed_at: float | None = None

    def counts(self) -> dict[str, int]:
        counted = {state: 0 for state in (S.COMPLETED, S.FAILED, S.PENDING, S.PROCESSING)}
        for job in self.jobs:
            counted[job.state] = counted.get(job.state, 0) + 1
        return {state.value: n for state, n in counted.items()}

    @property
    def done(self) -> bool:
        return all(job.state.terminal for job in self.jobs)

    def created_view(self) -> dict[str, Any]:
        return {
            "batch_id": self.id,
            "total_jobs": len(self.jobs),
            "jobs": [
                {"id": j.id, "prompt": j.prompt, "status": j.status(), "credits": j.credits}
                for j in self.jobs
            ],
            "credits_charged": self.credits_charged,
        }

    def status_view(self) -> dict[str, Any]:
        return {
            "batch_id": self.id,
            "total_jobs": len(self.jobs),
            **self.counts(),
            "jobs": [job.batch_item() for job in self.jobs],
        }

    def event_payload(self, event: Event, iso: Callable[[float], str]) -> dict[str, Any]:
        counts = self.counts()
        return {
            "batch_id": self.id,
            "object": object_name(event),
            "status": event.state.value,
            "total_jobs": len(self.jobs),
            "completed": counts[S.COMPLETED.value],
            "failed": counts[S.FAILED.value],
            "jobs": [
                {
                    "id": j.id,
                    "prompt": j.prompt,
                    "status": j.status(),
                    "output_url": j.output_url,
                    "error_message": j.error_message,
                    "credits": j.credits,
                }
                for j in self.jobs
            ],
            "total_credits": sum(j.credits for j in self.jobs),
            "completed_at": iso(self.completed_at if self.completed_at is not None else 0.0),
        }
