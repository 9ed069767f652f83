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
    FieldType,
    JobKind,
    NormalizedState,
    Operation,
    events,
    responses,
    states,
)
from connector.catalog.contract import Output, OutputField
from connector.catalog.text import title_case

#: The key added next to each output URL: the file itself, as a Zapier file.
FILE_KEY = "file"
#: Beside it: why the file is not there when it is over Zapier's stash limit (else null).
FILE_MESSAGE_KEY = "file_message"
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


#: Timestamps the API gives in epoch seconds; a step outputs them in ISO 8601 like the rest.
EPOCH_TIMESTAMPS = ("created",)
_ZAPIER_TYPES = {
    FieldType.INTEGER: "integer",
    FieldType.NUMBER: "number",
    FieldType.BOOLEAN: "boolean",
}


def spelling(kind: JobKind) -> dict[str, str]:
    """Each state as this kind's status endpoint spells it."""
    return {state.value: states.spell(kind, state) for state in NormalizedState}


def runtime_spec(fields: tuple[OutputField, ...]) -> list[dict[str, Any]]:
    """The contract's keys for lib/results.js, which shapes live answers as the catalog's
    `Output.shape` does: [{key, children?}], `state` where the contract adds one."""
    out: list[dict[str, Any]] = []
    for f in fields:
        entry: dict[str, Any] = {"key": f.key}
        if f.children:
            entry["children"] = runtime_spec(f.children)
        out.append(entry)
    return out


def tidy(answer: Mapping[str, Any]) -> dict[str, Any]:
    """A shaped answer as a Zapier step outputs it: epoch timestamps in ISO 8601."""
    out: dict[str, Any] = {}
    for key, value in answer.items():
        if key in EPOCH_TIMESTAMPS and isinstance(value, int | float):
            out[key] = datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        elif isinstance(value, list):
            out[key] = [tidy(v) if isinstance(v, Mapping) else v for v in value]
        else:
            out[key] = value
    return out


def sample_of(output: Output, paths: list[str], **added: Any) -> dict[str, Any]:
    """The contract's sample as the step outputs it: `added` keys first (a trigger's `id`
    and `event`), ISO timestamps, a `file` beside each output URL."""
    return with_files({**added, **tidy(output.sample)}, paths)


def contract_fields(output: Output, paths: list[str], **added: str) -> list[dict[str, Any]]:
    """Zapier output fields for the contract's fields (Title Case labels), with the `file`
    beside each output URL and the `added` keys (key -> label) that the contract does not
    already name (each key is listed once)."""
    named = {f.key for f in output.fields}
    fields = [
        {"key": k, "label": label, "type": "string"} for k, label in added.items() if k not in named
    ]
    _walk(output.fields, "", "", fields)
    for path in paths:
        head, _, _ = path.rpartition(".")
        within = f"{_list_label(output.fields, head)}: " if head else ""
        for name, label, kind in (
            (FILE_KEY, "File", "file"),
            (FILE_MESSAGE_KEY, "File Message", "string"),
        ):
            key = f"{head}{name}" if head else name
            fields.append({"key": key.replace(".", ""), "label": within + label, "type": kind})
    return fields


def _list_label(fields: tuple[OutputField, ...], head: str) -> str:
    name = head.removesuffix("[]")
    for f in fields:
        if f.key == name:
            return title_case(f.label)
    return title_case(name.replace("_", " "))


def _walk(
    fields: tuple[OutputField, ...], prefix: str, parent: str, out: list[dict[str, Any]]
) -> None:
    for f in fields:
        key = prefix + f.key
        label = title_case(f.label)
        shown = f"{parent}: {label}" if parent else label
        if f.children and f.type is FieldType.OBJECT_LIST:
            _walk(f.children, f"{key}[]", label, out)
            continue
        if f.children and f.type is FieldType.OBJECT:
            _walk(f.children, f"{key}__", label, out)
            continue
        if f.type is FieldType.OBJECT:
            continue  # free-form (a job's parameters): no fixed keys to map
        field: dict[str, Any] = {"key": key, "label": shown}
        if f.key.endswith("_at") or f.key in EPOCH_TIMESTAMPS:
            field["type"] = "datetime"
        else:
            field["type"] = _ZAPIER_TYPES.get(f.type, "string")
        out.append(field)


def with_files(sample: Mapping[str, Any], paths: list[str]) -> dict[str, Any]:
    """The sample with a `file` beside each output URL (a sample shows the URL itself) and
    its `file_message` (none: the file is within the stash limit)."""
    out = dict(sample)
    for path in paths:
        _add_file(out, path.split("."))
    return out


def _add_file(node: dict[str, Any], parts: list[str]) -> None:
    head, rest = parts[0], parts[1:]
    if not rest:
        if isinstance(node.get(head), str):
            node[FILE_KEY] = node[head]
            node[FILE_MESSAGE_KEY] = None
        return
    items = node.get(head.removesuffix("[]"))
    if head.endswith("[]") and isinstance(items, list):
        copies = [dict(i) for i in items if isinstance(i, Mapping)]
        for item in copies:
            _add_file(item, rest)
        node[head.removesuffix("[]")] = copies


def item_fields(listed: OutputField) -> list[dict[str, Any]]:
    """The output fields of one item of a listed field, with the contract's labels (a
    models trigger outputs one model of the model list's `data`)."""
    fields: list[dict[str, Any]] = []
    _walk(listed.children, "", "", fields)
    return fields
