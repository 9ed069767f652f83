"""The Python client's generated part, written by `creativeai-connector build` with the
platform packages: `connector/client/params.py` (typed keyword arguments) and
`connector/client/resources.py` (the resource classes: `client.videos.create(...)`).

The catalog stays the one description of the API; this turns its fields into `TypedDict`s so
editors complete field names and mypy checks values (closed enums become `Literal`s), and its
operations into typed methods, one per operation (the `create_from_*` of a resource share
`create`), documented with the operation's description. What the catalog cannot say is
hand-written in `connector/client/_resource_base.py`, which the generated classes build on.
It imports only the catalog, never the client whose files it writes, so it runs even while
the client's hand-written code names a type not generated yet.
"""

from __future__ import annotations

import textwrap

from connector.catalog import Catalog, Field, FieldType, Operation, steps
from connector.catalog.fields import STREAM
from connector.catalog.spec import OperationKind
from connector.platforms import GENERATED_NOTICE

T = FieldType
OUTPUT_DIR = "connector/client"
MANIFEST = False  # the folder is hand-written but for this one file: no manifest there
TARGET = "params.py"
RESOURCES = "resources.py"
BUILD_NOTICE = f"# {GENERATED_NOTICE}\n"

#: The client's own options of a paid call (not sent to the API): the catalog's step
#: options, `_credits` and `_record_key` in the client.
MAX_CREDITS = steps.MAX_CREDITS.key
MAX_CREDITS_HELP = (
    "Client option, not sent: price the call first and start nothing when the estimate is",
    "over this many credits (for a batch: the whole batch). Allowed: above 0.",
)
RECORD_KEY = steps.RECORD_KEY.key
RECORD_KEY_NOTE = "Client option, not sent; needs the client's ledger= (a file or the relay)."

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
        paid = {op.key for op in steps.capped(self.catalog.operations.values())}
        if all(op.key in paid for op in ops):
            text = f"{RECORD_KEY_NOTE} {steps.RECORD_KEY.help}"
            comment = textwrap.wrap(text, width=90, break_on_hyphens=False)
            lines += [f"    # {line}" for line in comment] + [f"    {RECORD_KEY}: str"]
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
    return {TARGET: render(catalog).encode(), RESOURCES: render_resources(catalog).encode()}


# -- resources.py ------------------------------------------------------------------------------

BASE = "connector.client._resource_base"
#: Methods whose signature is the client's own, hand-written in `BASE` as a base class (sync
#: name; the async one is "Async" + it): the generated class of the resource derives from it.
HAND_WRITTEN: dict[str, str] = {"batch.create": "BatchCreate"}
#: Resources whose client attribute is not the plural of their key (`client.voice`).
ATTRIBUTES: dict[str, str] = {"voice": "voice", "compose": "compose"}
STREAM_ARGS = ("dialect: str | None = None", "poll_interval: float | None = None")
WIDTH = 100  # the repository's line length (ruff)

RESOURCES_HEADER = '''"""Typed resource methods, one per catalog operation (`client.videos.create`).

Keyword arguments are typed by `params`; the catalog's request models check them again when
the call is made. Sync and async twins: each method names its operation and passes the
fields through the client's `call` (or `stream`); what the catalog cannot say is in
`_resource_base`.
"""

from __future__ import annotations
'''


def attribute(resource: str) -> str:
    """The client attribute of a resource: `client.videos`, `client.batches`, `client.voice`."""
    if resource in ATTRIBUTES:
        return ATTRIBUTES[resource]
    return resource + ("es" if resource.endswith(("s", "x", "ch", "sh")) else "s")


def method_name(op: Operation) -> str:
    """The resource method that runs `op` (`create_from_text` and `create_from_image`: `create`)."""
    return "create" if op.action.startswith("create_") else op.action


def is_stream(op: Operation) -> bool:
    """A progress stream: the operation sends the fixed `stream` field."""
    return any(use.field.name == STREAM.name and use.field.fixed for use in op.fields)


