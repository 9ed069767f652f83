"""Every request field of the CreativeAI API, each described once.

A field lists the operations that send it (`operations`) and those that require it
(`required_in`); operations collect their fields from here, in the order written.
To add an API field, add one `Field(...)` below and name its operations: the request
models, the client, the sandbox and all three platform packages pick it up.
Sources: ../shared/api-reference.md and the API docs it digests.
"""

from __future__ import annotations

from connector.catalog.spec import Field, FieldType, ModelSource, Option

T = FieldType

VIDEO_CREATES = ("video.create_from_text", "video.create_from_image")
VIDEO_AND_STREAM = (*VIDEO_CREATES, "video.stream")
IMAGE_GENERATES = ("image.generate", "image.stream")
SHARED_VISUAL = (*VIDEO_AND_STREAM, *IMAGE_GENERATES)  # reference-image fields


def _opts(*pairs: tuple[str, str]) -> tuple[Option, ...]:
    return tuple(Option(value=v, label=label) for v, label in pairs)


# -- what the job works on: prompts, texts and source media -------------------------------

PROMPT = Field(
    key="prompt",
    name="prompt",
    type=T.TEXT,
    label="Prompt",
    help="Describe what to generate: subject, motion, camera, lighting, style.",
    min_length=1,
    example="Slow premium turntable shot of this product, soft studio reflections",
    operations=(*VIDEO_AND_STREAM, *IMAGE_GENERATES, "image.edit"),
    required_in=(*VIDEO_AND_STREAM, *IMAGE_GENERATES, "image.edit"),
)

IMAGE_URL = Field(
    key="image_url",
    name="image_url",
    type=T.URL,
    label="Source Image URL",
    help="Public HTTPS URL of a JPEG or PNG used as the first frame (image-to-video).",
    example="https://example.com/product.png",
    operations=("video.create_from_image", "video.stream"),
    required_in=("video.create_from_image",),
)

BATCH_PROMPTS = Field(
    key="batch_prompts",
    name="prompts",
    type=T.OBJECT_LIST,
    label="Videos",
    help="One entry per video: a prompt and an optional source image.",
    min_items=1,
    max_items=20,
    children=(
        PROMPT.model_copy(
            update={"key": "batch_prompt", "operations": (), "required_in": (), "required": True}
        ),
        IMAGE_URL.model_copy(
            update={"key": "batch_image_url", "operations": (), "required_in": ()}
        ),
    ),
    example=[{"prompt": "Product showcase, rotating 360 degrees"}],
    operations=("batch.create",),
    required_in=("batch.create",),
)

TEXT = Field(
    key="text",
    name="text",
    type=T.TEXT,
    label="Text",
    help="What the voice says.",
    min_length=1,
    max_length=5000,
    example="Meet the travel mug built for commutes, workouts, and long desk days.",
    operations=("voice.create",),
    required_in=("voice.create",),
)

VIDEO_URL = Field(
    key="video_url",
    name="video_url",
    type=T.URL,
    label="Video URL",
    help="Hosted MP4 to put the audio on.",
    example="https://cdn.creativeai.run/output/product-motion.mp4",
    operations=("compose.create",),
    required_in=("compose.create",),
)

AUDIO_URL = Field(
    key="audio_url",
    name="audio_url",
    type=T.URL,
    label="Audio URL",
    help="Hosted narration or soundtrack.",
    example="https://cdn.creativeai.run/output/product-voice.mp3",
    operations=("compose.create",),
    required_in=("compose.create",),
)

REPLACE_AUDIO = Field(
    key="replace_audio",
    name="replace_audio",
    type=T.BOOLEAN,
    label="Replace Audio",
    help="On: swap the video's soundtrack for this audio. Off: mix it over the original.",
    default=True,
    operations=("compose.create",),
    required_in=("compose.create",),
)

IMAGE_FILE = Field(
    key="image_file",
    name="image",
    type=T.FILE,
    label="Image",
    help="The image to edit (PNG or JPEG).",
    operations=("image.edit",),
    required_in=("image.edit",),
)

CHART_IMAGE_URL = Field(
    key="chart_image_url",
    name="chart_image_url",
    type=T.URL,
    label="Chart Image URL",
    help="An existing chart image to animate (or give chart data instead).",
    operations=("chart.create",),
)

