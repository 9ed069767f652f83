"""Completion webhooks: every event name, its payload model, and the dedup key."""

from __future__ import annotations

from typing import Any

from connector.catalog.responses import ApiModel, BatchItem, JobError
from connector.catalog.spec import Event, NormalizedState
from connector.catalog.states import normalize
from connector.catalog.text import join_words

S = NormalizedState


class EventPayload(ApiModel):
    object: str | None = None
    status: str
    credits: float | None = None
    completed_at: str | None = None

    @property
    def state(self) -> NormalizedState:
        return normalize(self.status)

    @property
    def delivery_id(self) -> str:
        raise NotImplementedError


class JobEventPayload(EventPayload):
    """Shape shared by single-job events (compose, chart and any undocumented kind)."""

    id: str
    output_url: str | None = None
    error: JobError | None = None
    error_message: str | None = None

    @property
    def delivery_id(self) -> str:
        return self.id


class VideoEventPayload(JobEventPayload):
    model: str | None = None
    model_actual: str | None = None
    prompt: str | None = None
    failover_used: bool | None = None
    credits_refunded: float | None = None


class BatchEventPayload(EventPayload):
    batch_id: str
    total_jobs: int
    completed: int = 0
    failed: int = 0
    jobs: list[BatchItem] = []
    total_credits: float | None = None

    @property
    def delivery_id(self) -> str:
        return self.batch_id


class ImageEventPayload(JobEventPayload):
    model: str | None = None
    prompt: str | None = None
    revised_prompt: str | None = None
    width: int | None = None
    height: int | None = None


class VoiceEventPayload(JobEventPayload):
    text: str | None = None
    voice: str | None = None
    language: str | None = None
    duration_seconds: float | None = None


PAYLOADS: dict[str, type[EventPayload]] = {
    "JobEventPayload": JobEventPayload,
    "VideoEventPayload": VideoEventPayload,
    "BatchEventPayload": BatchEventPayload,
    "ImageEventPayload": ImageEventPayload,
    "VoiceEventPayload": VoiceEventPayload,
}

_VIDEO = ("video.create_from_text", "video.create_from_image")

ALL: tuple[Event, ...] = (
    Event(
        name="video.generation.completed",
        label="Video Completed",
        state=S.COMPLETED,
        payload="VideoEventPayload",
        operations=_VIDEO,
    ),
    Event(
        name="video.generation.failed",
        label="Video Failed",
        state=S.FAILED,
        payload="VideoEventPayload",
        operations=_VIDEO,
    ),
    Event(
        name="video.batch.completed",
        label="Batch Completed",
        state=S.COMPLETED,
        payload="BatchEventPayload",
        operations=("batch.create",),
    ),
    Event(
        name="image.generation.completed",
        label="Image Completed",
        state=S.COMPLETED,
        payload="ImageEventPayload",
        operations=(),  # async images come from the native API, outside the first scope
    ),
    Event(
        name="voice.generation.completed",
        label="Voice Completed",
        state=S.COMPLETED,
        payload="VoiceEventPayload",
        operations=("voice.create",),
    ),
    # Not named by the docs: the same pattern, accepted and emitted, marked inferred.
    Event(
        name="voice.generation.failed",
        label="Voice Failed",
        state=S.FAILED,
        payload="VoiceEventPayload",
        operations=("voice.create",),
        documented=False,
    ),
    Event(
        name="compose.generation.completed",
        label="Compose Completed",
        state=S.COMPLETED,
        payload="JobEventPayload",
        operations=("compose.create",),
        documented=False,
    ),
    Event(
        name="compose.generation.failed",
        label="Compose Failed",
        state=S.FAILED,
        payload="JobEventPayload",
        operations=("compose.create",),
        documented=False,
    ),
    Event(
        name="chart.generation.completed",
        label="Chart Video Completed",
        state=S.COMPLETED,
        payload="JobEventPayload",
        operations=("chart.create",),
        documented=False,
    ),
    Event(
        name="chart.generation.failed",
        label="Chart Video Failed",
        state=S.FAILED,
        payload="JobEventPayload",
        operations=("chart.create",),
        documented=False,
    ),
)

BY_NAME: dict[str, Event] = {e.name: e for e in ALL}


def unconfirmed_note(names: list[str]) -> str:
    """What a builder should know about events CreativeAI may not send (`documented=False`)."""
    listed = join_words(names, "or")
    return f"CreativeAI may not send {listed}: if none arrives, get the job's status instead."


#: The event each job of a `video.batch.completed` would have sent on its own, by the job's
#: state: a relay that fans a batch out forwards one of these per job.
BATCH_JOB_EVENTS: dict[NormalizedState, str] = {
    S.COMPLETED: "video.generation.completed",
    S.FAILED: "video.generation.failed",
}


def payload_model(event_name: str) -> type[EventPayload]:
    """The payload model for an event; unknown `x.y.z` events get the generic job shape."""
    event = BY_NAME.get(event_name)
    return PAYLOADS[event.payload] if event else JobEventPayload


def dedup_key(delivery_id: str, payload: EventPayload | dict[str, Any]) -> str:
    """Receivers dedup on the delivery id plus the (normalized) terminal status."""
    status = payload.status if isinstance(payload, EventPayload) else str(payload.get("status"))
    try:
        state = normalize(status).value
    except ValueError:
        state = status.lower()
    return f"{delivery_id}:{state}"
