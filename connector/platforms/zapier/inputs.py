"""Catalog fields as one Zapier field table, and each action's use of it.

`field_table(operations)` writes every field an action takes once, keyed by its catalog
key, as `generated/fields.js`: the Zapier input field (without `required`, which belongs
to the action) and, under `api`, how the runtime (lib/input.js) sends its value. An action
names its fields with `uses(op)`: `{catalog key: required}`, or, where the operation states
its own help or example for a field (`Operation.field_text`), `{required, helpText,
placeholder}` with what it shows differently; lib/fields.js builds the
action's `inputFields` and request spec from the two. Catalog types map onto Zapier as:

    text, string, URL         -> string / text
    integer, number, boolean  -> integer / number / boolean
    enum                      -> a static dropdown (`choices`), or a dynamic one fed by a
                                 hidden models trigger when the field has `options_source`
    list of texts or numbers  -> `list: true`
    list of objects           -> line items (`api.columns` names the column fields)
    object                    -> its parts as top-level fields keyed by their catalog key
                                 (Zapier has no nested forms; `api.parts` names them);
                                 number lists inside line items a comma-separated text
    file                      -> file

`advanced` fields go in the "Additional Options" group.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from connector.catalog import Field, FieldType, FieldUse, ModelSource, Operation, steps
from connector.catalog.text import sentence, title_case

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


def zapier_type(t: FieldType) -> str:
    """The Zapier input type of a catalog type (a scalar one)."""
    return _TYPES[t]


def models_trigger_key(source: ModelSource) -> str:
    """The hidden trigger behind an `options_source` (video models: "video_models")."""
    return "models" if source.kind is None else f"{source.kind.replace('-', '_')}_models"


def models_trigger_kind(source: ModelSource) -> str | None:
    return source.kind


def shown(op: Operation) -> list[Field]:
    return [u.field for u in op.visible_fields("zapier")]


def uses(op: Operation) -> dict[str, bool | dict[str, Any]]:
    """The fields an action takes, by catalog key, and whether it requires each (with what
    it shows differently from the shared entry, where it states its own words)."""
    out: dict[str, bool | dict[str, Any]] = {}
    for u in op.visible_fields("zapier"):
        own = own_text(u)
        out[u.field.key] = {"required": u.required, **own} if own else u.required
    return out


def own_text(use: FieldUse) -> dict[str, str]:
    """The help text and placeholder an operation shows for a field instead of the shared
    entry's, made from its own help and example (`Operation.field_text`)."""
    if use.own is None:
        return {}
    if use.field.type in (T.OBJECT, T.OBJECT_LIST):
        raise ValueError(f"{use.field.key!r}: own help is for simple fields only")
    shared, own = _scalar(use.field), _scalar(use.shown)
    return {k: own[k] for k in ("helpText", "placeholder") if own.get(k) != shared.get(k)}


def has_advanced(op: Operation) -> bool:
    return any(f.advanced for f in shown(op))


def field_table(operations: Iterable[Operation]) -> dict[str, dict[str, Any]]:
    """Every field the actions take, once: top-level fields, object parts, line-item columns."""
    ops = list(operations)
    table: dict[str, dict[str, Any]] = {}
    for op in ops:
        for f in shown(op):
            if f.key not in table:
                _add(table, f, f.name, group=f.advanced, taken=_taken(ops, f))
    return table


def _taken(ops: list[Operation], f: Field) -> set[str]:
    """Input keys the operations using `f` give their own fields (line items avoid them)."""
    taken: set[str] = set()
    for op in ops:
        fs = shown(op)
        if f in fs:
            taken |= {g.name for g in fs}
            taken |= {c.key for g in fs if g.type is T.OBJECT for c in g.children}
    return taken


def _add(
    table: dict[str, dict[str, Any]],
    f: Field,
    key: str,
    *,
    group: bool,
    taken: set[str],
    column: bool = False,
) -> None:
    grouped = {"group": ADVANCED_GROUP["key"]} if group else {}
    if f.type is T.OBJECT:
        for child in f.children:
            _add(table, child, child.key, group=group, taken=taken)
        parts = [c.key for c in f.children]
        table[f.key] = {"key": key, "label": title_case(f.label), "api": _api(f) | {"parts": parts}}
        return
    if f.type is T.OBJECT_LIST:
        columns = []
        for child in f.children:
            column_key = child.name if child.name not in taken else child.key
            _add(table, child, column_key, group=False, taken=taken, column=True)
            columns.append(child.key)
        label = title_case(f"{f.label} (up to {f.max_items})" if f.max_items else f.label)
        table[f.key] = {
            "key": key,
            "label": label,
            # Shown in a copy field above the line items (lib/fields.js).
            "helpText": f"{f.help} {sentence(f.allowed())}",
            **grouped,
            "api": _api(f) | {"columns": columns},
        }
        return
    own = {"required": f.required} if column else {}
    if column and f.type is T.NUMBER_LIST:
        field = {
            "key": key,
            "label": title_case(f.label),
            **own,
            "type": "string",
            "helpText": f"{f.help} Separate the numbers with commas.",
        }
        table[f.key] = field | {"api": _api(f) | {"separated": True}}
        return
    table[f.key] = {
        "key": key,
        "label": title_case(f.label),
        **own,
        **_scalar(f),
        **grouped,
        "api": _api(f),
    }


def _scalar(f: Field) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if f.type in (T.STRING_LIST, T.NUMBER_LIST):
        out["type"] = "text" if f.item_type is T.TEXT else _TYPES.get(f.item_type or T.NUMBER)
        out["list"] = True
    else:
        out["type"] = _TYPES[f.type]
    if f.type in (T.ENUM, T.STRING) and f.options_source:
        out["dynamic"] = f"{models_trigger_key(f.options_source)}.id.id"
    elif f.type is T.ENUM:
        out["choices"] = [_choice(o.value, o.label, o.help) for o in f.options]
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
        parts.append(sentence(f.allowed()))
    elif t is T.ENUM and f.options_source:
        listed = ", ".join(f"`{v}`" for v in f.option_values)
        parts.append(f"The list comes live from the API; known values: {listed}.")
    elif t is T.ENUM and not f.closed:
        parts.append("Pick one or enter another value.")
    elif t is T.URL and "URL" not in f.help:
        parts.append("An absolute http(s) URL.")
    return " ".join(parts)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return f"{value:.1f}"
    return str(value)


def _api(f: Field) -> dict[str, Any]:
    """What the runtime needs to turn Zapier's value back into the wire value."""
    entry: dict[str, Any] = {"wire": f.name, "type": f.type.value, "allowed": f.allowed()}
    named = steps.price_defaults([f])  # what a price request names when the field is empty
    if f.name in named:
        entry["apiDefault"] = named[f.name]
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
