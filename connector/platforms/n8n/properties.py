"""Catalog fields as n8n node parameters, and as the field table the node's runtime reads.

Each catalog field becomes one n8n parameter of the matching n8n type (string, number,
boolean, options, json, fixedCollection, a binary field name for uploads). Fields an
operation requires sit at the top level, in catalog order; the rest go under the
operation's "Additional Fields" collection. Model fields load their values live from
the API's model list (`loadOptionsMethod`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connector.catalog import Field, FieldType, FieldUse, ModelSource, Operation, text
from connector.catalog.text import n8n_description, singular, title_case, whether
from connector.platforms.n8n.ts import camel, number, pascal

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


def _is_flat(f: Field) -> bool:
    """An object list whose items hold only simple values (a fixedCollection in n8n)."""
    return all(c.type not in (T.OBJECT, T.OBJECT_LIST, T.NUMBER_LIST) for c in f.children)


def _default(f: Field) -> Any:
    t = f.type
    if t is T.BOOLEAN:
        return bool(f.default) if f.default is not None else False
    # An example is never a default (a builder would send it without choosing it): it is the
    # placeholder. Without a catalog default, the least value the field takes.
    if t in (T.INTEGER, T.NUMBER):
        for candidate in (f.default, f.minimum):
            if candidate is not None:
                return candidate
        return 0
    if t is T.ENUM:
        if f.default is not None:
            return f.default
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


def choices(f: Field) -> list[dict[str, Any]]:
    """A closed list's choices (INodePropertyOptions), in the catalog's order (480p, 720p,
    1080p), not alphabetically."""
    return [
        {
            "name": title_case(o.label),
            "value": o.value,
            **({"description": o.help} if o.help else {}),
        }
        for o in f.options
    ]


def property_for(
    f: Field,
    *,
    name: str | None = None,
    in_collection: bool = False,
    child: Callable[[Field], Any] | None = None,
) -> dict[str, Any]:
    """The n8n parameter (INodeProperties) for one catalog field, without displayOptions.
    `child` renders the children of a collection (a reference to their shared parameter);
    by default each child is written out."""
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
            options=choices(f),
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
        if f.example is not None and f.example != prop["default"]:
            prop["placeholder"] = f"e.g. {number(f.example)}"
    elif t is T.BOOLEAN:
        prop.update(type="boolean", default=_default(f))
        help_text = whether(f.help)
    elif t is T.STRING_LIST:
        item = "URL" if f.item_type is T.URL else singular(f.label).split()[-1]
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
            placeholder=f"Add {singular(f.label)}",
            default={},
            options=[
                {
                    "displayName": singular(f.label),
                    "name": "values",
                    "values": [
                        child(c) if child else property_for(c, in_collection=True)
                        for c in f.children
                    ],
                }
            ],
        )
    else:  # nested objects: JSON, shaped like the example
        prop.update(type="json", default=_default(f))
    prop["displayName"] = title_case(str(prop["displayName"]))
    prop["description"] = (
        n8n_description(help_text) if help_text != DYNAMIC_DESCRIPTION else help_text
    )
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


def field_spec(
    f: Field, *, param: str | None = None, child_key: Callable[[Field], str] | None = None
) -> Any:
    """What the runtime needs to read, check and send one field (the same in every
    operation: an operation's own flags go on its `FieldUse`, a collection's children are
    named by key, each with whether an entry needs it)."""
    spec: dict[str, Any] = {
        "wire": f.name,
        "param": param or param_name(f),
        "label": title_case(f.label),
        "kind": _kind(f),
    }
    spec["allowed"] = f.allowed()
    if f.type is T.ENUM and f.closed:
        spec["options"] = choices(f)
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
        key = child_key or (lambda c: c.key)
        spec["children"] = [
            use_spec(key(c), required=c.required, additional=False) for c in f.children
        ]
    return spec


def use_spec(key: str, *, required: bool, additional: bool) -> dict[str, Any]:
    """One operation's use of a field: the field's key and the operation's flags."""
    spec: dict[str, Any] = {"field": key}
    if required:
        spec["required"] = True
    if additional:
        spec["additional"] = True
    return spec


@dataclass(frozen=True)
class OperationFields:
    """An operation's fields split the way the node shows them."""

    top: tuple[FieldUse, ...]  # required: at the top, in catalog order
    additional: tuple[FieldUse, ...]  # optional: under "Additional Fields"
    # One-of groups (chart image URL or chart data): a visible, required choice of which
    # field to give, each field at the top, shown when chosen.
    choices: tuple[tuple[FieldUse, ...], ...] = ()

    @property
    def all(self) -> tuple[FieldUse, ...]:
        return (*self.top, *(u for group in self.choices for u in group), *self.additional)


def split(op: Operation) -> OperationFields:
    shown = op.visible_fields("n8n")
    # A one-of group (chart image URL or chart data) is required as a group, not per field.
    by_name = {u.field.name: u for u in shown}
    choices = tuple(
        tuple(by_name[name] for name in group)
        for group in op.one_of
        if all(name in by_name for name in group)
    )
    chosen = {u.field.key for group in choices for u in group}
    return OperationFields(
        top=tuple(u for u in shown if u.required),
        additional=tuple(u for u in shown if not u.required and u.field.key not in chosen),
        choices=choices,
    )


def choice_param(index: int) -> str:
    """The parameter that picks which field of an operation's n-th one-of group is given."""
    return "source" if index == 0 else f"source{index + 1}"


def choice_property(index: int, group: tuple[FieldUse, ...]) -> dict[str, Any]:
    labels = [title_case(u.field.label) for u in group]
    return {
        "displayName": title_case(text.join_words(labels, "or")),
        "name": choice_param(index),
        "type": "options",
        "noDataExpression": True,
        "required": True,
        "options": [
            {"name": label, "value": u.field.name} for label, u in zip(labels, group, strict=True)
        ],
        "default": group[0].field.name,
        "description": "Which one to give: the API takes exactly one of them",
    }


def show_for(resource: str, operation: str) -> dict[str, Any]:
    return {"show": {"resource": [resource], "operation": [operation]}}


def op_value(op: Operation) -> str:
    return camel(op.action)
