"""Render Python values as TypeScript source in n8n's house style (tabs, single quotes).

    literal({"name": "prompt", "default": ""})  # "{\n\tname: 'prompt',\n\tdefault: '',\n}"

`Raw("showFor")` is emitted verbatim (an identifier or expression, not a string).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

_IDENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


@dataclass(frozen=True)
class Raw:
    """Source text emitted as is (a reference, a spread, a call)."""

    code: str


def string(value: str) -> str:
    """A single-quoted TypeScript string literal."""
    body = json.dumps(value, ensure_ascii=False)[1:-1]  # JSON escapes, without the quotes
    body = body.replace('\\"', '"').replace("'", "\\'")
    return f"'{body}'"


def key(name: str) -> str:
    return name if _IDENT.match(name) else string(name)


def number(value: float) -> str:
    if isinstance(value, bool):
        raise TypeError("booleans are not numbers here")
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def literal(value: Any, depth: int = 0) -> str:
    """A TypeScript literal for `value`, multi-line for non-empty objects and lists."""
    pad = "\t" * (depth + 1)
    end = "\t" * depth
    if isinstance(value, Raw):
        return value.code
    if value is None:
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return number(value)
    if isinstance(value, str):
        return string(value)
    if isinstance(value, dict):
        if not value:
            return "{}"
        lines = []
        for k, v in value.items():
            if isinstance(k, Raw):  # a spread: `...showFor`
                lines.append(f"{pad}{k.code},")
            else:
                lines.append(f"{pad}{key(k)}: {literal(v, depth + 1)},")
        return "{\n" + "\n".join(lines) + f"\n{end}}}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        if all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value):
            inline = "[" + ", ".join(literal(v) for v in value) + "]"
            if len(inline) + depth * 4 <= 90:
                return inline
        items = "\n".join(f"{pad}{literal(v, depth + 1)}," for v in value)
        return "[\n" + items + f"\n{end}]"
    raise TypeError(f"cannot render {type(value).__name__} as TypeScript")


def camel(name: str) -> str:
    """`image_url` -> `imageUrl`, `create_from_text` -> `createFromText`."""
    head, *rest = re.split(r"[_\-.]", name)
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def pascal(name: str) -> str:
    c = camel(name)
    return c[:1].upper() + c[1:]


def _collation_class(ch: str) -> int:
    if ch.isspace():
        return 0
    if ch.isdigit():
        return 3
    if ch.isalpha():
        return 4
    return 1 if ch in "_-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$" and ch not in "+<=>|~$^`" else 2


def sort_key(text: str) -> tuple[tuple[tuple[int, str], ...], str]:
    """Order strings as JavaScript's `localeCompare` does (ICU root collation, simplified):
    spaces, then punctuation, symbols, digits, letters; case decides only ties, lower first.
    n8n's linter sorts option lists this way."""
    primary = tuple((_collation_class(ch), ch.lower()) for ch in text)
    return primary, text.swapcase()


_PLACEHOLDER = re.compile(r"__[A-Z][A-Z_]*__")


def template(name: str, notice: str, *, comment: str = "//", **values: str) -> str:
    """A template of `templates/` with its `__NAME__` placeholders filled in (`name=...`
    fills `__NAME__`), after a first line saying the file is generated."""
    text = (resources.files(__package__) / "templates" / name).read_text(encoding="utf-8")
    for placeholder, value in values.items():
        marker = f"__{placeholder.upper()}__"
        if marker not in text:
            raise KeyError(f"template {name} has no {marker}")
        text = text.replace(marker, value)
    left = _PLACEHOLDER.search(text)
    if left:
        raise KeyError(f"template {name}: {left.group(0)} was not filled in")
    return f"{comment} {notice}\n{text}"
