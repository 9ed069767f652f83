"""Every operation of the API the connector covers, as builders see them.

Fields are not listed here: each field in `fields.py` names its operations.
"""

from __future__ import annotations

from connector.catalog.fields import BATCH_ID, GENERATION_ID
from connector.catalog.spec import (
    Duration,
    FieldText,
    JobKind,
    Operation,
    OperationKind,
    Platform,
)

K = OperationKind
NO_PLATFORM: frozenset[Platform] = frozenset()

_VIDEO_ACCEPTED = {
    "id": "vgen_abc123",
    "object": "video.generation",
    "model": "auto",
    "model_actual": "kling-o3-pro-t2v",
    "status": "processing",
    "prompt": "A drone shot over a coastal city at golden hour, cinematic",
    "credits": 60,
    "failover_used": False,
    "output_url": None,
    "webhook_url": None,
    "created_at": "2026-03-09T16:10:00Z",
}
_VIDEO_DONE = {
    **_VIDEO_ACCEPTED,
    "status": "completed",
    "output_url": "https://cdn.creativeai.run/output/video-abc123.mp4",
    "error": None,
    "completed_at": "2026-03-09T16:12:43Z",
}
_BATCH_JOBS = [
    {"id": "vid_xyz1", "prompt": "Product showcase video", "status": "pending", "credits": 30},
    {"id": "vid_xyz2", "prompt": "Social media clip", "status": "pending", "credits": 30},
]
_SHARED_DONE = {
    "id": "voice_abc123",
    "type": "VOICE",
    "model": "creative-voice",
    "status": "COMPLETED",
    "output_url": "https://cdn.creativeai.run/output/voice-abc123.mp3",
    "credits": 8,
    "parameters": {"voice": "alloy", "language": "en", "speed": 1.0},
    "created_at": "2026-03-27T18:30:00Z",
    "completed_at": "2026-03-27T18:30:12Z",
}
_IMAGE = {
    "created": 1709550000,
    "data": [
        {
            "url": "https://cdn.creativeai.run/output/abc123.png",
            "revised_prompt": "A serene Japanese garden at sunset",
        }
    ],
}

# How long jobs run. The API states one limit: a video "timed out after 10 minutes"
# (its `generation_timeout` error). Typical times are the documented examples' own
# created_at -> completed_at; where no example has both, the comment says what we took.
_VIDEO_TIMEOUT_S = 600.0
#: Example video job (16:10:00 -> 16:12:43); one video of a batch runs as long.
VIDEO_DURATION = Duration(typical_s=163.0, longest_s=_VIDEO_TIMEOUT_S)
# Shared-status jobs: no documented limit, so the video's 10 minutes is assumed for them too.
#: Voice example 18:30:00 -> 18:30:12.
VOICE_DURATION = Duration(typical_s=12.0, longest_s=_VIDEO_TIMEOUT_S)
#: Compose example 18:30:00 -> 18:30:18.
COMPOSE_DURATION = Duration(typical_s=18.0, longest_s=_VIDEO_TIMEOUT_S)
#: Chart-to-video example 20:30:00 -> 20:30:45.
CHART_DURATION = Duration(typical_s=45.0, longest_s=_VIDEO_TIMEOUT_S)

# An operation's own words for a field whose help and example are written for video
# (`Operation.field_text`): the prompt describes a shot, the aspect ratio mentions a source
# image that only some operations take.
_IMAGE_PROMPT = FieldText(
    help="Describe the image: subject, setting, lighting, style.",
    example="A ceramic travel mug on a marble counter, soft morning light",
)

