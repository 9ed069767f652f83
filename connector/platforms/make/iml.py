"""Small builders for IML, Make's `{{ expression }}` templates, and the files that hold them.

Only what the emitter needs: references (`parameters.prompt`, ``headers.`x-id` ``), string
literals, `==`/`||` chains, and the two file formats (IML JSON with a comment on line one,
strict JSON for the files Make reads as plain JSON).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from connector.platforms import GENERATED_NOTICE

#: The object key that spreads a collection into the object around it.
SPREAD = "{{...}}"

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def tpl(expression: str) -> str:
    """`parameters.prompt` → `{{parameters.prompt}}`."""
    return "{{" + expression + "}}"


def path(*parts: str) -> str:
    """A property path; names that are not identifiers are back-quoted, as IML wants."""
    return ".".join(p if _IDENT.match(p) else f"`{p}`" for p in parts)


def text(value: str) -> str:
    """A string literal inside an expression, quoted with whichever quote it does not hold."""
    for quote in ("'", '"'):
        if quote not in value:
            return f"{quote}{value}{quote}"
    raise ValueError(f"cannot quote {value!r} in IML: it holds both quote characters")


def any_equal(expression: str, values: Iterable[str]) -> str:
    """`body.status == 'A' || body.status == 'B'`."""
    return " || ".join(f"{expression} == {text(v)}" for v in values)


def expression(template: str) -> str:
    """A text template as one expression: "a {{x}} b" → `'a ' + x + ' b'`."""
    parts = []
    for n, piece in enumerate(re.split(r"\{\{(.*?)\}\}", template)):
        if n % 2:
            parts.append(piece)
        elif piece:
            parts.append(text(piece))
    return concat(*parts)


def concat(*parts: str) -> str:
    """Join expression parts with `+` (IML's string concatenation)."""
    return " + ".join(parts)


def jsonc(value: Any) -> bytes:
    """An `*.iml.json` file: the generated-file notice as a comment, then indented JSON."""
    return f"// {GENERATED_NOTICE}\n{_dump(value)}".encode()


def strict_json(value: Any) -> bytes:
    """A plain JSON file (`makecomapp.json`, `groups.json`, `common.json`): no comment allowed."""
    return _dump(value).encode()


def _dump(value: Any) -> str:
    return json.dumps(value, indent=4, ensure_ascii=False) + "\n"
