"""Catalog fields as n8n node parameters, and as the field table the node's runtime reads.

Each catalog field becomes one n8n parameter of the matching n8n type (string, number,
boolean, options, json, fixedCollection, a binary field name for uploads). Fields an
operation requires sit at the top level, in catalog order; the rest go under the
operation's "Additional Fields" collection. Model fields load their values live from
the API's model list (`loadOptionsMethod`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from connector.catalog import Field, FieldType, FieldUse, ModelSource, Operation
from connector.platforms.n8n.ts import Raw, camel, pascal, sort_key, title_case

T = FieldType

ADDITIONAL = "additionalFields"
EXPRESSION_DOCS = "https://docs.n8n.io/code/expressions/"
DYNAMIC_DESCRIPTION = (
    f'Choose from the list, or specify an ID using an <a href="{EXPRESSION_DOCS}">expression</a>'
)


def load_options_method(source: ModelSource) -> str:
    """Image-edit models -> `getImageEditModels`; every model -> `getModels`."""
    return "getModels" if source.kind is None else f"get{pascal(source.kind)}Models"


def model_kinds(sources: set[ModelSource]) -> dict[str, str | None]:
    """loadOptions method -> the model `type` it lists (None: every model)."""
    out: dict[str, str | None] = {}
    for source in sorted(sources, key=lambda s: s.name):
        out[load_options_method(source)] = source.kind
    return out


def param_name(f: Field) -> str:
    if f.type is T.FILE:
        return camel(f.name) + "BinaryPropertyName"
    return camel(f.name)


def path_param_name(f: Field) -> str:
    return camel(f.key)


def description(text: str) -> str:
    """n8n style: a one-sentence description has no final period; several sentences keep it;
    "ID" in capitals."""
    text = re.sub(r"\bids?\b", lambda m: m.group(0).upper(), text.strip())
    sentences = [s for s in text.replace("? ", ". ").split(". ") if s]
    if len(sentences) == 1 and text.endswith(".") and not text.endswith("..."):
        return text[:-1]
    if len(sentences) > 1 and not text.endswith((".", "?", "!", ")")):
        return text + "."
    return text


_ON_OFF = re.compile(r"^On: (?P<on>.+?)\. Off: (?P<off>.+?)\.?$")


def whether(text: str) -> str:
    """A boolean's help as n8n writes it: "Whether to ..."."""
    text = text.strip()
    if text.lower().startswith("whether"):
        return text
    on_off = _ON_OFF.match(text)
    if on_off:
        off = on_off.group("off")
        return f"Whether to {on_off.group('on')} (off: {off[:1].lower()}{off[1:]})"
    return f"Whether to {text[:1].lower()}{text[1:]}"


def _singular(label: str) -> str:
    words = label.split()
    last = words[-1]
    if last.endswith("s") and not last.endswith("ss"):
        words[-1] = last[:-1]
    return " ".join(words)


def _is_flat(f: Field) -> bool:
    """An object list whose items hold only simple values (a fixedCollection in n8n)."""
    return all(c.type not in (T.OBJECT, T.OBJECT_LIST, T.NUMBER_LIST) for c in f.children)


def _default(f: Field) -> Any:
    t = f.type
    if t is T.BOOLEAN:
        return bool(f.default) if f.default is not None else False
    if t in (T.INTEGER, T.NUMBER):
        for candidate in (f.default, f.example, f.minimum):
            if candidate is not None:
                return candidate
        return 0
    if t is T.ENUM:
        if f.default is not None:
            return f.default
        if f.example is not None:
            return f.example
        return f.options[0].value if f.closed and f.options_source is None else ""
    if t is T.STRING_LIST:
        return []
    if t is T.OBJECT or (t is T.OBJECT_LIST and not _is_flat(f)):
        return json.dumps(f.example, indent=2) if f.example is not None else ""
    if t is T.OBJECT_LIST:
        return {}
    if t is T.FILE:
        return "data"
    return f.default if isinstance(f.default, str) else ""


