"""Catalog fields as Make parameters.

The one table a reader needs is `PARAMETER_TYPES`: how each catalog field type becomes a
Make parameter type. Everything else here fills in what that type takes in Make: options,
validation, nested `spec`s, and the file pair (`filename` + `buffer`) Make uses for uploads.
Outputs (interfaces) come from the catalog's output contract: see `outputs`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from connector.catalog import Field, FieldType, ModelSource
from connector.catalog.text import sentence_case, singular

T = FieldType
Param = dict[str, Any]

#: Catalog field type → Make parameter type.
PARAMETER_TYPES: Mapping[FieldType, str] = {
    T.STRING: "text",
    T.TEXT: "text",  # with `multiline`
    T.URL: "url",
    T.INTEGER: "integer",  # `uinteger` when the range starts at 0 or above
    T.NUMBER: "number",
    T.BOOLEAN: "boolean",
    T.ENUM: "select",
    T.STRING_LIST: "array",  # `spec`: one text or url parameter
    T.NUMBER_LIST: "array",  # `spec`: one number parameter
    T.OBJECT: "collection",  # `spec`: the children
    T.OBJECT_LIST: "array",  # `spec`: the children, so each item is a collection
    T.FILE: "collection",  # `spec`: file name + data, Make's upload pair
}

#: The two parts of a file parameter, named as Make's own upload modules name them.
FILE_NAME = "fileName"
FILE_DATA = "data"


def make_type(field: Field) -> str:
    if field.options_source:
        return "select"  # a live list from an RPC, whatever the value's own type
    if field.type is T.INTEGER and field.minimum is not None and field.minimum >= 0:
        return "uinteger"
    return PARAMETER_TYPES[field.type]


def parameter(
    field: Field,
    *,
    required: bool,
    rpc_for: Callable[[ModelSource], str] | None = None,
    extra_help: str = "",
) -> Param:
    """One mappable parameter for a catalog field (`rpc_for` names the RPC of an options source)."""
    param: Param = {
        "name": field.name,
        "type": make_type(field),
        "label": sentence_case(field.label),
    }
    help_text = " ".join(part for part in (field.help, extra_help) if part)
    if help_text:
        param["help"] = help_text
    if required:
        param["required"] = True
    if field.default is not None:
        param["default"] = field.default
    if field.advanced:
        param["advanced"] = True
    if field.type is T.TEXT:
        param["multiline"] = True
    if param["type"] == "select":
        if field.options_source:
            if rpc_for is None:
                raise ValueError(f"{field.key}: options come from {field.options_source!r}")
            param["options"] = f"rpc://{rpc_for(field.options_source)}"
        else:
            param["options"] = [{"label": o.label, "value": o.value} for o in field.options]
        if not field.closed or field.type is not T.ENUM:
            param["editable"] = True  # the list suggests; other values may be typed or mapped
    spec = _spec(field, rpc_for)
    if spec is not None:
        param["spec"] = spec
    validate = _validate(field)
    if validate:
        param["validate"] = validate
    return param


def _spec(field: Field, rpc_for: Callable[[ModelSource], str] | None) -> Param | list[Param] | None:
    t = field.type
    if t is T.STRING_LIST:
        item = field.item_type or T.STRING
        return {"type": PARAMETER_TYPES[item], "label": sentence_case(singular(field.label))}
    if t is T.NUMBER_LIST:
        return {"type": PARAMETER_TYPES[T.NUMBER], "label": sentence_case(singular(field.label))}
    if t in (T.OBJECT, T.OBJECT_LIST):
        return [parameter(c, required=c.required, rpc_for=rpc_for) for c in field.children]
    if t is T.FILE:  # both parts are needed once a file is given
        return [
            {
                "name": FILE_NAME,
                "type": "filename",
                "label": "File name",
                "required": True,
                "semantic": "file:name",
            },
            {
                "name": FILE_DATA,
                "type": "buffer",
                "label": "Data",
                "required": True,
                "semantic": "file:data",
            },
        ]
    return None


def _validate(field: Field) -> Param:
    t = field.type
    rules: Param = {}
    if t in (T.INTEGER, T.NUMBER):
        _put(rules, "min", field.minimum)
        _put(rules, "max", field.maximum)
    elif t in (T.STRING, T.TEXT):
        _put(rules, "min", field.min_length)
        _put(rules, "max", field.max_length)
    elif t in (T.STRING_LIST, T.NUMBER_LIST, T.OBJECT_LIST):
        _put(rules, "minItems", field.min_items)
        _put(rules, "maxItems", field.max_items)
    return rules


def _put(rules: Param, key: str, value: float | None) -> None:
    if value is not None:
        rules[key] = int(value) if float(value).is_integer() else value


#: What a Relay URL must look like: an http(s) address without a trailing slash.
RELAY_URL_PATTERN = "^https?://.+[^/]$"


def relay_url(name: str, help_: str, *, required: bool) -> Param:
    """The address of the builder's CreativeAI relay, as every component that uses the relay
    asks for it (the relay webhook, the paid modules' ledger)."""
    param: Param = {
        "name": name,
        "type": "url",
        "label": "Relay URL",
        "help": "The address of your CreativeAI webhook relay, e.g. https://relay.example.com. "
        + help_,
    }
    if required:
        param["required"] = True
    param["validate"] = {"pattern": RELAY_URL_PATTERN}
    return param
