"""IML, Make's `{{ expression }}` templates: only what Make documents, and of that only what
the app generator emits.

Make publishes no IML engine, so the tests carry this small one. Every function and operator
it accepts is one Make documents (`DOCUMENTED_FUNCTIONS`, `DOCUMENTED_OPERATORS`: help.make.com's
function lists and developers.make.com's "JavaScript in Make" page); a documented one it does
not implement, and anything undocumented (`startsWith()`, for one), raises `UnsupportedIML`.

- literals: strings in '…' or "…" (no escapes), numbers, `true`, `false`;
- references: `root.name.name`, with back-quoted names (``headers.`x-id` ``), where root is
  one of `ROOTS`;
- functions: see `FUNCTIONS`;
- operators: `+` (JavaScript: adds numbers, otherwise joins text), `==`, `!=` (strict), `&&`,
  `||`, `!`;
- the `"{{...}}"` object key, which spreads a collection into the object around it.

Values follow JavaScript, as Make's engine does: a missing property is `UNDEFINED`, a
template that is exactly one `{{…}}` keeps its value's type, text around expressions makes
text, and an object key whose value is `UNDEFINED` is left out (as JSON.stringify does).
"""

from __future__ import annotations

import math
import re
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

ROOTS = frozenset(
    {
        "parameters",
        "connection",
        "body",
        "headers",
        "statusCode",
        "item",
        "temp",
        "webhook",
        "payload",  # an instant trigger's request: the webhook's bundle
    }
)

#: Every function help.make.com lists (general, math, text, date and array functions).
DOCUMENTED_FUNCTIONS = frozenset(
    {
        # general
        "get", "if", "ifempty", "switch", "omit", "pick",
        # math
        "average", "ceil", "floor", "formatNumber", "max", "min", "parseNumber", "round",
        "sum", "trunc",
        # text and binary
        "ascii", "base64", "capitalize", "contains", "decodeURL", "encodeURL", "escapeHTML",
        "escapeMarkdown", "indexOf", "length", "lower", "md5", "replace",
        "replaceEmojiCharacters", "sha1", "sha256", "sha512", "split", "startcase",
        "stripHTML", "substring", "toBinary", "toString", "trim", "upper",
        # date and time
        "addDays", "addHours", "addMinutes", "addMonths", "addSeconds", "addYears",
        "formatDate", "parseDate", "setDate", "setDay", "setHour", "setMinute", "setMonth",
        "setSecond", "setYear",
        # arrays
        "add", "deduplicate", "distinct", "first", "flatten", "join", "keys", "last", "map",
        "merge", "remove", "reverse", "shuffle", "slice", "sort", "toArray", "toCollection",
    }
)  # fmt: skip

#: developers.make.com, "JavaScript in Make": the operators IML has.
DOCUMENTED_OPERATORS = frozenset(
    {"+", "-", "*", "/", "%", "==", "=", "===", "!=", "!==", "<", "<=", ">", ">=", "&&", "||", "!"}
)


class UnsupportedIML(ValueError):
    """IML outside the subset the generator emits (and these tests understand)."""


class _Undefined:
    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Any = _Undefined()