class Method:
    """One resource method: the operations it runs (several only for `create_from_*`)."""

    def __init__(self, name: str, ops: list[Operation], params: str | None) -> None:
        self.name = name
        self.ops = ops
        self.params = params
        responses = {op.response for op in ops}
        if len(responses) != 1:
            raise ValueError(f"{[o.key for o in ops]} share `{name}` but answer {responses}")
        self.response = ops[0].response
        self.stream = is_stream(ops[0])
        self.markers = self._markers()

    def _markers(self) -> dict[str, str]:
        """For a method of several operations: the field that picks each, but the default."""
        if len(self.ops) == 1:
            return {}
        markers: dict[str, str] = {}
        defaults = []
        for op in self.ops:
            others = {u.field.name for o in self.ops if o is not op for u in o.fields}
            own = [u.field.name for u in op.fields if u.required and u.field.name not in others]
            if own:
                markers[op.key] = own[0]
            else:
                defaults.append(op.key)
        if len(defaults) != 1:
            keys = [op.key for op in self.ops]
            raise ValueError(f"{keys} share `{self.name}`: exactly one may lack a field of its own")
        self.default = defaults[0]
        return markers

    def docstring(self) -> list[str]:
        if not self.markers:
            return [self.ops[0].description]
        default = next(op for op in self.ops if op.key == self.default)
        lines = [default.description, ""]
        for op in self.ops:
            if op.key in self.markers:
                words = op.description[0].lower() + op.description[1:]
                lines.append(f"With `{self.markers[op.key]}`: {words}")
        return lines


def _methods(catalog: Catalog) -> dict[str, list[Method]]:
    """Resource key -> its generated methods, in catalog order."""
    params = {key: name for name, keys, _ in specs(catalog) for key in keys}
    grouped: dict[str, dict[str, list[Operation]]] = {}
    for op in catalog.operations.values():
        by_name = grouped.setdefault(op.resource, {})
        if op.key not in HAND_WRITTEN:
            by_name.setdefault(method_name(op), []).append(op)
    return {
        resource: [Method(name, ops, params.get(ops[0].key)) for name, ops in by_name.items()]
        for resource, by_name in grouped.items()
    }


def _bases(catalog: Catalog, resource: str, asynchronous: bool) -> str:
    prefix = "Async" if asynchronous else ""
    for key, base in HAND_WRITTEN.items():
        if catalog.operation(key).resource == resource:
            return prefix + base
    return "AsyncResource" if asynchronous else "SyncResource"


def _wrap_doc(lines: list[str], indent: str) -> list[str]:
    """A docstring at `indent`, wrapped to the line length."""
    width = WIDTH - len(indent) - 6  # the quotes either side
    out: list[str] = []
    for line in lines:
        wrapped = textwrap.wrap(line, width=width, break_on_hyphens=False) or [""]
        out += wrapped
    if len(out) == 1:
        return [f'{indent}"""{out[0]}"""']
    body = [f"{indent}{line}" if line else "" for line in out[1:]]
    return [f'{indent}"""{out[0]}', *body, f'{indent}"""']


def _def(indent: str, head: str, args: list[str], returns: str) -> list[str]:
    """A `def` laid out the way ruff format lays it out."""
    one = f"{indent}{head}({', '.join(args)}) -> {returns}:"
    if len(one) <= WIDTH:
        return [one]
    inner = f"{indent}    {', '.join(args)}"
    if len(inner) <= WIDTH and not any(a.startswith("*,") for a in args):
        return [f"{indent}{head}(", inner, f"{indent}) -> {returns}:"]
    return [f"{indent}{head}(", *(f"{indent}    {a}," for a in args), f"{indent}) -> {returns}:"]


def _call(indent: str, head: str, args: list[str]) -> list[str]:
    """`head(args)` laid out the way ruff format lays it out."""
    one = f"{indent}{head}({', '.join(args)})"
    if len(one) <= WIDTH:
        return [one]
    inner = f"{indent}    {', '.join(args)}"
    if len(inner) <= WIDTH:
        return [f"{indent}{head}(", inner, f"{indent})"]
    return [f"{indent}{head}(", *(f"{indent}    {a}," for a in args), f"{indent})"]


