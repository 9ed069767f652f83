"""Samples, output fields and file outputs: what a live run of each step outputs.

A step outputs what lib/results.js makes of the API's answer: a job as its status endpoint
reports it (the status spelled as that endpoint spells it, plus `state`), a trigger's event
as the webhook carries it, a create that answers at once as it answers; timestamps in ISO
8601, no wiring fields (`webhook_url`), and a `file` beside each output URL. The samples
here are built the same way from the catalog's sample answers and payload models.

Zapier names nested output keys with `__` (`error__message`) and keys inside lists of
objects with `[]` (`jobs[]output_url`); every key a sample holds gets an output field
with a readable label and the Zapier type its value has.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from connector.catalog import (
    Event,
    FieldType,
    JobKind,
    NormalizedState,
    Operation,
    events,
    responses,
    states,
)
from connector.platforms.zapier import text

#: The key added next to each output URL: the file itself, as a Zapier file.
FILE_KEY = "file"
_URL_KEYS = ("output_url", "url")


def file_paths(models: list[type[BaseModel]]) -> list[str]:
    """Where answers of these models hold output URLs: `output_url`, `jobs[].output_url`."""
    found: list[str] = []
    for model in models:
        for path in _url_paths(model, ""):
            if path not in found:
                found.append(path)
    return found


def _url_paths(model: type[BaseModel], prefix: str) -> list[str]:
    out = []
    for name, info in model.model_fields.items():
        inner = _list_item_model(info.annotation)
        if inner is not None:
            out += _url_paths(inner, f"{prefix}{name}[].")
        elif name in _URL_KEYS:
            out.append(prefix + name)
    return out


def _list_item_model(annotation: Any) -> type[BaseModel] | None:
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        if isinstance(item, type) and issubclass(item, BaseModel):
            return item
    return None


def operation_models(op: Operation, status: Operation | None) -> list[type[BaseModel]]:
    """The answer models an operation's result can come from (answer, status, events)."""
    found: list[type[BaseModel]] = [responses.RESPONSES[op.response]]
    if status is not None:
        found.append(responses.RESPONSES[status.response])
    found += [events.payload_model(name) for name in op.events]
    return found


#: Fields that wire a step up and are no output of it: the webhook URL a job reports to
#: (the relay's or Zapier's), the relay route a waiting step opened.
INTERNAL = ("webhook_url", "relay_route_id")
#: Timestamps the API gives in epoch seconds (everything else is ISO 8601 and ends `_at`).
EPOCH_TIMESTAMPS = ("created",)
#: Payload fields a webhook carries only for a failed job.
_FAILURE_ONLY = ("error", "credits_refunded")
#: Payload model fields the documented payloads do not carry (not yet in the catalog).
_NOT_SENT: dict[str, tuple[str, ...]] = {"BatchEventPayload": ("credits",)}
_NOT_SENT_IN_ITEMS = ("image_url",)


def spelling(kind: JobKind) -> dict[str, str]:
    """Each state as this kind's status endpoint spells it (the first documented spelling)."""
    out: dict[str, str] = {}
    for raw, state in states.STATUSES[kind].items():
        out.setdefault(state.value, raw)
    return out


def tidy(answer: Mapping[str, Any]) -> dict[str, Any]:
    """An answer as a step outputs it: no wiring fields, timestamps in ISO 8601."""
    out: dict[str, Any] = {}
    for key, value in answer.items():
        if key in INTERNAL:
            continue
        if key in EPOCH_TIMESTAMPS and isinstance(value, int | float):
            out[key] = datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        elif isinstance(value, list):
            out[key] = [tidy(v) if isinstance(v, Mapping) else v for v in value]
        else:
            out[key] = value
    return out


