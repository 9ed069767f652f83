"""Samples, output fields and file outputs, derived from the catalog's sample answers.

Zapier names nested output keys with `__` (`error__message`) and keys inside lists of
objects with `[]` (`jobs[]output_url`); every key a sample holds gets an output field
with a readable label and the Zapier type its value has.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from connector.catalog import Operation, events, responses, states

#: The key added next to each output URL: the file itself, as a Zapier file.
FILE_KEY = "file"
_URL_KEYS = ("output_url", "url")
_WORDS = {"url": "URL", "id": "ID", "api": "API", "cdn": "CDN", "mp4": "MP4"}


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


def finished_sample(op: Operation, status: Operation | None) -> dict[str, Any]:
    """What a builder maps from: the finished job, even when the call only accepts one."""
    sample = dict(op.sample_response)
    raw = sample.get("status")
    finished = isinstance(raw, str) and states.normalize(raw).terminal
    if status is not None and not finished:
        sample = {**sample, **status.sample_response}
    return sample


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
    if name.endswith("_at") and isinstance(value, str):
        return "datetime"
    if isinstance(value, str):
        return "string"
    return None


def label(key: str) -> str:
    """`jobs[]output_url` -> "Jobs Output URL"."""
    words = key.replace("[]", "_").replace("__", "_").split("_")
    return " ".join(_WORDS.get(w, w.capitalize()) for w in words if w)