def _method(m: Method, asynchronous: bool) -> list[str]:
    op = m.ops[0]
    client = "AsyncCreativeAI" if asynchronous else "CreativeAI"
    doc = m.docstring()
    if m.stream:
        args = ["self", "*", *STREAM_ARGS, f"**fields: Unpack[{m.params}]"]
        iterator = "AsyncIterator" if asynchronous else "Iterator"
        doc = [*doc[:-1], f"{doc[-1]} See `{client}.stream`."]
        lines = _def("    ", f"def {m.name}", args, f"{iterator}[StreamUpdate]")
        lines += _wrap_doc(doc, " " * 8)
        sent = [f'"{op.key}"', "dialect=dialect", "poll_interval=poll_interval", "**fields"]
        return lines + _call(" " * 8, "return self._client.stream", sent)
    if m.params is not None:
        args, passed = ["self", f"**fields: Unpack[{m.params}]"], ["**fields"]
    else:
        names = [p.name for p in op.path_params]
        args = ["self", *(f"{n}: str" for n in names), *(["/"] if names else [])]
        passed = [f"{n}={n}" for n in names]
    prefix = "async def" if asynchronous else "def"
    lines = _def("    ", f"{prefix} {m.name}", args, m.response)
    lines += _wrap_doc(doc, " " * 8)
    target = f'"{op.key}"'
    if m.markers:
        chosen = [f'"{m.default}"', *(f'{f}="{k}"' for k, f in m.markers.items())]
        lines += _call(" " * 8, "op = pick", ["fields", *chosen])
        target = "op"
    awaited = "await " if asynchronous else ""
    call = f"{awaited}self._client.call({', '.join([target, *passed])})"
    one = f"        return typed({m.response}, {call})"
    if len(one) <= WIDTH:
        return [*lines, one]
    return [*lines, f"        answer = {call}", f"        return typed({m.response}, answer)"]


def _resource_class(catalog: Catalog, resource: str, methods: list[Method], aio: bool) -> str:
    name = ("Async" if aio else "") + _class_name(attribute(resource))
    res = catalog.resources[resource]
    ops = [op.key for op in catalog.operations.values() if op.resource == resource]
    lines = [f"class {name}({_bases(catalog, resource, aio)}):"]
    lines += _wrap_doc([f"{res.label}: {', '.join(f'`{k}`' for k in ops)}."], "    ")
    for m in methods:
        lines += ["", *_method(m, aio)]
    return "\n".join(lines) + "\n"


def _attach(resources: list[str], asynchronous: bool) -> str:
    name = "AsyncClientResources" if asynchronous else "ClientResources"
    caller = "AsyncCaller" if asynchronous else "Caller"
    client = "AsyncCreativeAI" if asynchronous else "CreativeAI"
    prefix = "Async" if asynchronous else ""
    lines = [
        f"class {name}:",
        f'    """The resources of `{client}`, one attribute each (`client.videos`)."""',
        "",
        f"    def _attach_resources(self, client: {caller}) -> None:",
    ]
    for r in resources:
        lines.append(f"        self.{attribute(r)} = {prefix}{_class_name(attribute(r))}(client)")
    return "\n".join(lines) + "\n"


def _import(module: str, names: list[str]) -> str:
    one = f"from {module} import {', '.join(names)}"
    if len(one) <= WIDTH:
        return one
    return f"from {module} import (\n" + "".join(f"    {n},\n" for n in names) + ")"


def render_resources(catalog: Catalog) -> str:
    methods = _methods(catalog)
    resources = list(methods)
    all_methods = [m for ms in methods.values() for m in ms]
    streams = any(m.stream for m in all_methods)
    responses = {m.response for m in all_methods if not m.stream}
    params = {m.params for m in all_methods if m.params is not None}
    bases = {"AsyncCaller", "AsyncResource", "Caller", "SyncResource", "typed"}
    for r in resources:
        base = _bases(catalog, r, False)
        if base != "SyncResource":
            bases |= {base, "Async" + base}
    if any(m.markers for m in all_methods):
        bases.add("pick")
    imports = []
    if streams:
        imports += ["from collections.abc import AsyncIterator, Iterator", ""]
    if params:
        imports += ["from typing_extensions import Unpack", ""]
    imports.append(_import("connector.catalog.responses", sorted(responses)))
    imports.append(_import(BASE, sorted(bases, key=lambda n: (n[0].islower(), n))))
    if params:
        imports.append(_import("connector.client.params", sorted(params)))
    if streams:
        imports.append("from connector.client.sse import StreamUpdate")
    head = BUILD_NOTICE + RESOURCES_HEADER + "\n" + "\n".join(imports) + "\n"
    blocks = [head + "\n# -- sync " + "-" * (WIDTH - 10) + "\n"]
    blocks += [_resource_class(catalog, r, methods[r], False) for r in resources]
    blocks.append(_attach(resources, False))
    blocks.append("# -- async " + "-" * (WIDTH - 11) + "\n")
    blocks += [_resource_class(catalog, r, methods[r], True) for r in resources]
    blocks.append(_attach(resources, True))
    return "\n\n".join(blocks)
