"""Catalog fields as Zapier input fields, plus the spec the runtime builds requests from.

Each operation field becomes one Zapier input field keyed by its wire name:

    text, string, URL         -> string / text
    integer, number, boolean  -> integer / number / boolean
    enum                      -> a static dropdown (`choices`), or a dynamic one fed by a
                                 hidden models trigger when the field has `options_source`
    list of texts or numbers  -> `list: true`
    list of objects           -> line items (`children`)
    object                    -> its children as top-level fields keyed by their catalog
                                 key (Zapier has no nested forms); lists of objects inside
                                 it become line items, number lists inside line items a
                                 comma-separated text
    file                      -> file

`advanced` fields go in the "Additional Options" group. Alongside, `spec` describes how
the runtime (lib/input.js) turns what Zapier sends back into the wire body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connector.catalog import Field, FieldType, ModelSource, Operation

T = FieldType
ADVANCED_GROUP = {"key": "advanced", "label": "Additional Options", "emphasize": False}

_TYPES = {
    T.STRING: "string",
    T.TEXT: "text",
    T.URL: "string",
    T.INTEGER: "integer",
    T.NUMBER: "number",
    T.BOOLEAN: "boolean",
    T.ENUM: "string",
    T.NUMBER_LIST: "number",
    T.FILE: "file",
}


def models_trigger_key(source: ModelSource) -> str:
    """The hidden trigger behind an `options_source` (video models: "video_models")."""
    return "models" if source.kind is None else f"{source.kind.replace('-', '_')}_models"


def models_trigger_kind(source: ModelSource) -> str | None:
    return source.kind


@dataclass(frozen=True)
class Mapped:
    """One operation's Zapier input fields and the runtime spec of its body."""

    input_fields: list[dict[str, Any]]
    spec: list[dict[str, Any]]
    has_advanced: bool


def map_operation(op: Operation) -> Mapped:
    shown = op.visible_fields("zapier")
    taken = {u.field.name for u in shown}
    for use in shown:
        if use.field.type is T.OBJECT:
            taken |= {c.key for c in use.field.children}
    inputs: list[dict[str, Any]] = []
    spec: list[dict[str, Any]] = []
    for use in shown:
        f = use.field
        if f.type is T.OBJECT:
            children_spec = []
            for child in f.children:
                field, child_spec = _leaf(child, child.key, required=False, taken=taken)
                inputs.append(_grouped(field, f.advanced))
                children_spec.append(child_spec)
            spec.append(
                _spec(f, f.name, required=use.required) | {"children": children_spec},
            )
            continue
        field, entry = _leaf(f, f.name, required=use.required, taken=taken)
        inputs.append(_grouped(field, f.advanced))
        spec.append(entry)
    return Mapped(inputs, spec, any(u.field.advanced for u in shown))


def _grouped(field: dict[str, Any], advanced: bool) -> dict[str, Any]:
    return {**field, "group": ADVANCED_GROUP["key"]} if advanced else field


def _leaf(
    f: Field, key: str, *, required: bool, taken: set[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A non-object field: its Zapier input field and its spec entry."""
    if f.type is T.OBJECT_LIST:
        children, children_spec = [], []
        for child in f.children:
            child_key = child.name if child.name not in taken else child.key
            field, entry = _child(child, child_key)
            children.append(field)
            children_spec.append(entry)
        label = f"{f.label} (up to {f.max_items})" if f.max_items else f.label
        return (
            {"key": key, "label": label, "required": required, "children": children},
            _spec(f, key, required=required) | {"children": children_spec},
        )
    return _scalar_field(f, key, required=required), _spec(f, key, required=required)


def _child(f: Field, key: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A line-item column. Zapier line items hold scalars: a list becomes separated text."""
    if f.type is T.NUMBER_LIST:
        field = {
            "key": key,
            "label": f.label,
            "required": f.required,
            "type": "string",
            "helpText": f"{f.help} Separate the numbers with commas.",
        }
        return field, _spec(f, key, required=f.required) | {"separated": True}
    return _scalar_field(f, key, required=f.required), _spec(f, key, required=f.required)


def _scalar_field(f: Field, key: str, *, required: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"key": key, "label": f.label, "required": required}
    if f.type in (T.STRING_LIST, T.NUMBER_LIST):
        out["type"] = "text" if f.item_type is T.TEXT else _TYPES.get(f.item_type or T.NUMBER)
        out["list"] = True
    else:
        out["type"] = _TYPES[f.type]
    if f.type is T.ENUM and f.options_source:
        out["dynamic"] = f"{models_trigger_key(f.options_source)}.id.id"
    elif f.type is T.ENUM:
        out["choices"] = [_choice(o.value, o.label, o.help) for o in f.options]
    elif f.type is T.STRING and f.options_source:
        out["dynamic"] = f"{models_trigger_key(f.options_source)}.id.id"
    out["helpText"] = help_text(f)
    if f.default is not None:
        out["default"] = _text(f.default)
    if f.example is not None and not isinstance(f.example, list | dict) and f.type is not T.ENUM:
        out["placeholder"] = _text(f.example)
    return out


def _choice(value: str, label: str, help: str) -> dict[str, str]:
    shown = f"{label} – {help}" if help else label
    return {"value": value, "label": shown, "sample": value}


def help_text(f: Field) -> str:
    """The catalog's help, then what the field accepts where the help does not say it."""
    parts = [f.help]
    t = f.type
    ranged = f.minimum is not None or f.maximum is not None
    bounded = (
        (t in (T.INTEGER, T.NUMBER) and ranged)
        or (t in (T.STRING, T.TEXT) and f.max_length)
        or (t in (T.STRING_LIST, T.NUMBER_LIST) and ((f.min_items or 0) > 1 or f.max_items))
    )
    if bounded:
        parts.append(_sentence(f.allowed()))
    elif t is T.ENUM and f.options_source:
        listed = ", ".join(f"`{v}`" for v in f.option_values)
        parts.append(f"The list comes live from the API; known values: {listed}.")
    elif t is T.ENUM and not f.closed:
        parts.append("Pick one or enter another value.")
    elif t is T.URL and "URL" not in f.help:
        parts.append("An absolute http(s) URL.")
    return " ".join(parts)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return f"{value:.1f}"
    return str(value)


def _spec(f: Field, key: str, *, required: bool) -> dict[str, Any]:
    """What the runtime needs to turn Zapier's value back into the wire value."""
    entry: dict[str, Any] = {
        "key": key,
        "wire": f.name,
        "label": f.label,
        "type": f.type.value,
        "required": required,
        "allowed": f.allowed(),
    }
    if f.item_type is not None:
        entry["itemType"] = f.item_type.value
    if f.type is T.ENUM and f.closed:
        entry["options"] = list(f.option_values)
    limits = {
        "minimum": f.minimum,
        "maximum": f.maximum,
        "minLength": f.min_length,
        "maxLength": f.max_length,
        "minItems": f.min_items,
        "maxItems": f.max_items,
    }
    entry.update({k: v for k, v in limits.items() if v is not None})
    return entry
