"""What each generation costs in the sandbox, and which models it serves.

The API publishes no price table, only examples (`Operation.credits_example`: text-to-video
60, image-to-video 30, voice 8, compose 5, chart 15, image 2). The sandbox builds its table
from those examples:

* video: the example for text-to-video or image-to-video, times a model factor (Seedance
  half, Kling V3 three quarters, as the docs' failover example charges 30 on Seedance), times
  one per started 5 seconds of clip (3-5 s x1, 6-10 s x2, 11-15 s x3);
* image: the example per image (`n` images cost `n` times as much);
* voice, compose, chart: their example, flat;
* a batch: the sum of its videos, each priced as the video it starts.

`POST /api/v1/model/calculate` takes "a generation request": the body of any paid create
(`quote` tells which one from the fields it carries, see `priced_operation`) or the short
form `{model, duration, resolution, n}`. It answers what that create then charges.

Models are the catalog's options of the fields whose values come from `GET /v1/models`
(`options_source = ModelSource(kind=<type>)`), plus the voices (type `voice`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from connector.catalog import CATALOG, Field, InvalidInput, fields

__all__ = [
    "MODELS",
    "PRICED",
    "ModelEntry",
    "Quote",
    "Unpriceable",
    "alternative",
    "image_credits",
    "model_type",
    "priced_operation",
    "quote",
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


#: The paid creates the price endpoint answers for.
PRICED = (
    "video.create_from_text",
    "video.create_from_image",
    "batch.create",
    "voice.create",
    "compose.create",
    "chart.create",
    "image.generate",
    "image.edit",
)

#: Fields only one create takes: a body that carries one of them is that create's.
_MARKS = (
    ("batch.create", (fields.BATCH_PROMPTS,)),
    ("voice.create", (fields.TEXT,)),
    ("compose.create", (fields.VIDEO_URL, fields.AUDIO_URL)),
    ("chart.create", (fields.CHART_IMAGE_URL, fields.CHART_DATA)),
)
_BY_MODEL_TYPE = {"image": "image.generate", "image-edit": "image.edit", "voice": "voice.create"}


class Unpriceable(ValueError):
    """A price request the sandbox cannot price; `param` names the field to fix."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class Quote:
    operation: str  # the create priced
    type: str  # its model's type, or the resource of a create without a model
    credits: int
    model: str | None


def _served(model: str) -> str:
    kind = model_type(model)
    if kind is None:
        raise Unpriceable(
            f"model {model!r} is not served; expected one of " + ", ".join(MODELS), "model"
        )
    return kind


def priced_operation(body: Mapping[str, Any]) -> str:
    """Which create a price request is about: a field only that create takes; else the
    model's type; else the one create (of videos and images) that takes every field given.
    A video model with `image_url` is an image-to-video; a body with `stream` is a stream
    (priced as the video or image it makes)."""
    if fields.STREAM.name in body:
        model = body.get("model")
        kind = _served(str(model)) if model is not None else None
        video_only = {u.field.name for u in CATALOG.operation("video.stream").fields} - {
            u.field.name for u in CATALOG.operation("image.stream").fields
        }
        if kind == "video" or (kind is None and video_only & set(body)):
            return "video.stream"
        if kind == "image":
            return "image.stream"
        raise Unpriceable(
            "cannot tell which stream to price: give `model` (a video or image model)", "model"
        )
    for op_key, marks in _MARKS:
        if any(f.name in body for f in marks):
            return op_key
    model = body.get("model")
    if model is not None:
        kind = _served(str(model))
        return _video_op(body) if kind == "video" else _BY_MODEL_TYPE[kind]
    found = {
        _video_op(body) if op_key.startswith("video.") else op_key
        for op_key in _UNMARKED
        if set(body) <= {use.field.name for use in CATALOG.operation(op_key).fields}
    }
    if len(found) == 1:
        return found.pop()
    labels = sorted(CATALOG.operation(k).label for k in found)
    which = " or ".join(labels) if labels else "no create takes all of these fields"
    raise Unpriceable(
        f"cannot tell which generation to price ({which}): give `model` (a video or image "
        "model), or the fields of one create request",
        "model",
    )


_UNMARKED = [k for k in PRICED if k not in {op for op, _ in _MARKS}]


def _video_op(body: Mapping[str, Any]) -> str:
    return (
        "video.create_from_image" if body.get(fields.IMAGE_URL.name) else "video.create_from_text"
    )


def _checked(op_key: str, body: Mapping[str, Any]) -> None:
    """The request checked as that create would check it (a price request carries no file,
    and the short form no prompt: only what it does carry must be valid)."""
    fixed = {u.field.name for u in CATALOG.operation(op_key).fields if u.field.fixed is not None}
    try:
        CATALOG.validate(op_key, {k: v for k, v in body.items() if k not in fixed})
    except InvalidInput as exc:
        wrong = [p for p in exc.problems if not p.message.startswith("is required")]
        if wrong:
            problems = "; ".join(map(str, wrong))
            raise Unpriceable(f"{exc.operation.label}: {problems}", wrong[0].field) from None


def _video(body: Mapping[str, Any]) -> int:
    model = str(body.get("model") or AUTO)
    if _served(model) != "video":
        raise Unpriceable(
            f"model {model!r} is not a video model; expected one of "
            + ", ".join(models_of("video")),
            "model",
        )
    duration = int(body.get("duration") or default_duration())
    return video_credits(model, duration, from_image=bool(body.get(fields.IMAGE_URL.name)))


def quote(body: Mapping[str, Any]) -> Quote:
    """Price of a `POST /api/v1/model/calculate` request: what the create it describes would
    charge. Raises `Unpriceable` for a request that cannot be priced."""
    op_key = priced_operation(body)
    short = {use.field.name for use in CATALOG.operation("price.calculate").fields}
    _checked("price.calculate" if set(body) <= short else op_key, body)
    model = body.get("model")
    if op_key == "batch.create":
        shared = {k: v for k, v in body.items() if k != fields.BATCH_PROMPTS.name}
        items = body[fields.BATCH_PROMPTS.name]
        total = sum(
            _video({**shared, **{k: v for k, v in i.items() if v is not None}}) for i in items
        )
        return Quote(op_key, "batch", total, str(model) if model else None)
    if op_key.startswith("video."):
        return Quote(op_key, "video", _video(body), str(model or AUTO))
    if op_key in ("image.generate", "image.edit", "image.stream"):
        edit = op_key == "image.edit"
        default = (fields.EDIT_MODEL if edit else fields.IMAGE_MODEL).default
        chosen = str(model or default)
        return Quote(
            op_key, _served(chosen), image_credits(int(body.get("n") or 1), edit=edit), chosen
        )
    resource = CATALOG.operation(op_key).resource
    return Quote(op_key, resource, flat_credits(op_key), str(model) if model else None)
