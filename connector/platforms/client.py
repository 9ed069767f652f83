"""The Python client's generated part: `connector/client/params.py`, typed keyword arguments
for the resource methods. `creativeai-connector build` writes it with the platform packages.

The catalog stays the one description of the API; this turns its fields into `TypedDict`s so
editors complete field names and mypy checks values (closed enums become `Literal`s). It
imports only the catalog, never the client whose file it writes, so it runs even while the
client's hand-written code names a type not generated yet.
"""

from __future__ import annotations

import textwrap

from connector.catalog import Catalog, Field, FieldType
from connector.catalog.spec import OperationKind
from connector.platforms import GENERATED_NOTICE

T = FieldType
OUTPUT_DIR = "connector/client"
MANIFEST = False  # the folder is hand-written but for this one file: no manifest there
TARGET = "params.py"
BUILD_NOTICE = f"# {GENERATED_NOTICE}\n"

#: The client's own option of every paid call (not sent to the API): see `_credits`.
MAX_CREDITS = "max_credits"
MAX_CREDITS_HELP = (
    "Client option, not sent: price the call first and start nothing when the estimate is",
    "over this many credits (for a batch: the whole batch). Allowed: above 0.",
)

#: Fields a client method takes positionally (`batches.create(prompts, ...)`), by operation.
POSITIONAL: dict[str, tuple[str, ...]] = {"batch.create": ("prompts",)}

Spec = tuple[str, tuple[str, ...], tuple[str, ...]]


def specs(catalog: Catalog) -> tuple[Spec, ...]:
    """(TypedDict name, the operations it covers, fields the method takes positionally): one
    per resource method of every operation with a body (`create_from_*` share `create`),
    grouped by resource in catalog order, so a new operation gets its class without an edit."""
    groups: dict[str, list[str]] = {}
    resources: list[str] = []
    for op in catalog.operations.values():
        if op.resource not in resources:
            resources.append(op.resource)
        if op.body == "none":
            continue
        action = "create" if op.action.startswith("create_") else op.action
        groups.setdefault(f"{_class_name(op.resource)}{_class_name(action)}Params", []).append(
            op.key
        )
    ordered = sorted(
        groups.items(), key=lambda item: resources.index(catalog.operation(item[1][0]).resource)
    )
    return tuple(
        (name, tuple(keys), tuple(p for key in keys for p in POSITIONAL.get(key, ())))
        for name, keys in ordered
    )


HEADER = '''"""Typed keyword arguments of the client's resource methods.

Every field, enum and requirement comes from the catalog; values are checked again by the
catalog's request models when a call is made.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Required, TypedDict

from connector.catalog import Upload

#: A file for a multipart field: bytes, (filename, bytes), (filename, bytes, type) or Upload.
FileInput = bytes | tuple[str, bytes] | tuple[str, bytes, str] | Upload
'''


def _class_name(key: str, *, singular: bool = False) -> str:
    name = "".join(part.capitalize() for part in key.split("_"))
    return name[:-1] if singular and name.endswith("s") else name


class _Writer:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.aliases: dict[str, str] = {}  # name -> definition
        self.nested: dict[str, str] = {}  # name -> class text
        self.classes: list[str] = []

    def annotation(self, f: Field) -> str:
        t = f.type
        if t is T.ENUM and f.closed:
            name = _class_name(f.key)
            values = ", ".join(f'"{v}"' for v in f.option_values)
            self.aliases.setdefault(name, _wrap_literal(name, values, f.option_values))
            return name
        if t in (T.ENUM, T.STRING, T.TEXT, T.URL):
            return "str"
        if t is T.INTEGER:
            return "int"
        if t is T.NUMBER:
            return "float"
        if t is T.BOOLEAN:
            return "bool"
        if t is T.FILE:
            return "FileInput"
        if t is T.STRING_LIST:
            return "Sequence[str]"
        if t is T.NUMBER_LIST:
            return "Sequence[float]"
        if t is T.OBJECT:
            return self.object_class(f, _class_name(f.key))
        return f"Sequence[{self.object_class(f, _class_name(f.key, singular=True))}]"

    def object_class(self, f: Field, name: str) -> str:
        if name not in self.nested:
            lines = [f"class {name}(TypedDict, total=False):", f'    """{f.label}: {f.help}"""']
            lines.append("")
            for child in f.children:  # defines nested classes first
                lines += self.member(child, child.required)
            self.nested[name] = "\n".join(lines) + "\n"
        return name

    def member(self, f: Field, required: bool) -> list[str]:
        ann = self.annotation(f)
        if required:
            ann = f"Required[{ann}]"
        text = f.help + (f" Allowed: {f.allowed()}." if f.type is not T.FILE else "")
        comment = textwrap.wrap(text, width=90, break_on_hyphens=False, break_long_words=False)
        return [*(f"    # {line}" for line in comment), f"    {f.name}: {ann}"]

    def params_class(self, name: str, op_keys: tuple[str, ...], skip: tuple[str, ...]) -> None:
        ops = [self.catalog.operation(k) for k in op_keys]
        order: list[str] = []
        uses: dict[str, tuple[Field, int]] = {}
        for op in ops:
            for use in op.fields:
                f = use.field
                if f.name in skip:
                    self.annotation(f)  # the method types it itself, with these classes
                if f.fixed is not None or f.name in skip:
                    continue
                if f.name not in uses:
                    order.append(f.name)
                    uses[f.name] = (f, 0)
                if use.required:
                    uses[f.name] = (f, uses[f.name][1] + 1)
        covers = " and ".join(op_keys)
        lines = [f"class {name}(TypedDict, total=False):", f'    """Fields of {covers}."""', ""]
        for field_name in order:
            f, required_in = uses[field_name]
            lines += self.member(f, required_in == len(ops))
        if all(op.kind is OperationKind.CREATE for op in ops):
            lines += [f"    # {line}" for line in MAX_CREDITS_HELP] + [f"    {MAX_CREDITS}: float"]
        self.classes.append("\n".join(lines) + "\n")

    def render(self) -> str:
        for name, op_keys, skip in specs(self.catalog):
            self.params_class(name, op_keys, skip)
        parts = [BUILD_NOTICE + HEADER]
        parts += [self.aliases[name] for name in self.aliases]
        blocks = [*self.nested.values(), *self.classes]
        return "\n".join(parts) + "\n\n" + "\n\n".join(blocks)


def _wrap_literal(name: str, joined: str, values: tuple[str, ...]) -> str:
    line = f"{name} = Literal[{joined}]"
    if len(line) <= 100:
        return line + "\n"
    inner = "".join(f'    "{v}",\n' for v in values)
    return f"{name} = Literal[\n{inner}]\n"


def render(catalog: Catalog) -> str:
    return _Writer(catalog).render()


def emit(catalog: Catalog) -> dict[str, bytes]:
    """The emitter contract of `connector.platforms`: relative path -> content."""
    return {TARGET: render(catalog).encode()}
