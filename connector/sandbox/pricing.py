"""What each generation costs in the sandbox, and which models it serves.

The API publishes no price table, only examples (`Operation.credits_example`: text-to-video
60, image-to-video 30, voice 8, compose 5, chart 15, image 2). The sandbox builds its table
from those examples:

* video: the example for text-to-video or image-to-video, times a model factor (Seedance
  half, Kling V3 three quarters, as the docs' failover example charges 30 on Seedance), times
  one per started 5 seconds of clip (3-5 s x1, 6-10 s x2, 11-15 s x3);
* image: the example per image (`n` images cost `n` times as much);
* voice, compose, chart: their example, flat.

Models are the catalog's options of the fields whose values come from `GET /v1/models`
(`options_source = ModelSource(kind=<type>)`), plus the voices (type `voice`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from connector.catalog import CATALOG, Field, fields

__all__ = [
    "MODELS",
    "ModelEntry",
    "alternative",
    "image_credits",
    "model_type",
    "resolve_video_model",
    "video_credits",
]

#: Seconds of clip one price unit covers.
CLIP_BLOCK_SECONDS = 5
#: Sandbox price factors per video model (1 for the others).
VIDEO_MODEL_FACTOR: Mapping[str, float] = MappingProxyType(
    {"seedance-1.5-pro": 0.5, "kling-v3": 0.75}
)


@dataclass(frozen=True)
class ModelEntry:
    id: str
    type: str  # video, image, image-edit, voice
    label: str


def _model_fields() -> list[tuple[str, Field]]:
    found = []
    for f in CATALOG.fields:
        if f.options_source and f.options_source.kind and f.options:
            found.append((f.options_source.kind, f))
    found.append(("voice", fields.VOICE))
    return found


def _all_models() -> dict[str, ModelEntry]:
    table: dict[str, ModelEntry] = {}
    for kind, f in _model_fields():
        for option in f.options:
            table.setdefault(option.value, ModelEntry(option.value, kind, option.label))
    return table


MODELS: Mapping[str, ModelEntry] = MappingProxyType(_all_models())


def model_type(model: str) -> str | None:
    entry = MODELS.get(model)
    return entry.type if entry else None


def models_of(kind: str) -> list[str]:
    return [m.id for m in MODELS.values() if m.type == kind]


#: The video model that routes to a live provider (the video model field's default, `auto`).
AUTO: str = str(fields.VIDEO_MODEL.default)


def _explicit(field: Field) -> list[str]:
    """Concrete models of a model field: its options without the routing alias."""
    return [v for v in field.option_values if v != AUTO]


def resolve_video_model(model: str) -> str:
    """The model `auto` routes to: the first concrete video model (Kling O3 Pro)."""
    if model == AUTO:
        return _explicit(fields.VIDEO_MODEL)[0]
    return model


def alternative(model: str, field: Field) -> str:
    """The model a failover moves to: the last concrete option that is not `model`."""
    others = [v for v in _explicit(field) if v != model]
    return others[-1] if others else model


def _example(op_key: str) -> int:
    credits = CATALOG.operation(op_key).credits_example
    if credits is None:  # pragma: no cover - the catalog gives one for every paid create
        raise LookupError(f"{op_key} has no credits example in the catalog")
    return credits


def video_credits(model: str, duration: int, *, from_image: bool) -> int:
    base = _example("video.create_from_image" if from_image else "video.create_from_text")
    factor = VIDEO_MODEL_FACTOR.get(resolve_video_model(model), 1.0)
    blocks = max(math.ceil(duration / CLIP_BLOCK_SECONDS), 1)
    return round(base * factor) * blocks


def image_credits(count: int, *, edit: bool = False) -> int:
    return _example("image.edit" if edit else "image.generate") * count


def flat_credits(op_key: str) -> int:
    return _example(op_key)


def default_duration() -> int:
    """Clip length when a request gives none: the duration field's example (5 s)."""
    example: Any = fields.DURATION.example
    return int(example)


def quote(body: Mapping[str, Any]) -> tuple[str, int]:
    """Price of a `POST /api/v1/model/calculate` request: (type, credits).

    Raises KeyError for a model the sandbox does not serve.
    """
    model = str(body["model"])
    kind = model_type(model)
    if kind is None:
        raise KeyError(model)
    if kind == "video":
        duration = int(body.get("duration") or default_duration())
        return kind, video_credits(model, duration, from_image=False)
    if kind in ("image", "image-edit"):
        return kind, image_credits(int(body.get("n") or 1), edit=kind == "image-edit")
    return kind, flat_credits("voice.create")