def shaped(kind: JobKind, answer: Mapping[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """A job as a step outputs it: its kind's status spelling, plus `state` (as the answer's
    model reads it: a batch's from its counts)."""
    out = tidy(answer)
    state: NormalizedState = getattr(model.model_validate(dict(answer)), "state")  # noqa: B009
    if "status" in out:
        out["status"] = spelling(kind)[state.value]
    return {**out, "state": state.value}


#: Shared-status jobs that report a `model` (the docs show one for voice; compose and
#: chart jobs run no model a builder picks). Not in the catalog yet.
_SHARED_WITH_MODEL = ("voice",)


def job_sample(op: Operation, status: Operation) -> dict[str, Any]:
    """A finished job of `op`, as its status endpoint reports it: the status sample, with
    the inputs the status model echoes (an image-to-video job's `image_url`) and, for a
    shared job, its own settings as `parameters`."""
    assert op.job is not None
    model = responses.RESPONSES[status.response]
    sample = dict(status.sample_response)
    for use in op.fields:
        f = use.field
        if use.required and f.name in model.model_fields and f.name not in sample:
            sample[f.name] = f.example
    if isinstance(sample.get("parameters"), Mapping):
        sample["parameters"] = settings_sample(op)
        if op.resource not in _SHARED_WITH_MODEL:
            sample.pop("model", None)
    return shaped(op.job, sample, model)


def settings_sample(op: Operation) -> dict[str, Any]:
    """A shared job's `parameters`: the settings it was started with (not its long text)."""
    out: dict[str, Any] = {}
    for use in op.fields:
        f = use.field
        long_or_nested = (FieldType.TEXT, FieldType.FILE, FieldType.OBJECT, FieldType.OBJECT_LIST)
        if f.type in long_or_nested or f.name == "webhook_url":
            continue
        value = f.example if f.example is not None else f.default
        if value is not None:
            out[f.name] = value
    return out


def event_sample(event: Event, op: Operation, status: Operation) -> dict[str, Any]:
    """The event as the trigger outputs it: the documented payload of `event`, its values
    from the job's sample, with the event's name, `state` and its kind's status spelling."""
    assert op.job is not None
    model = events.payload_model(event.name)
    skip = set(_NOT_SENT.get(event.payload, ()))
    if event.state is NormalizedState.COMPLETED:
        skip |= set(_FAILURE_ONLY)
    pool = {**_examples(op), **op.sample_response, **status.sample_response}
    pool.setdefault("total_credits", pool.get("credits_charged"))
    body: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        if name == "object":
            body[name] = event.name.rsplit(".", 1)[0]
        elif name == "status":
            body[name] = event.state.value
        elif name in ("output_url",) and event.state is not NormalizedState.COMPLETED:
            body[name] = None
        elif name == "jobs":
            body[name] = [
                {k: v for k, v in dict(job).items() if k not in _NOT_SENT_IN_ITEMS}
                for job in pool.get("jobs", [])
            ]
        elif name == "error":
            body[name] = {
                "message": "The generation ran out of time.",
                "type": "server_error",
                "code": "generation_timeout",
            }
        else:
            body[name] = pool.get(name, _blank(name, info.annotation))
    ident = body.pop("id", None) or body.get("batch_id")
    return shaped(op.job, {"id": ident, "event": event.name, **body}, model)


def _examples(op: Operation) -> dict[str, Any]:
    return {u.field.name: u.field.example for u in op.fields if u.field.example is not None}


def _blank(name: str, annotation: Any) -> Any:
    """A plausible value for a payload field no sample shows."""
    text = str(annotation)
    if name.endswith("_at"):
        return "2026-03-09T16:12:43Z"
    if "float" in text:
        return 4.2
    if "int" in text:
        return 1
    if "bool" in text:
        return False
    return None


def with_files(sample: Mapping[str, Any], paths: list[str]) -> dict[str, Any]:
    """The sample with a `file` beside each output URL (a sample shows the URL itself)."""
    out = dict(sample)
    for path in paths:
        _add_file(out, path.split("."))
    return out


def _add_file(node: dict[str, Any], parts: list[str]) -> None:
    head, rest = parts[0], parts[1:]
    if not rest:
        if isinstance(node.get(head), str):
            node[FILE_KEY] = node[head]
        return
    items = node.get(head.removesuffix("[]"))
    if head.endswith("[]") and isinstance(items, list):
        copies = [dict(i) for i in items if isinstance(i, Mapping)]
        for item in copies:
            _add_file(item, rest)
        node[head.removesuffix("[]")] = copies


def output_fields(sample: Mapping[str, Any]) -> list[dict[str, Any]]:
    fields: list[dict[str, Any]] = []
    _collect(sample, "", fields)
    return fields


def _collect(node: Mapping[str, Any], prefix: str, out: list[dict[str, Any]]) -> None:
    for name, value in node.items():
        key = prefix + name
        if isinstance(value, Mapping):
            if value:
                _collect(value, f"{key}__", out)
            continue
        if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            merged: dict[str, Any] = {}
            for item in value:
                merged.update({k: v for k, v in item.items() if merged.get(k) is None})
            _collect(merged, f"{key}[]", out)
            continue
        field: dict[str, Any] = {"key": key, "label": label(key)}
        kind = _type(name, value[0] if isinstance(value, list) and value else value)
        if kind:
            field["type"] = kind
        if isinstance(value, list):
            field["list"] = True
        out.append(field)


def _type(name: str, value: Any) -> str | None:
    if name == FILE_KEY:
        return "file"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if (name.endswith("_at") or name in EPOCH_TIMESTAMPS) and isinstance(value, str):
        return "datetime"
    if isinstance(value, str):
        return "string"
    return None


def label(key: str) -> str:
    """`jobs[]output_url` -> "Video Output URL" (see text.output_label)."""
    return text.output_label(key)