# -- parsing ---------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'[^'\\]*'|"[^"\\]*")
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<quoted>`[^`]+`)
      | (?P<number>\d+(?:\.\d+)?)
      | (?P<op>\|\||&&|!=|==|<=|>=|[<>!+/.(),])
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Literal:
    value: str | float | bool


@dataclass(frozen=True)
class Ref:
    parts: tuple[str, ...]


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Not:
    operand: Node


Node = Literal | Ref | Call | Binary | Not

#: The documented functions this renderer implements, with their number of arguments.
FUNCTIONS: dict[str, int] = {
    "if": 3,
    "ifempty": 2,
    "substring": 3,
    "encodeURL": 1,
    "toCollection": 3,
    "lower": 1,
    "split": 2,
    "contains": 2,
    "switch": 0,  # switch(value, case, result, …, otherwise): any even number from 4
    "round": 1,
    "last": 1,
    "first": 1,
    "get": 2,  # get(object or array, path): a dotted path, array positions from 1
    "map": 2,  # map(array of collections, key): each one's value of the key
    "join": 2,  # join(array, separator)
}
OPERATORS = frozenset({"+", "/", "==", "!=", "<", "<=", ">", ">=", "&&", "||", "!"})
RELATIONAL = frozenset({"<", "<=", ">", ">="})
assert set(FUNCTIONS) <= DOCUMENTED_FUNCTIONS and OPERATORS <= DOCUMENTED_OPERATORS


def _tokens(source: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(source):
        if not source[pos:].strip():
            break
        match = _TOKEN.match(source, pos)
        if not match:
            raise UnsupportedIML(f"cannot read {source[pos:]!r} in {{{{{source}}}}}")
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokens(source)
        self.i = 0

    def parse(self) -> Node:
        node = self.or_()
        if self.i != len(self.tokens):
            raise UnsupportedIML(f"unexpected {self.tokens[self.i][1]!r} in {{{{{self.source}}}}}")
        return node

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise UnsupportedIML(f"expected {value or 'more'} in {{{{{self.source}}}}}")
        self.i += 1
        return token

    def binary(self, op: str, operand: Callable[[], Node]) -> Node:
        node = operand()
        while self.peek() == ("op", op):
            self.take()
            node = Binary(op, node, operand())
        return node

    def or_(self) -> Node:
        return self.binary("||", self.and_)

    def and_(self) -> Node:
        return self.binary("&&", self.eq)

    def eq(self) -> Node:
        node = self.relation()
        while self.peek() in (("op", "=="), ("op", "!=")):
            _, op = self.take()
            node = Binary(op, node, self.relation())
        return node

    def relation(self) -> Node:
        node = self.add()
        while self.peek() in {("op", op) for op in RELATIONAL}:
            _, op = self.take()
            node = Binary(op, node, self.add())
        return node

    def add(self) -> Node:
        return self.binary("+", self.divide)

    def divide(self) -> Node:
        return self.binary("/", self.unary)

    def unary(self) -> Node:
        if self.peek() == ("op", "!"):
            self.take()
            return Not(self.unary())
        return self.primary()

    def primary(self) -> Node:
        kind, value = self.take()
        if kind == "string":
            return Literal(value[1:-1])
        if kind == "number":
            return Literal(float(value) if "." in value else int(value))
        if kind == "name" and value in ("true", "false") and self.peek() != ("op", "("):
            return Literal(value == "true")
        if kind != "name":
            raise UnsupportedIML(f"unexpected {value!r} in {{{{{self.source}}}}}")
        if self.peek() == ("op", "("):
            return self.call(value)
        if value not in ROOTS:
            raise UnsupportedIML(f"unknown variable {value!r} in {{{{{self.source}}}}}")
        parts = [value]
        while self.peek() == ("op", "."):
            self.take()
            kind, name = self.take()
            if kind == "name":
                parts.append(name)
            elif kind == "quoted":
                parts.append(name[1:-1])
            else:
                raise UnsupportedIML(f"bad property {name!r} in {{{{{self.source}}}}}")
        return Ref(tuple(parts))

    def call(self, name: str) -> Node:
        if name not in DOCUMENTED_FUNCTIONS:
            raise UnsupportedIML(f"function {name}() is not one of Make's documented functions")
        if name not in FUNCTIONS:
            raise UnsupportedIML(f"function {name}() is documented but not in the subset")
        self.take("(")
        args = [self.or_()]
        while self.peek() == ("op", ","):
            self.take()
            args.append(self.or_())
        self.take(")")
        if name == "switch":
            if len(args) < 4 or len(args) % 2:
                raise UnsupportedIML(
                    "switch() takes a value, case/result pairs and an otherwise result (the "
                    f"subset always gives one), got {len(args)} arguments"
                )
        elif len(args) != FUNCTIONS[name]:
            raise UnsupportedIML(f"{name}() takes {FUNCTIONS[name]} arguments, got {len(args)}")
        return Call(name, tuple(args))


def parse(source: str) -> Node:
    return _Parser(source).parse()


_TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
SPREAD = "{{...}}"


def segments(template: str) -> list[str | Node]:
    """Text and parsed expressions, in order."""
    out: list[str | Node] = []
    pos = 0
    for match in _TEMPLATE.finditer(template):
        if match.start() > pos:
            out.append(template[pos : match.start()])
        out.append(parse(match.group(1)))
        pos = match.end()
    rest = template[pos:]
    if "{{" in rest or "}}" in rest:
        raise UnsupportedIML(f"unbalanced braces in {template!r}")
    if rest:
        out.append(rest)
    return out


def references(node: Node) -> Iterator[tuple[str, ...]]:
    """Every variable path an expression reads."""
    if isinstance(node, Ref):
        yield node.parts
    elif isinstance(node, Call):
        for arg in node.args:
            yield from references(arg)
    elif isinstance(node, Binary):
        yield from references(node.left)
        yield from references(node.right)
    elif isinstance(node, Not):
        yield from references(node.operand)


def functions(node: Node) -> Iterator[str]:
    """Every function an expression calls."""
    if isinstance(node, Call):
        yield node.name
        for arg in node.args:
            yield from functions(arg)
    elif isinstance(node, Binary):
        yield from functions(node.left)
        yield from functions(node.right)
    elif isinstance(node, Not):
        yield from functions(node.operand)


def operators(node: Node) -> Iterator[str]:
    """Every operator an expression uses."""
    if isinstance(node, Call):
        for arg in node.args:
            yield from operators(arg)
    elif isinstance(node, Binary):
        yield node.op
        yield from operators(node.left)
        yield from operators(node.right)
    elif isinstance(node, Not):
        yield "!"
        yield from operators(node.operand)


def template_expressions(value: Any) -> Iterator[Node]:
    """Every parsed expression in a JSON value's templates, keys included."""
    if isinstance(value, str):
        for seg in segments(value):
            if not isinstance(seg, str):
                yield seg
    elif isinstance(value, Mapping):
        for k, v in value.items():
            if k != SPREAD:
                yield from template_expressions(k)
            yield from template_expressions(v)
    elif isinstance(value, list):
        for v in value:
            yield from template_expressions(v)


def template_references(value: Any) -> Iterator[tuple[str, ...]]:
    """Every variable path read anywhere in a JSON value's templates."""
    if isinstance(value, str):
        for seg in segments(value):
            if not isinstance(seg, str):
                yield from references(seg)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            if k != SPREAD:
                yield from template_references(k)
            yield from template_references(v)
    elif isinstance(value, list):
        for v in value:
            yield from template_references(v)


# -- evaluation ---------------------------------------------------------------------------------


def truthy(value: Any) -> bool:
    if value is UNDEFINED or value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0 and value == value
    if isinstance(value, str):
        return value != ""
    return True


def to_text(value: Any) -> str:
    """JavaScript's String(value)."""
    if value is UNDEFINED:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join("" if v is None or v is UNDEFINED else to_text(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def _strict_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return type(a) is type(b) and a == b


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _to_number(value: Any) -> float:
    """JavaScript's Number(value) for what IML compares: numbers, numeric text, booleans;
    anything else is NaN (so every comparison with it is false)."""
    if _number(value):
        return float(value)
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, str):
        try:
            return float(value.strip()) if value.strip() else 0.0
        except ValueError:
            return float("nan")
    if value is None:
        return 0.0
    return float("nan")


def _compare(op: str, left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        raise UnsupportedIML("comparing two texts: the generator compares numbers only")
    a, b = _to_number(left), _to_number(right)
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _get(value: Any, dotted: str) -> Any:
    """help.make.com's get(): each dotted part a property, or an array position from 1."""
    for part in dotted.split("."):
        if isinstance(value, Mapping):
            value = value.get(part, UNDEFINED)
        elif isinstance(value, list) and part.isdigit() and 0 < int(part) <= len(value):
            value = value[int(part) - 1]
        else:
            return UNDEFINED
    return value


def evaluate(node: Node, context: Mapping[str, Any]) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Ref):
        value: Any = context.get(node.parts[0], UNDEFINED)
        for name in node.parts[1:]:
            value = value.get(name, UNDEFINED) if isinstance(value, Mapping) else UNDEFINED
        return value
    if isinstance(node, Not):
        return not truthy(evaluate(node.operand, context))
    if isinstance(node, Call):
        if node.name == "if":
            cond, then, other = node.args
            return evaluate(then if truthy(evaluate(cond, context)) else other, context)
        if node.name == "ifempty":
            first = evaluate(node.args[0], context)
            empty = first is UNDEFINED or first is None or first == ""
            return evaluate(node.args[1], context) if empty else first
        if node.name == "switch":  # the value once; the result of the first equal case
            value, *pairs, otherwise = node.args
            found = evaluate(value, context)
            for case, result in zip(pairs[::2], pairs[1::2], strict=True):
                if _strict_equal(found, evaluate(case, context)):
                    return evaluate(result, context)
            return evaluate(otherwise, context)
        args = [evaluate(a, context) for a in node.args]
        if node.name == "substring":
            text, start, end = args
            return to_text(text)[int(start) : int(end)]
        if node.name == "encodeURL":  # encodeURIComponent
            return urllib.parse.quote(to_text(args[0]), safe="-_.!~*'()")
        if node.name == "round":  # half up, as JavaScript's Math.round
            number = _to_number(args[0])
            return number if number != number else float(math.floor(number + 0.5))
        if node.name == "last":
            return args[0][-1] if isinstance(args[0], list) and args[0] else UNDEFINED
        if node.name == "first":
            return args[0][0] if isinstance(args[0], list) and args[0] else UNDEFINED
        if node.name == "get":
            return _get(args[0], to_text(args[1]))
        if node.name == "map":
            items, key = args
            if not isinstance(items, list):
                return UNDEFINED
            return [i.get(to_text(key)) for i in items if isinstance(i, Mapping)]
        if node.name == "join":
            items, separator = args
            if not isinstance(items, list):
                return UNDEFINED
            return to_text(separator).join(to_text(i) for i in items)
        if node.name == "lower":
            return UNDEFINED if args[0] is UNDEFINED else to_text(args[0]).lower()
        if node.name == "split":
            return to_text(args[0]).split(to_text(args[1]))
        if node.name == "contains":  # an array holds the value, or a text the fragment
            haystack, needle = args
            if isinstance(haystack, list):
                return any(_strict_equal(item, needle) for item in haystack)
            return to_text(needle) in to_text(haystack)
        items, key, val = args  # toCollection(array, key, value)
        if items is UNDEFINED or items is None:
            return {}
        return {to_text(i.get(key)): i.get(val) for i in items if isinstance(i, Mapping)}
    left = evaluate(node.left, context)
    if node.op == "||":
        return left if truthy(left) else evaluate(node.right, context)
    if node.op == "&&":
        return evaluate(node.right, context) if truthy(left) else left
    right = evaluate(node.right, context)
    if node.op == "==":
        return _strict_equal(left, right)
    if node.op == "!=":
        return not _strict_equal(left, right)
    if node.op in RELATIONAL:
        return _compare(node.op, left, right)
    if node.op == "/":  # JavaScript: both sides as numbers
        divisor = _to_number(right)
        return _to_number(left) / divisor if divisor else float("nan")
    if _number(left) and _number(right):
        return left + right
    return to_text(left) + to_text(right)


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """Evaluate every template in a JSON value (objects drop keys that come out undefined)."""
    if isinstance(value, str):
        parts = segments(value)
        if len(parts) == 1 and not isinstance(parts[0], str):
            return evaluate(parts[0], context)
        out = []
        for part in parts:
            if isinstance(part, str):
                out.append(part)
            else:
                result = evaluate(part, context)
                out.append("" if result is UNDEFINED or result is None else to_text(result))
        return "".join(out)
    if isinstance(value, Mapping):
        rendered: dict[str, Any] = {}
        for k, v in value.items():
            if k == SPREAD:  # `"{{...}}": "{{collection}}"` merges the collection in
                spread = render(v, context)
                if spread is not UNDEFINED and spread is not None:
                    if not isinstance(spread, Mapping):
                        raise UnsupportedIML(f"{SPREAD} spreads a {type(spread).__name__}")
                    rendered.update(spread)
                continue
            rendered[k] = render(v, context)
        return {k: v for k, v in rendered.items() if v is not UNDEFINED}
    if isinstance(value, list):
        return [v for v in (render(item, context) for item in value) if v is not UNDEFINED]
    return value
