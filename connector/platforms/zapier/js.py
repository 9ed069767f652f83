"""Render Python data as JavaScript source the way a person formats it.

Objects and arrays stay on one line while they fit the width and break one entry per
line otherwise; keys are bare where JavaScript allows; strings use single quotes;
multi-line literals end entries with a trailing comma (Prettier's defaults).
`Code("...")` inserts an expression verbatim, e.g. a function reference.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

WIDTH = 80
_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


@dataclass(frozen=True)
class Code:
    """A JavaScript expression written as is."""

    source: str


def string(value: str) -> str:
    """A JavaScript string literal: single quotes unless the text holds more of them."""
    body = json.dumps(value, ensure_ascii=False)[1:-1]
    if value.count("'") > value.count('"'):
        return f'"{body}"'
    body = body.replace('\\"', '"').replace("'", "\\'")
    return f"'{body}'"


def key(name: str) -> str:
    return name if _IDENTIFIER.match(name) else string(name)


def literal(value: Any, indent: int = 0) -> str:
    """`value` as a JavaScript expression, starting at column `indent`."""
    flat = _flat(value)
    if flat is not None and indent + len(flat) <= WIDTH:
        return flat
    pad = " " * (indent + 2)
    end = " " * indent
    if isinstance(value, Mapping):
        lines = [f"{pad}{_entry(str(k), v, indent + 2)}," for k, v in value.items()]
        return "{\n" + "\n".join(lines) + f"\n{end}}}"
    if isinstance(value, Sequence) and not isinstance(value, str):
        lines = [f"{pad}{literal(v, indent + 2)}," for v in value]
        return "[\n" + "\n".join(lines) + f"\n{end}]"
    return flat if flat is not None else _scalar(value)


def _flat(value: Any) -> str | None:
    """One-line form, or None when a nested value cannot be one line."""
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        parts = []
        for k, v in value.items():
            inner = _flat(v)
            if inner is None:
                return None
            name = str(k)
            parts.append(name if _shorthand(name, v) else f"{key(name)}: {inner}")
        return "{ " + ", ".join(parts) + " }"
    if isinstance(value, Sequence) and not isinstance(value, str):
        items = [_flat(v) for v in value]
        if any(i is None for i in items):
            return None
        return "[" + ", ".join(i for i in items if i is not None) + "]"
    if isinstance(value, Code) and "\n" in value.source:
        return None
    return _scalar(value)


def _shorthand(name: str, value: Any) -> bool:
    return isinstance(value, Code) and value.source == name and bool(_IDENTIFIER.match(name))


def _entry(name: str, value: Any, indent: int) -> str:
    """`name: value`, or just `name` when the value is a variable of that name."""
    if _shorthand(name, value):
        return name
    return f"{key(name)}: {literal(value, indent)}"


def _scalar(value: Any) -> str:
    if isinstance(value, Code):
        return value.source
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, str):
        return string(value)
    raise TypeError(f"cannot write {type(value).__name__} as JavaScript")
