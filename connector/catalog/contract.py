"""What each operation and each event gives back to a workflow: the output contract.

One `Output` per operation (`output(op_key)`) and per webhook event (`event_output(name)`):
its fields (key, label, type, help, children) and one sample, both from the documented
payloads. A job-starting operation outputs what its status operation outputs (what the
job is when it ends), so a create, a lookup and a poll give the same keys; an event outputs
its webhook body.

Every output about a job carries `status` as the API spells it for that job kind (a voice
job is `COMPLETED` from polling, a webhook or a lookup, although the documented voice
webhook says `completed`) and `state`, one of pending, processing, completed, failed,
canceled for every kind. `Output.shape(raw)` turns a raw answer or webhook body into
exactly that: the keys the contract names (absent ones as None), the status spelled for
the kind, `state` added; samples are `shape()` of the documented payloads.

Labels are sentence case (the source form; see `text`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connector.catalog import events as catalog_events
from connector.catalog import operations, states
from connector.catalog.spec import FieldType, JobKind, NormalizedState, Operation, OperationKind

T = FieldType

__all__ = ["Output", "OutputField", "event_output", "output"]


@dataclass(frozen=True)
class OutputField:
    """One key of a step's output. `children` describe the items of a list or an object."""

    key: str
    label: str
    type: FieldType
    help: str = ""
    children: tuple[OutputField, ...] = ()


