"""Typed keyword arguments of the client's resource methods.

Generated from connector.catalog by connector/client/_codegen.py: do not edit by hand.
Every field, enum and requirement comes from the catalog; values are checked again by the
catalog's request models when a call is made.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Required, TypedDict

from connector.catalog import Upload

#: A file for a multipart field: bytes, (filename, bytes), (filename, bytes, type) or Upload.
FileInput = bytes | tuple[str, bytes] | tuple[str, bytes, str] | Upload

AspectRatio = Literal["21:9", "16:9", "4:3", "1:1", "3:4", "9:16"]

Resolution = Literal["480p", "720p", "1080p"]

Voice = Literal["alloy", "echo", "fable", "onyx", "nova", "shimmer"]

Language = Literal["en", "zh", "ja", "ko", "es", "fr", "de", "pt", "ru", "ar"]

Size = Literal["1024x1024", "1536x1024", "1024x1536", "1792x1024"]

Quality = Literal["standard", "hd"]

Background = Literal["auto", "transparent"]

ChartType = Literal["line", "bar", "pie", "area"]

AnimationStyle = Literal["ken_burns", "build_up", "reveal", "morph"]


class BatchPrompt(TypedDict, total=False):
    """Videos: One entry per video: a prompt and an optional source image."""

    # Describe what to generate: subject, motion, camera, lighting, style. Allowed: non-empty
    # text.
    prompt: Required[str]
    # Public HTTPS URL of a JPEG or PNG used as the first frame (image-to-video). Allowed: an
    # absolute http(s) URL.
    image_url: str


class ChartDataset(TypedDict, total=False):
    """Datasets: One series per dataset."""

    # Name of the series. Allowed: text.
    label: Required[str]
    # One value per label. Allowed: a list of numbers.
    data: Required[Sequence[float]]


class ChartData(TypedDict, total=False):
    """Chart Data: Draw the chart from data instead of an image."""

    # Kind of chart. Allowed: one of line, bar, pie, area.
    type: Required[ChartType]
    # Category labels along the axis. Allowed: a list of texts.
    labels: Required[Sequence[str]]
    # One series per dataset. Allowed: a list of at least 1 items.
    datasets: Required[Sequence[ChartDataset]]


class VideoCreateParams(TypedDict, total=False):
    """Fields of video.create_from_text and video.create_from_image."""

    # Describe what to generate: subject, motion, camera, lighting, style. Allowed: non-empty
    # text.
    prompt: Required[str]
    # Video model. 'auto' routes to a live provider and reports the one that ran. Allowed: for
    # example auto, kling-o3-pro, kling-v3, seedance-1.5-pro.
    model: str
    # Length of the clip in seconds. Allowed: a whole number from 3 to 15.
    duration: int
    # Frame shape. Leave empty with a source image to follow the image. Allowed: one of 21:9,
    # 16:9, 4:3, 1:1, 3:4, 9:16.
    aspect_ratio: AspectRatio
    # Output resolution. Allowed: one of 480p, 720p, 1080p.
    resolution: Resolution
    # Retry on another provider if the first one fails. Allowed: true or false.
    failover: bool
    # Generate atmospheric audio aligned with the clip. Allowed: true or false.
    sound: bool
    # Follow-up shots, one prompt each, generated as connected scenes (Kling V3). Allowed: a
    # list of at least 1 texts.
    multi_shot_prompts: Sequence[str]
    # Let the model direct camera and transitions across shots (Kling V3). Allowed: true or
    # false.
    ai_director_mode: bool
    # One image of the main character to keep consistent. Allowed: an absolute http(s) URL.
    character_reference_url: str
    # Images of distinct characters to keep consistent, one character per image. Allowed: a list
    # of at most 3 URLs.
    character_references: Sequence[str]
    # Camera viewpoint, for consistent asset series. Allowed: for example isometric, low-angle,
    # bird-eye.
    camera_angle: str
    # An image whose style is transferred to the result. Allowed: an absolute http(s) URL.
    style_reference_url: str
    # Where CreativeAI posts the signed result when the job completes or fails. Allowed: an
    # absolute http(s) URL.
    webhook_url: str
    # Let CreativeAI retry the generation itself when it fails transiently. Allowed: true or
    # false.
    webhook_auto_retry: bool
    # Public HTTPS URL of a JPEG or PNG used as the first frame (image-to-video). Allowed: an
    # absolute http(s) URL.
    image_url: str


class VideoStreamParams(TypedDict, total=False):
    """Fields of video.stream."""

    # Describe what to generate: subject, motion, camera, lighting, style. Allowed: non-empty
    # text.
    prompt: Required[str]
    # Public HTTPS URL of a JPEG or PNG used as the first frame (image-to-video). Allowed: an
    # absolute http(s) URL.
    image_url: str
    # Video model. 'auto' routes to a live provider and reports the one that ran. Allowed: for
    # example auto, kling-o3-pro, kling-v3, seedance-1.5-pro.
    model: str
    # Length of the clip in seconds. Allowed: a whole number from 3 to 15.
    duration: int
    # Frame shape. Leave empty with a source image to follow the image. Allowed: one of 21:9,
    # 16:9, 4:3, 1:1, 3:4, 9:16.
    aspect_ratio: AspectRatio
    # Output resolution. Allowed: one of 480p, 720p, 1080p.
    resolution: Resolution
    # Retry on another provider if the first one fails. Allowed: true or false.
    failover: bool
    # One image of the main character to keep consistent. Allowed: an absolute http(s) URL.
    character_reference_url: str
    # Images of distinct characters to keep consistent, one character per image. Allowed: a list
    # of at most 3 URLs.
    character_references: Sequence[str]
    # Camera viewpoint, for consistent asset series. Allowed: for example isometric, low-angle,
    # bird-eye.
    camera_angle: str
    # An image whose style is transferred to the result. Allowed: an absolute http(s) URL.
    style_reference_url: str


class BatchCreateParams(TypedDict, total=False):
    """Fields of batch.create."""

    # Video model. 'auto' routes to a live provider and reports the one that ran. Allowed: for
    # example auto, kling-o3-pro, kling-v3, seedance-1.5-pro.
    model: str
    # Length of the clip in seconds. Allowed: a whole number from 3 to 15.
    duration: int
    # Frame shape. Leave empty with a source image to follow the image. Allowed: one of 21:9,
    # 16:9, 4:3, 1:1, 3:4, 9:16.
    aspect_ratio: AspectRatio
    # Where CreativeAI posts the signed result when the job completes or fails. Allowed: an
    # absolute http(s) URL.
    webhook_url: str


class VoiceCreateParams(TypedDict, total=False):
    """Fields of voice.create."""

    # What the voice says. Allowed: text of 1 to 5,000 characters.
    text: Required[str]
    # Voice preset. Allowed: one of alloy, echo, fable, onyx, nova, shimmer.
    voice: Voice
    # Language of the text. Allowed: one of en, zh, ja, ko, es, fr, de, pt, ru, ar.
    language: Language
    # Playback speed; 1.0 is natural. Allowed: a number from 0.5 to 2.
    speed: float
    # Where CreativeAI posts the signed result when the job completes or fails. Allowed: an
    # absolute http(s) URL.
    webhook_url: str


class ComposeCreateParams(TypedDict, total=False):
    """Fields of compose.create."""

    # Hosted MP4 to put the audio on. Allowed: an absolute http(s) URL.
    video_url: Required[str]
    # Hosted narration or soundtrack. Allowed: an absolute http(s) URL.
    audio_url: Required[str]
    # On: swap the video's soundtrack for this audio. Off: mix it over the original. Allowed:
    # true or false.
    replace_audio: Required[bool]
    # Where CreativeAI posts the signed result when the job completes or fails. Allowed: an
    # absolute http(s) URL.
    webhook_url: str


class ImageGenerateParams(TypedDict, total=False):
    """Fields of image.generate."""

    # Describe what to generate: subject, motion, camera, lighting, style. Allowed: non-empty
    # text.
    prompt: Required[str]
    # Image model. Allowed: for example dall-e-3, gpt-image-1, seedream-3.0, flux-pro,
    # stable-diffusion-3.
    model: str
    # Width x height in pixels. Allowed: one of 1024x1024, 1536x1024, 1024x1536, 1792x1024.
    size: Size
    # How many images to generate. Allowed: a whole number from 1 to 4.
    n: int
    # Rendering quality. Allowed: one of standard, hd.
    quality: Quality
    # 'transparent' returns a PNG with an alpha channel. Allowed: one of auto, transparent.
    background: Background
    # One image of the main character to keep consistent. Allowed: an absolute http(s) URL.
    character_reference_url: str
    # Images of distinct characters to keep consistent, one character per image. Allowed: a list
    # of at most 3 URLs.
    character_references: Sequence[str]
    # Camera viewpoint, for consistent asset series. Allowed: for example isometric, low-angle,
    # bird-eye.
    camera_angle: str
    # An image whose style is transferred to the result. Allowed: an absolute http(s) URL.
    style_reference_url: str


class ImageEditParams(TypedDict, total=False):
    """Fields of image.edit."""

    # Describe what to generate: subject, motion, camera, lighting, style. Allowed: non-empty
    # text.
    prompt: Required[str]
    # The image to edit (PNG or JPEG).
    image: Required[FileInput]
    # Image editing model. Allowed: for example seedream-v4.5-edit, wan-2.6-image-edit.
    model: Required[str]
    # Width x height in pixels. Allowed: one of 1024x1024, 1536x1024, 1024x1536, 1792x1024.
    size: Size
    # PNG the size of the image: white marks what to edit, black what to keep (or transparent =
    # edit).
    mask: FileInput
    # Extend the canvas in this direction. Allowed: for example all.
    outpaint_direction: str
    # An image whose style is transferred to the result. Allowed: an absolute http(s) URL.
    style_reference_url: str


class ImageStreamParams(TypedDict, total=False):
    """Fields of image.stream."""

    # Describe what to generate: subject, motion, camera, lighting, style. Allowed: non-empty
    # text.
    prompt: Required[str]
    # Image model. Allowed: for example dall-e-3, gpt-image-1, seedream-3.0, flux-pro,
    # stable-diffusion-3.
    model: str
    # Width x height in pixels. Allowed: one of 1024x1024, 1536x1024, 1024x1536, 1792x1024.
    size: Size
    # How many images to generate. Allowed: a whole number from 1 to 4.
    n: int
    # Rendering quality. Allowed: one of standard, hd.
    quality: Quality
    # 'transparent' returns a PNG with an alpha channel. Allowed: one of auto, transparent.
    background: Background
    # One image of the main character to keep consistent. Allowed: an absolute http(s) URL.
    character_reference_url: str
    # Images of distinct characters to keep consistent, one character per image. Allowed: a list
    # of at most 3 URLs.
    character_references: Sequence[str]
    # Camera viewpoint, for consistent asset series. Allowed: for example isometric, low-angle,
    # bird-eye.
    camera_angle: str
    # An image whose style is transferred to the result. Allowed: an absolute http(s) URL.
    style_reference_url: str


class ChartCreateParams(TypedDict, total=False):
    """Fields of chart.create."""

    # An existing chart image to animate (or give chart data instead). Allowed: an absolute
    # http(s) URL.
    chart_image_url: str
    # Draw the chart from data instead of an image. Allowed: an object with type, labels,
    # datasets.
    chart_data: ChartData
    # Length of the chart video in seconds (the docs give no range). Allowed: a whole number at
    # least 1.
    duration: int
    # How the chart comes to life. Allowed: one of ken_burns, build_up, reveal, morph.
    animation_style: AnimationStyle
    # Title shown over the video. Allowed: text.
    title: str
    # Where CreativeAI posts the signed result when the job completes or fails. Allowed: an
    # absolute http(s) URL.
    webhook_url: str


class PriceCalculateParams(TypedDict, total=False):
    """Fields of price.calculate."""

    # The model of the generation to price; add its duration, resolution or count. Allowed:
    # non-empty text.
    model: Required[str]
    # Length of the clip in seconds. Allowed: a whole number from 3 to 15.
    duration: int
    # How many images to generate. Allowed: a whole number from 1 to 4.
    n: int
    # Output resolution. Allowed: one of 480p, 720p, 1080p.
    resolution: Resolution