def property_for(
    f: Field, *, name: str | None = None, in_collection: bool = False
) -> dict[str, Any]:
    """The n8n parameter (INodeProperties) for one catalog field, without displayOptions."""
    t = f.type
    prop: dict[str, Any] = {"displayName": f.label, "name": name or param_name(f)}
    help_text = f.help
    if t is T.FILE:
        prop.update(
            displayName=f"{f.label} Input Binary Field",
            type="string",
            default="data" if not in_collection else "",
        )
        help_text = f"Name of the input binary field holding the {f.label.lower()}. {f.help}"
    elif f.options_source is not None:
        prop.update(
            displayName=f"{f.label} Name or ID",
            type="options",
            typeOptions={"loadOptionsMethod": load_options_method(f.options_source)},
            default=_default(f) if f.default is not None else "",
            hint=f.help,
        )
        help_text = DYNAMIC_DESCRIPTION
    elif t is T.ENUM and f.closed:
        prop.update(
            type="options",
            options=sorted(
                (
                    {
                        "name": title_case(o.label),
                        "value": o.value,
                        **({"description": o.help} if o.help else {}),
                    }
                    for o in f.options
                ),
                key=lambda o: sort_key(str(o["name"])),
            ),
            default=_default(f),
        )
    elif t is T.ENUM:  # an open list: free text, the documented values as examples
        examples = ", ".join(f.option_values)
        prop.update(type="string", default="", placeholder=f"e.g. {f.options[0].value}")
        help_text = f"{f.help} For example: {examples}."
    elif t in (T.STRING, T.TEXT, T.URL):
        prop.update(type="string", default=_default(f))
        if t is T.TEXT:
            prop["typeOptions"] = {"rows": 4}
        if f.example is not None:
            prop["placeholder"] = f"e.g. {f.example}"
    elif t in (T.INTEGER, T.NUMBER):
        options: dict[str, Any] = {}
        if f.minimum is not None:
            options["minValue"] = f.minimum
        if f.maximum is not None:
            options["maxValue"] = f.maximum
        options["numberPrecision"] = 0 if t is T.INTEGER else 2
        prop.update(type="number", typeOptions=options, default=_default(f))
    elif t is T.BOOLEAN:
        prop.update(type="boolean", default=_default(f))
        help_text = whether(f.help)
    elif t is T.STRING_LIST:
        item = "URL" if f.item_type is T.URL else _singular(f.label).split()[-1]
        prop.update(
            type="string",
            typeOptions={"multipleValues": True, "multipleValueButtonText": f"Add {item}"},
            default=[],
        )
    elif t is T.OBJECT_LIST and _is_flat(f):
        prop.update(
            type="fixedCollection",
            typeOptions={
                "multipleValues": True,
                **({"maxAllowedFields": f.max_items} if f.max_items else {}),
            },
            placeholder=f"Add {_singular(f.label)}",
            default={},
            options=[
                {
                    "displayName": _singular(f.label),
                    "name": "values",
                    "values": [property_for(c, in_collection=True) for c in f.children],
                }
            ],
        )
    else:  # nested objects: JSON, shaped like the example
        prop.update(type="json", default=_default(f))
    prop["displayName"] = title_case(str(prop["displayName"]))
    prop["description"] = description(help_text) if help_text != DYNAMIC_DESCRIPTION else help_text
    return prop


# -- the runtime's view of the same fields ----------------------------------------------------


def _kind(f: Field) -> str:
    if f.type is T.OBJECT_LIST and not _is_flat(f):
        return "json"
    return {
        T.STRING: "string",
        T.TEXT: "string",
        T.URL: "url",
        T.INTEGER: "integer",
        T.NUMBER: "number",
        T.BOOLEAN: "boolean",
        T.ENUM: "enum",
        T.STRING_LIST: "stringList",
        T.NUMBER_LIST: "numberList",
        T.OBJECT: "json",
        T.OBJECT_LIST: "collection",
        T.FILE: "file",
    }[f.type]


def field_spec(f: Field, *, required: bool, additional: bool, param: str | None = None) -> Any:
    """What the runtime needs to read, check and send one field."""
    spec: dict[str, Any] = {
        "wire": f.name,
        "param": param or param_name(f),
        "label": title_case(f.label),
        "kind": _kind(f),
        "required": required,
    }
    if additional:
        spec["additional"] = True
    spec["allowed"] = f.allowed()
    if f.type is T.ENUM and f.closed:
        spec["options"] = list(f.option_values)
    for attr, out in (
        ("minimum", "min"),
        ("maximum", "max"),
        ("min_length", "minLength"),
        ("max_length", "maxLength"),
        ("min_items", "minItems"),
        ("max_items", "maxItems"),
    ):
        value = getattr(f, attr)
        if value is not None:
            spec[out] = value
    if f.type is T.STRING_LIST and f.item_type is T.URL:
        spec["itemKind"] = "url"
    if f.type is T.OBJECT_LIST and _is_flat(f):
        spec["children"] = [
            field_spec(c, required=c.required, additional=False) for c in f.children
        ]
    return spec


@dataclass(frozen=True)
class OperationFields:
    """An operation's fields split the way the node shows them."""

    top: tuple[FieldUse, ...]  # required: at the top, in catalog order
    additional: tuple[FieldUse, ...]  # optional: under "Additional Fields"


def split(op: Operation) -> OperationFields:
    shown = op.visible_fields("n8n")
    # A one-of group (chart image URL or chart data) is required as a group, not per field.
    return OperationFields(
        top=tuple(u for u in shown if u.required),
        additional=tuple(u for u in shown if not u.required),
    )


def show_for(resource: str, operation: str) -> dict[str, Any]:
    return {"show": {"resource": [resource], "operation": [operation]}}


def op_value(op: Operation) -> str:
    return camel(op.action)


def additional_collection(op: Operation, uses: tuple[FieldUse, ...]) -> dict[str, Any]:
    return {
        "displayName": "Additional Fields",
        "name": ADDITIONAL,
        "type": "collection",
        "placeholder": "Add Field",
        "default": {},
        "displayOptions": Raw("showFor"),
        "options": sorted(
            (property_for(u.field, in_collection=True) for u in uses),
            key=lambda p: sort_key(str(p["displayName"])),
        ),
    }