@dataclass(frozen=True)
class Output:
    """The fields one operation or event outputs, and a sample of exactly those keys."""

    fields: tuple[OutputField, ...]
    sample: Mapping[str, Any]
    job: JobKind | None = None  # whose status spelling `status` uses (None: no job)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.fields)

    def field(self, key: str) -> OutputField:
        for f in self.fields:
            if f.key == key:
                return f
        raise KeyError(f"no output field {key!r}; known: {', '.join(self.keys)}")

    def shape(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """A raw API answer or webhook body as the contract gives it to a workflow."""
        return _shape(self.fields, raw, self.job)


def _shape(
    fields: tuple[OutputField, ...], raw: Mapping[str, Any], job: JobKind | None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields:
        if f.key == "state":
            continue
        value = raw.get(f.key)
        if f.children and f.type is T.OBJECT_LIST and isinstance(value, list):
            value = [_shape(f.children, item, job) for item in value if isinstance(item, Mapping)]
        elif f.children and f.type is T.OBJECT and isinstance(value, Mapping):
            value = _shape(f.children, value, job)
        out[f.key] = value
    if any(f.key == "state" for f in fields):
        state = _state(raw)
        out["state"] = state.value if state else None
        if state is not None and job is not None:
            out["status"] = states.spell(job, state)
    return out


def _state(raw: Mapping[str, Any]) -> NormalizedState | None:
    status = raw.get("status")
    if isinstance(status, str) and status:
        return states.normalize(status)
    if "total_jobs" in raw:  # a batch's status answer carries counts, no status
        total = int(raw.get("total_jobs") or 0)
        done = int(raw.get("completed") or 0) + int(raw.get("failed") or 0)
        if done >= total:
            return NormalizedState.COMPLETED
        return (
            NormalizedState.PROCESSING if done or raw.get("processing") else NormalizedState.PENDING
        )
    return None


# -- the fields, each described once -----------------------------------------------------------


def _f(
    key: str, label: str, type: FieldType = T.STRING, help: str = "", *children: OutputField
) -> OutputField:
    return OutputField(key, label, type, help, tuple(children))


STATUS = _f("status", "Status", help="The job's status as the API spells it for this kind of job.")
STATE = _f(
    "state",
    "State",
    help="pending, processing, completed, failed or canceled, the same for every kind of job.",
)
OUTPUT_URL = _f(
    "output_url",
    "Output URL",
    T.URL,
    "Link to the result; it stays available for 7 days, so download the file to keep it.",
)
CREDITS = _f("credits", "Credits", T.NUMBER, "Credits charged for this job.")
CREATED_AT = _f("created_at", "Created at", help="When the job started (ISO 8601, UTC).")
COMPLETED_AT = _f("completed_at", "Completed at", help="When the job ended (ISO 8601, UTC).")
OBJECT = _f("object", "Object type")
MODEL = _f("model", "Model", help="The model asked for.")
MODEL_ACTUAL = _f("model_actual", "Model used", help="The model that ran the job.")
FAILOVER_USED = _f(
    "failover_used", "Failover used", T.BOOLEAN, "Whether another provider took over the job."
)
PROMPT = _f("prompt", "Prompt", T.TEXT)
ERROR = _f(
    "error",
    "Error",
    T.OBJECT,
    "Why the job failed (empty unless it failed).",
    _f("message", "Message"),
    _f("type", "Type"),
    _f("code", "Code"),
)
ERROR_MESSAGE = _f("error_message", "Error message", help="Why the job failed, as one text.")
GENERATION_ID = _f("id", "Generation ID")
CREDITS_REFUNDED = _f(
    "credits_refunded", "Credits refunded", T.NUMBER, "Credits given back when the job failed."
)

VIDEO_JOB = (
    GENERATION_ID,
    OBJECT,
    MODEL,
    MODEL_ACTUAL,
    STATUS,
    STATE,
    PROMPT,
    CREDITS,
    CREDITS_REFUNDED,
    OUTPUT_URL,
    ERROR,
    FAILOVER_USED,
    CREATED_AT,
    COMPLETED_AT,
)

SHARED_JOB = (
    _f("id", "Job ID"),
    _f("type", "Job type", help="VOICE, COMPOSE or CHART."),
    MODEL,
    STATUS,
    STATE,
    OUTPUT_URL,
    CREDITS,
    _f("parameters", "Parameters", T.OBJECT, "The settings the job ran with."),
    # Not in the documented shared status shape; as on the video status, a failed job
    # needs its reason.
    ERROR,
    ERROR_MESSAGE,
    CREATED_AT,
    COMPLETED_AT,
)

_BATCH_COUNTS = (
    _f("total_jobs", "Total videos", T.INTEGER),
    _f("completed", "Completed videos", T.INTEGER),
    _f("failed", "Failed videos", T.INTEGER),
)
BATCH_STATUS = (
    _f("batch_id", "Batch ID"),
    STATUS,
    STATE,
    *_BATCH_COUNTS,
    _f(
        "credits_charged",
        "Credits charged",
        T.NUMBER,
        "Credits charged for the whole batch (in the answer that starts it).",
    ),
    _f("pending", "Pending videos", T.INTEGER),
    _f("processing", "Processing videos", T.INTEGER),
    _f(
        "jobs",
        "Videos",
        T.OBJECT_LIST,
        "One entry per video of the batch.",
        GENERATION_ID,
        PROMPT,
        _f("image_url", "Source image URL", T.URL),
        STATUS,
        STATE,
        OUTPUT_URL,
        ERROR_MESSAGE,
        CREDITS,
    ),
)

IMAGE_RESULT = (
    _f("created", "Created", T.INTEGER, "When the images were made (Unix seconds)."),
    _f(
        "data",
        "Images",
        T.OBJECT_LIST,
        "One entry per image.",
        _f("url", "Image URL", T.URL),
        _f("revised_prompt", "Revised prompt", T.TEXT),
    ),
)

MODEL_LIST = (
    OBJECT,
    _f(
        "data",
        "Models",
        T.OBJECT_LIST,
        "",
        _f("id", "Model ID"),
        OBJECT,
        _f("owned_by", "Owned by"),
    ),
)

PRICE_QUOTE = (MODEL, _f("credits", "Credits", T.NUMBER, "What the generation would cost."))

#: Fields per response model of the operations (`Operation.response`).
_BY_RESPONSE: dict[str, tuple[OutputField, ...]] = {
    "VideoJob": VIDEO_JOB,
    "SharedJob": SHARED_JOB,
    "BatchStatus": BATCH_STATUS,
    "ImageResult": IMAGE_RESULT,
    "ModelList": MODEL_LIST,
    "PriceQuote": PRICE_QUOTE,
}

# Webhook bodies, as documented per event.
VIDEO_EVENT = (
    GENERATION_ID,
    OBJECT,
    STATUS,
    STATE,
    MODEL,
    MODEL_ACTUAL,
    PROMPT,
    OUTPUT_URL,
    ERROR,
    ERROR_MESSAGE,
    CREDITS,
    CREDITS_REFUNDED,
    FAILOVER_USED,
    COMPLETED_AT,
)
BATCH_EVENT = (
    _f("batch_id", "Batch ID"),
    OBJECT,
    STATUS,
    STATE,
    *_BATCH_COUNTS,
    _f(
        "jobs",
        "Videos",
        T.OBJECT_LIST,
        "One entry per video of the batch.",
        GENERATION_ID,
        PROMPT,
        STATUS,
        STATE,
        OUTPUT_URL,
        CREDITS,
    ),
    _f("total_credits", "Total credits", T.NUMBER),
    COMPLETED_AT,
)
IMAGE_EVENT = (
    _f("id", "Image ID"),
    OBJECT,
    STATUS,
    STATE,
    MODEL,
    PROMPT,
    OUTPUT_URL,
    _f("revised_prompt", "Revised prompt", T.TEXT),
    _f("width", "Width", T.INTEGER),
    _f("height", "Height", T.INTEGER),
    CREDITS,
    COMPLETED_AT,
)
VOICE_EVENT = (
    _f("id", "Job ID"),
    OBJECT,
    STATUS,
    STATE,
    _f("text", "Text", T.TEXT),
    _f("voice", "Voice"),
    _f("language", "Language"),
    OUTPUT_URL,
    _f("duration_seconds", "Length (seconds)", T.NUMBER),
    CREDITS,
    # The failed voice event is not documented: it follows the documented failed video event.
    ERROR,
    ERROR_MESSAGE,
    CREDITS_REFUNDED,
    COMPLETED_AT,
)
# Compose and chart events are not documented: the single-job shape the others share.
JOB_EVENT = (
    _f("id", "Job ID"),
    OBJECT,
    STATUS,
    STATE,
    OUTPUT_URL,
    CREDITS,
    ERROR,
    ERROR_MESSAGE,
    CREDITS_REFUNDED,
    COMPLETED_AT,
)
_BY_PAYLOAD: dict[str, tuple[OutputField, ...]] = {
    "VideoEventPayload": VIDEO_EVENT,
    "BatchEventPayload": BATCH_EVENT,
    "ImageEventPayload": IMAGE_EVENT,
    "VoiceEventPayload": VOICE_EVENT,
    "JobEventPayload": JOB_EVENT,
}

# -- documented webhook bodies (the samples) ---------------------------------------------------

_VIDEO_COMPLETED = {
    "id": "vgen_abc123",
    "object": "video.generation",
    "status": "completed",
    "model": "auto",
    "model_actual": "seedance-t2v",
    "prompt": "A drone shot over a coastal city at golden hour, cinematic",
    "output_url": "https://cdn.creativeai.run/output/video-abc123.mp4",
    "error_message": None,
    "credits": 30,
    "failover_used": True,
    "completed_at": "2026-03-09T16:12:43Z",
}
_TIMEOUT = "Video generation timed out after 10 minutes"
_VOICE_COMPLETED = {
    "id": "voice_abc123",
    "object": "voice.generation",
    "status": "completed",
    "text": "Welcome to CreativeAI. Your launch assets are rendering now.",
    "voice": "alloy",
    "language": "en",
    "output_url": "https://cdn.creativeai.run/output/voice-abc123.mp3",
    "duration_seconds": 4.2,
    "credits": 1,
    "completed_at": "2026-03-09T16:03:45Z",
}
_FAILED = {"status": "failed", "output_url": None, "credits": 0}


def _failure(message: str, refunded: float) -> dict[str, Any]:
    """What the documented failed video event adds, for the undocumented failed events."""
    error = {"message": message, "type": "server_error", "code": "generation_failed"}
    return {**_FAILED, "error": error, "error_message": message, "credits_refunded": refunded}


WEBHOOK_SAMPLES: dict[str, Mapping[str, Any]] = {
    "video.generation.completed": _VIDEO_COMPLETED,
    "video.generation.failed": {
        **_VIDEO_COMPLETED,
        **_FAILED,
        "id": "vgen_xyz789",
        "model_actual": "kling-o3-pro-t2v",
        "prompt": "A drone shot over mountains at sunset",
        "error": {"message": _TIMEOUT, "type": "server_error", "code": "generation_timeout"},
        "error_message": _TIMEOUT,
        "credits_refunded": 60,
        "completed_at": "2026-03-09T16:20:02Z",
    },
    "video.batch.completed": {
        "batch_id": "video_batch_abc123",
        "object": "video.batch",
        "status": "completed",
        "total_jobs": 2,
        "completed": 2,
        "failed": 0,
        "jobs": [
            {
                "id": f"vid_xyz{n}",
                "prompt": prompt,
                "status": "completed",
                "output_url": f"https://cdn.creativeai.run/output/video-{n}.mp4",
                "credits": 30,
            }
            for n, prompt in enumerate(
                ("Product showcase video, rotating 360 degrees", "Social media clip"), 1
            )
        ],
        "total_credits": 60,
        "completed_at": "2026-03-09T16:15:00Z",
    },
    "image.generation.completed": {
        "id": "img_abc123",
        "object": "image.generation",
        "status": "completed",
        "model": "seedream-3.0",
        "prompt": "A minimalist product photo on white background",
        "output_url": "https://cdn.creativeai.run/output/image-abc123.png",
        "revised_prompt": "A minimalist product photo on white background, professional lighting",
        "width": 1024,
        "height": 1024,
        "credits": 2,
        "completed_at": "2026-03-09T16:05:12Z",
    },
    "voice.generation.completed": _VOICE_COMPLETED,
    # The events below are not documented: their samples follow the documented ones.
    "voice.generation.failed": {
        **_VOICE_COMPLETED,
        **_failure("Voice generation failed", 1),
        "id": "voice_xyz789",
    },
}


def _job_event_sample(op_key: str, state: NormalizedState) -> dict[str, Any]:
    """An undocumented single-job event, from its operation's documented result."""
    done = dict(operations.BY_KEY[op_key].sample_response)
    body = {**done, "object": f"{operations.BY_KEY[op_key].resource}.generation"}
    if state is NormalizedState.FAILED:
        body.update(_failure("Generation failed", done.get("credits") or 0))
    return body


# -- the contract per operation and per event --------------------------------------------------


def _built(fields: tuple[OutputField, ...], job: JobKind | None, raw: Mapping[str, Any]) -> Output:
    return Output(fields, _shape(fields, raw, job), job)


def _documented(response: str, first: Operation) -> Mapping[str, Any]:
    """The documented answer of that shape: `first`'s own, else another operation's."""
    if first.response == response and first.sample_response:
        return first.sample_response
    return next(
        op.sample_response
        for op in operations.ALL
        if op.response == response and op.sample_response
    )


def output(op: Operation) -> Output:
    """What `op` outputs: for a job-starting operation, what its status operation outputs."""
    status_op = operations.BY_KEY.get(op.status_operation or "")
    if op.kind is OperationKind.CREATE and status_op is not None:
        job = status_op.job
        return _built(_BY_RESPONSE[status_op.response], job, _documented(status_op.response, op))
    return _built(_BY_RESPONSE[op.response], op.job, _documented(op.response, op))


def event_output(name: str) -> Output:
    """What the webhook trigger for event `name` outputs (its documented body)."""
    event = catalog_events.BY_NAME[name]
    fields = _BY_PAYLOAD[event.payload]
    ops = [operations.BY_KEY[k] for k in event.operations]
    job = next((op.job for op in ops if op.job is not None), None)
    raw = WEBHOOK_SAMPLES.get(name) or _job_event_sample(event.operations[0], event.state)
    return _built(fields, job, raw)