CHART_DATA = Field(
    key="chart_data",
    name="chart_data",
    type=T.OBJECT,
    label="Chart Data",
    help="Draw the chart from data instead of an image.",
    children=(
        Field(
            key="chart_type",
            name="type",
            type=T.ENUM,
            label="Chart Type",
            help="Kind of chart.",
            options=_opts(("line", "Line"), ("bar", "Bar"), ("pie", "Pie"), ("area", "Area")),
            required=True,
        ),
        Field(
            key="chart_labels",
            name="labels",
            type=T.STRING_LIST,
            item_type=T.STRING,
            label="Labels",
            help="Category labels along the axis.",
            required=True,
        ),
        Field(
            key="chart_datasets",
            name="datasets",
            type=T.OBJECT_LIST,
            label="Datasets",
            help="One series per dataset.",
            min_items=1,
            required=True,
            children=(
                Field(
                    key="dataset_label",
                    name="label",
                    type=T.STRING,
                    label="Series Label",
                    help="Name of the series.",
                    required=True,
                ),
                Field(
                    key="dataset_data",
                    name="data",
                    type=T.NUMBER_LIST,
                    label="Values",
                    help="One value per label.",
                    required=True,
                ),
            ),
        ),
    ),
    example={
        "type": "line",
        "labels": ["Q1", "Q2", "Q3", "Q4"],
        "datasets": [{"label": "Revenue", "data": [1.2, 1.8, 2.4, 3.1]}],
    },
    operations=("chart.create",),
)


# -- models -------------------------------------------------------------------------------

PRICE_MODEL = Field(
    key="price_model",
    name="model",
    type=T.STRING,
    label="Model",
    help="The model of the generation to price; add its duration, resolution or count.",
    min_length=1,
    example="kling-o3-pro",
    options_source=ModelSource(),
    operations=("price.calculate",),
    required_in=("price.calculate",),
)

VIDEO_MODEL = Field(
    key="video_model",
    name="model",
    type=T.ENUM,
    label="Model",
    help="Video model. 'auto' routes to a live provider and reports the one that ran.",
    options=(
        Option(value="auto", label="Auto (recommended)", help="CreativeAI routing"),
        Option(value="kling-o3-pro", label="Kling O3 Pro", help="Highest quality"),
        Option(value="kling-v3", label="Kling V3", help="Multi-shot storyboards"),
        Option(value="seedance-1.5-pro", label="Seedance 1.5 Pro"),
    ),
    closed=False,  # the live list at GET /v1/models may hold more
    default="auto",
    options_source=ModelSource(kind="video"),
    operations=(*VIDEO_AND_STREAM, "batch.create"),
)

IMAGE_MODEL = Field(
    key="image_model",
    name="model",
    type=T.ENUM,
    label="Model",
    help="Image model.",
    options=(
        Option(value="dall-e-3", label="DALL-E 3 (recommended)"),
        Option(value="gpt-image-1", label="GPT Image 1"),
        Option(value="seedream-3.0", label="Seedream 3.0"),
        Option(value="flux-pro", label="FLUX Pro"),
        Option(value="stable-diffusion-3", label="Stable Diffusion 3"),
    ),
    closed=False,
    default="dall-e-3",
    options_source=ModelSource(kind="image"),
    operations=IMAGE_GENERATES,
)

EDIT_MODEL = Field(
    key="edit_model",
    name="model",
    type=T.ENUM,
    label="Model",
    help="Image editing model.",
    options=(
        Option(value="seedream-v4.5-edit", label="Seedream v4.5 Edit", help="Inpainting"),
        Option(value="wan-2.6-image-edit", label="Wan 2.6 Image Edit", help="Mask support"),
    ),
    closed=False,
    default="seedream-v4.5-edit",
    options_source=ModelSource(kind="image-edit"),
    operations=("image.edit",),
    required_in=("image.edit",),
)


# -- length, shape, count and voice -------------------------------------------------------

DURATION = Field(
    key="duration",
    name="duration",
    type=T.INTEGER,
    label="Duration (seconds)",
    help="Length of the clip in seconds.",
    minimum=3,
    maximum=15,
    example=5,
    operations=(*VIDEO_AND_STREAM, "batch.create", "price.calculate"),
)

CHART_DURATION = Field(
    key="chart_duration",
    name="duration",
    type=T.INTEGER,
    label="Duration (seconds)",
    help="Length of the chart video in seconds.",
    minimum=1,
    example=8,
    operations=("chart.create",),
)

ASPECT_RATIO = Field(
    key="aspect_ratio",
    name="aspect_ratio",
    type=T.ENUM,
    label="Aspect Ratio",
    help="Frame shape. Leave empty with a source image to follow the image.",
    options=_opts(
        ("21:9", "21:9 (cinema)"),
        ("16:9", "16:9 (landscape)"),
        ("4:3", "4:3"),
        ("1:1", "1:1 (square)"),
        ("3:4", "3:4"),
        ("9:16", "9:16 (vertical)"),
    ),
    example="9:16",
    operations=(*VIDEO_AND_STREAM, "batch.create"),
)