ALL: tuple[Operation, ...] = (
    Operation(
        key="video.create_from_text",
        resource="video",
        action="create_from_text",
        label="Create Video From Text",
        description="Start a video from a text prompt; finishes asynchronously.",
        method="POST",
        path="/v1/video/generations",
        aliases=("/v1/video/generate",),
        kind=K.CREATE,
        response="VideoJob",
        job=JobKind.VIDEO,
        status_operation="video.get",
        duration=VIDEO_DURATION,
        credits_example=60,
        sample_response=_VIDEO_DONE,
        field_text={"aspect_ratio": FieldText(help="Frame shape of the video.")},
    ),
    Operation(
        key="video.create_from_image",
        resource="video",
        action="create_from_image",
        label="Create Video From Image",
        description="Animate a still image (its first frame) guided by a prompt.",
        method="POST",
        path="/v1/video/generations",
        aliases=("/v1/video/generate",),
        kind=K.CREATE,
        response="VideoJob",
        job=JobKind.VIDEO,
        status_operation="video.get",
        duration=VIDEO_DURATION,
        credits_example=30,
        sample_response={
            **_VIDEO_DONE,
            "id": "vgen_i2v_abc123",
            "model_actual": "kling-o3-pro-i2v",
            "image_url": "https://example.com/source-image.png",
            "credits": 30,
        },
        field_text={
            "aspect_ratio": FieldText(help="Frame shape. Leave it out to follow the source image.")
        },
    ),
    Operation(
        key="video.get",
        resource="video",
        action="get",
        label="Get Video",
        description="Get a video generation's status and result.",
        method="GET",
        path="/v1/video/generations/{id}",
        kind=K.GET,
        body="none",
        path_params=(GENERATION_ID,),
        response="VideoJob",
        job=JobKind.VIDEO,
        sample_response=_VIDEO_DONE,
    ),
    Operation(
        key="batch.create",
        resource="batch",
        action="create",
        label="Create Video Batch",
        description="Start 1 to 20 videos in one call; each runs independently.",
        method="POST",
        path="/v1/video/generations/batch",
        kind=K.CREATE,
        response="BatchCreated",
        job=JobKind.BATCH,
        status_operation="batch.get",
        # The videos of a batch run side by side: the batch takes about as long as one.
        duration=VIDEO_DURATION,
        credits_example=60,
        sample_response={
            "batch_id": "video_batch_abc123",
            "total_jobs": 2,
            "jobs": _BATCH_JOBS,
            "credits_charged": 60,
        },
        field_text={"aspect_ratio": FieldText(help="Frame shape of every video.")},
    ),
    Operation(
        key="batch.get",
        resource="batch",
        action="get",
        label="Get Video Batch",
        description="Get a batch's counts and each video's result.",
        method="GET",
        path="/v1/video/generations/batch/{batch_id}",
        kind=K.GET,
        body="none",
        path_params=(BATCH_ID,),
        response="BatchStatus",
        job=JobKind.BATCH,
        sample_response={
            "batch_id": "video_batch_abc123",
            "total_jobs": 2,
            "completed": 2,
            "failed": 0,
            "pending": 0,
            "processing": 0,
            "jobs": [
                {
                    **job,
                    "status": "completed",
                    "image_url": None,
                    "error_message": None,
                    "output_url": f"https://cdn.creativeai.run/output/video-{n}.mp4",
                }
                for n, job in enumerate(_BATCH_JOBS, 1)
            ],
        },
    ),
    Operation(
        key="voice.create",
        resource="voice",
        action="create",
        label="Create Voice",
        description="Turn text into narration (MP3); finishes asynchronously.",
        method="POST",
        path="/api/generate/voice",
        kind=K.CREATE,
        response="SharedJob",
        job=JobKind.SHARED,
        status_operation="job.get",
        duration=VOICE_DURATION,
        credits_example=8,
        sample_response=_SHARED_DONE,
    ),
    Operation(
        key="compose.create",
        resource="compose",
        action="create",
        label="Compose Video and Audio",
        description="Put a hosted audio track onto a hosted MP4 (replace or mix).",
        method="POST",
        path="/api/generate/compose",
        kind=K.CREATE,
        response="SharedJob",
        job=JobKind.SHARED,
        status_operation="job.get",
        duration=COMPOSE_DURATION,
        credits_example=5,
        sample_response={
            "id": "comp_xyz789",
            "status": "COMPLETED",
            "output_url": "https://cdn.creativeai.run/output/product-demo-with-voice.mp4",
            "credits": 5,
            "created_at": "2026-03-27T18:30:00Z",
            "completed_at": "2026-03-27T18:30:18Z",
        },
    ),
    Operation(
        key="job.get",
        resource="job",
        action="get",
        label="Get Job",
        # {jobs}: the nouns of the resources whose jobs this endpoint follows.
        description="Get a {jobs} job's status and result.",
        method="GET",
        path="/api/generate/status/{id}",
        kind=K.GET,
        body="none",
        path_params=(GENERATION_ID,),
        response="SharedJob",
        job=JobKind.SHARED,
        sample_response=_SHARED_DONE,
    ),
    Operation(
        key="image.generate",
        resource="image",
        action="generate",
        label="Generate Image",
        description="Generate images from a prompt (answers at once).",
        method="POST",
        path="/v1/images/generations",
        kind=K.CREATE,
        response="ImageResult",
        credits_example=2,
        sample_response=_IMAGE,
        field_text={"prompt": _IMAGE_PROMPT},
    ),
    Operation(
        key="image.edit",
        resource="image",
        action="edit",
        label="Edit Image",
        description="Inpaint, outpaint or restyle an uploaded image (answers at once).",
        method="POST",
        path="/v1/images/edits",
        kind=K.CREATE,
        body="multipart",
        response="ImageResult",
        credits_example=2,
        sample_response={
            "created": 1709550000,
            "data": [
                {
                    "url": "https://cdn.creativeai.run/output/edited-abc123.png",
                    "revised_prompt": "A clean product shot on a white studio background",
                }
            ],
        },
        field_text={
            "prompt": FieldText(
                help="Describe the change to make to the image.",
                example="Place the item on a clean white studio background",
            )
        },
    ),
    Operation(
        key="chart.create",
        resource="chart",
        action="create",
        label="Create Chart Video",
        description="Animate a chart image or chart data into a video.",
        method="POST",
        path="/api/generate/chart-to-video",
        kind=K.CREATE,
        one_of=(("chart_image_url", "chart_data"),),
        response="SharedJob",
        job=JobKind.SHARED,
        status_operation="job.get",
        duration=CHART_DURATION,
        credits_example=15,
        sample_response={
            "id": "chart_xyz123",
            "status": "COMPLETED",
            "output_url": "https://cdn.creativeai.run/output/animated-chart-q4-revenue.mp4",
            "credits": 15,
            "created_at": "2026-03-28T20:30:00Z",
            "completed_at": "2026-03-28T20:30:45Z",
        },
    ),
    Operation(
        key="model.list",
        resource="model",
        action="list",
        label="List Models",
        description="List the models the API serves now.",
        method="GET",
        path="/v1/models",
        kind=K.LIST,
        body="none",
        response="ModelList",
        sample_response={
            "object": "list",
            "data": [{"id": "auto", "object": "model", "owned_by": "creativeai", "type": "video"}],
        },
    ),
    Operation(
        key="price.calculate",
        resource="price",
        action="calculate",
        label="Calculate Price",
        description="Price a generation before running it.",
        method="POST",
        path="/api/v1/model/calculate",
        kind=K.CALCULATE,
        response="PriceQuote",
        sample_response={"model": "kling-o3-pro", "credits": 60},
    ),
    # Progress streams: used by the client and CLI; no-code platforms wait by webhook.
    Operation(
        key="video.stream",
        resource="video",
        action="stream",
        label="Stream Video Generation",
        description="Start a video and follow its progress as server-sent events.",
        method="POST",
        path="/v1/videos/generations/stream",
        kind=K.CREATE,
        response="VideoJob",
        # A stream that drops after naming its job is settled by the job's status.
        status_operation="video.get",
        duration=VIDEO_DURATION,
        platforms=NO_PLATFORM,
    ),
    Operation(
        key="image.stream",
        resource="image",
        action="stream",
        label="Stream Image Generation",
        description="Generate an image and follow its progress as server-sent events.",
        method="POST",
        path="/v1/images/generations/stream",
        kind=K.CREATE,
        response="ImageResult",
        platforms=NO_PLATFORM,
        field_text={"prompt": _IMAGE_PROMPT},
    ),
)

BY_KEY: dict[str, Operation] = {op.key: op for op in ALL}
