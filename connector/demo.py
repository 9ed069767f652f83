"""The commerce flow from the API docs, end to end, for one product (SKU):

    product photo ──image edit──▶ clean still ──image-to-video──▶ motion clip
    narration text ──voice──▶ MP3            clip + MP3 ──compose──▶ narrated MP4

Each step is a real API call (against the sandbox by default); the video step follows
each job is polled at the catalog's cadence for its kind (`video create --stream` shows
the progress-stream path). The result
is one record per SKU plus the downloaded MP4.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from connector.catalog import limits
from connector.catalog.spec import JobKind
from connector.client import CreativeAI
from connector.progress import ProgressBar, job_progress
from connector.sandbox import media


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    narration: str


DEFAULT_PRODUCT = Product(
    sku="MUG-001",
    name="travel mug",
    narration=(
        "Meet the travel mug built for commutes, workouts, and long desk days. "
        "Leak-resistant, lightweight, and ready to go."
    ),
)


@dataclass(frozen=True)
class Record:
    """What a workflow would store per SKU."""

    sku: str
    still_url: str
    video_id: str
    video_url: str
    voice_id: str
    voice_url: str
    compose_id: str
    final_url: str
    final_file: str
    credits: float


def run(
    client: CreativeAI,
    out_dir: Path,
    product: Product = DEFAULT_PRODUCT,
    *,
    time_scale: float | None = None,
    show: bool = True,
) -> Record:
    """Run the flow for one product; return its record (also written as JSON beside the MP4).

    `time_scale` is the sandbox's (real seconds per API second): polling keeps the API's
    cadence on that clock. Leave it None against the real API.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    credits = 0.0

    def bar(label: str) -> ProgressBar | None:
        return ProgressBar(label) if show else None

    def watch(label: str) -> Callable[[Any], None] | None:
        return job_progress(label) if show else None

    # 1. Clean up the product photo (synchronous).
    photo = media.png(512, 512, seed=product.sku)
    edit = client.images.edit(
        model="seedream-v4.5-edit",
        image=(f"{product.sku}.png", photo, "image/png"),
        prompt=f"Clean up this {product.name} photo on a white studio background",
        size="1024x1024",
    )
    still_url = _first_url(edit.data[0].url, "image edit")
    credits += _credits(edit)
    _step(bar("1/4 clean still"), "done")

    # 2. Animate the still.
    video = client.wait(
        client.videos.create(
            image_url=still_url,
            prompt=f"Slow premium turntable shot of this {product.name}, soft studio reflections",
            duration=5,
            aspect_ratio="9:16",
        ),
        interval=_interval(JobKind.VIDEO, time_scale),
        on_progress=watch("2/4 motion clip"),
    )
    video_url = _first_url(video.output_url, "video")
    credits += _credits(video)

    # 3. Narration.
    voice = client.wait(
        client.voice.create(text=product.narration, voice="nova", language="en"),
        interval=_interval(JobKind.SHARED, time_scale),
        on_progress=watch("3/4 narration"),
    )
    credits += _credits(voice)

    # 4. Narration onto the clip.
    composed = client.wait(
        client.compose.create(
            video_url=video_url, audio_url=_first_url(voice.output_url, "voice"), replace_audio=True
        ),
        interval=_interval(JobKind.SHARED, time_scale),
        on_progress=watch("4/4 narrated MP4"),
    )
    credits += _credits(composed)

    final_url = _first_url(composed.output_url, "compose")
    target = out_dir / f"{product.sku.lower()}-narrated.mp4"
    client.download(final_url, target)
    record = Record(
        sku=product.sku,
        still_url=still_url,
        video_id=video.id,
        video_url=video_url,
        voice_id=voice.id,
        voice_url=voice.output_url or "",
        compose_id=composed.id,
        final_url=final_url,
        final_file=str(target),
        credits=credits,
    )
    (out_dir / f"{product.sku.lower()}.json").write_text(json.dumps(asdict(record), indent=2))
    return record


def _interval(kind: JobKind, time_scale: float | None) -> float | None:
    return None if time_scale is None else limits.POLL_CADENCE[kind].interval * time_scale


def _first_url(url: str | None, step: str) -> str:
    if not url:
        raise RuntimeError(f"{step} finished without an output URL")
    return url


def _credits(obj: Any) -> float:
    value = getattr(obj, "credits", None)
    return float(value) if isinstance(value, int | float) else 0.0


def _step(progress: ProgressBar | None, status: str) -> None:
    if progress:
        progress.done(status)