SIZE = Field(
    key="size",
    name="size",
    type=T.ENUM,
    label="Size",
    help="Width x height in pixels.",
    options=_opts(
        ("1024x1024", "1024x1024 (square)"),
        ("1536x1024", "1536x1024 (landscape)"),
        ("1024x1536", "1024x1536 (portrait)"),
        ("1792x1024", "1792x1024 (wide)"),
    ),
    example="1024x1024",
    operations=(*IMAGE_GENERATES, "image.edit"),
)

N = Field(
    key="n",
    name="n",
    type=T.INTEGER,
    label="Number of Images",
    help="How many images to generate.",
    minimum=1,
    maximum=4,
    default=1,
    operations=(*IMAGE_GENERATES, "price.calculate"),
)

VOICE = Field(
    key="voice",
    name="voice",
    type=T.ENUM,
    label="Voice",
    help="Voice preset.",
    options=(
        Option(value="alloy", label="Alloy", help="Balanced, versatile"),
        Option(value="echo", label="Echo", help="Warm, natural male"),
        Option(value="fable", label="Fable", help="Expressive storyteller"),
        Option(value="onyx", label="Onyx", help="Deep, authoritative male"),
        Option(value="nova", label="Nova", help="Friendly, conversational female"),
        Option(value="shimmer", label="Shimmer", help="Clear, upbeat female"),
    ),
    default="alloy",
    operations=("voice.create",),
)

LANGUAGE = Field(
    key="language",
    name="language",
    type=T.ENUM,
    label="Language",
    help="Language of the text.",
    options=_opts(
        ("en", "English"),
        ("zh", "Chinese"),
        ("ja", "Japanese"),
        ("ko", "Korean"),
        ("es", "Spanish"),
        ("fr", "French"),
        ("de", "German"),
        ("pt", "Portuguese"),
        ("ru", "Russian"),
        ("ar", "Arabic"),
    ),
    default="en",
    operations=("voice.create",),
)

SPEED = Field(
    key="speed",
    name="speed",
    type=T.NUMBER,
    label="Speed",
    help="Playback speed; 1.0 is natural.",
    minimum=0.5,
    maximum=2.0,
    default=1.0,
    operations=("voice.create",),
)

ANIMATION_STYLE = Field(
    key="animation_style",
    name="animation_style",
    type=T.ENUM,
    label="Animation Style",
    help="How the chart comes to life.",
    options=_opts(
        ("ken_burns", "Ken Burns"),
        ("build_up", "Build Up"),
        ("reveal", "Reveal"),
        ("morph", "Morph"),
    ),
    operations=("chart.create",),
)

TITLE = Field(
    key="title",
    name="title",
    type=T.STRING,
    label="Title",
    help="Title shown over the video.",
    operations=("chart.create",),
)


# -- quality and editing ------------------------------------------------------------------

RESOLUTION = Field(
    key="resolution",
    name="resolution",
    type=T.ENUM,
    label="Resolution",
    help="Output resolution.",
    options=_opts(("480p", "480p"), ("720p", "720p"), ("1080p", "1080p")),
    default="720p",
    operations=(*VIDEO_AND_STREAM, "price.calculate"),
    advanced=True,
)

QUALITY = Field(
    key="quality",
    name="quality",
    type=T.ENUM,
    label="Quality",
    help="Rendering quality.",
    options=_opts(("standard", "Standard"), ("hd", "HD")),
    operations=IMAGE_GENERATES,
    advanced=True,
)

BACKGROUND = Field(
    key="background",
    name="background",
    type=T.ENUM,
    label="Background",
    help="'transparent' returns a PNG with an alpha channel.",
    options=_opts(("auto", "Auto"), ("transparent", "Transparent (PNG)")),
    default="auto",
    operations=IMAGE_GENERATES,
    advanced=True,
)

MASK = Field(
    key="mask",
    name="mask",
    type=T.FILE,
    label="Mask",
    help="PNG the size of the image: white marks what to edit, black what to keep "
    "(or transparent = edit).",
    operations=("image.edit",),
    advanced=True,
)

OUTPAINT_DIRECTION = Field(
    key="outpaint_direction",
    name="outpaint_direction",
    type=T.ENUM,
    label="Outpaint Direction",
    help="Extend the canvas in this direction.",
    options=_opts(("all", "All sides")),
    closed=False,
    operations=("image.edit",),
    advanced=True,
)


# -- video options ------------------------------------------------------------------------

FAILOVER = Field(
    key="failover",
    name="failover",
    type=T.BOOLEAN,
    label="Failover",
    help="Retry on another provider if the first one fails.",
    default=True,
    operations=VIDEO_AND_STREAM,
    advanced=True,
)

SOUND = Field(
    key="sound",
    name="sound",
    type=T.BOOLEAN,
    label="Native Sound",
    help="Generate atmospheric audio aligned with the clip.",
    default=False,
    operations=VIDEO_CREATES,
    advanced=True,
)

MULTI_SHOT_PROMPTS = Field(
    key="multi_shot_prompts",
    name="multi_shot_prompts",
    type=T.STRING_LIST,
    item_type=T.TEXT,
    label="Multi-Shot Prompts",
    help="Follow-up shots, one prompt each, generated as connected scenes (Kling V3).",
    min_items=1,
    operations=VIDEO_CREATES,
    advanced=True,
)

AI_DIRECTOR_MODE = Field(
    key="ai_director_mode",
    name="ai_director_mode",
    type=T.BOOLEAN,
    label="AI Director Mode",
    help="Let the model direct camera and transitions across shots (Kling V3).",
    default=False,
    operations=VIDEO_CREATES,
    advanced=True,
)


# -- references (images and video) --------------------------------------------------------

CHARACTER_REFERENCE_URL = Field(
    key="character_reference_url",
    name="character_reference_url",
    type=T.URL,
    label="Primary Character Reference URL",
    help="One image of the main character to keep consistent.",
    operations=SHARED_VISUAL,
    advanced=True,
)

CHARACTER_REFERENCES = Field(
    key="character_references",
    name="character_references",
    type=T.STRING_LIST,
    item_type=T.URL,
    label="Character Reference URLs",
    help="Images of distinct characters to keep consistent, one character per image.",
    max_items=3,
    operations=SHARED_VISUAL,
    advanced=True,
)

CAMERA_ANGLE = Field(
    key="camera_angle",
    name="camera_angle",
    type=T.ENUM,
    label="Camera Angle",
    help="Camera viewpoint, for consistent asset series.",
    options=_opts(
        ("isometric", "Isometric"), ("low-angle", "Low Angle"), ("bird-eye", "Bird's Eye")
    ),
    closed=False,  # the docs give these as examples
    operations=SHARED_VISUAL,
    advanced=True,
)

STYLE_REFERENCE_URL = Field(
    key="style_reference_url",
    name="style_reference_url",
    type=T.URL,
    label="Style Reference URL",
    help="An image whose style is transferred to the result.",
    operations=(*SHARED_VISUAL, "image.edit"),
    advanced=True,
)


# -- delivery -----------------------------------------------------------------------------

WEBHOOK_URL = Field(
    key="webhook_url",
    name="webhook_url",
    type=T.URL,
    label="Webhook URL",
    help="Where CreativeAI posts the signed result when the job completes or fails.",
    operations=(*VIDEO_CREATES, "batch.create", "voice.create", "compose.create", "chart.create"),
    advanced=True,
)

WEBHOOK_AUTO_RETRY = Field(
    key="webhook_auto_retry",
    name="webhook_auto_retry",
    type=T.BOOLEAN,
    label="Retry Failed Generations",
    help="Let CreativeAI retry the generation itself when it fails transiently.",
    default=False,
    operations=VIDEO_CREATES,
    advanced=True,
)

STREAM = Field(
    key="stream",
    name="stream",
    type=T.BOOLEAN,
    label="Stream",
    help="Answer with a progress stream.",
    fixed=True,
    platforms=frozenset(),
    operations=("video.stream", "image.stream"),
    required_in=("video.stream", "image.stream"),
)

# -- path parameters -------------------------------------------------------------------------

GENERATION_ID = Field(
    key="generation_id",
    name="id",
    type=T.STRING,
    label="Generation ID",
    help="The id returned when the job was created.",
    min_length=1,
    example="vgen_abc123",
)

BATCH_ID = Field(
    key="batch_id",
    name="batch_id",
    type=T.STRING,
    label="Batch ID",
    help="The batch_id returned when the batch was created.",
    min_length=1,
    example="video_batch_abc123",
)


#: Every request field (each with the operations that send it), in the order written above:
#: operations show their fields in this order. Derived, so a new `Field(...)` is the only edit.
ALL: tuple[Field, ...] = tuple(
    value for value in tuple(globals().values()) if isinstance(value, Field) and value.operations
)
