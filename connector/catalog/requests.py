"""Pydantic request models, built from the catalog, and the errors builders see.

`request_model(op)` turns an operation's fields into a pydantic model (unknown fields
refused, closed enums as literals, ranges as constraints). `InvalidInput` rewrites
pydantic's errors in the catalog's own words: the field, the value given, and what
the field allows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from annotated_types import Len
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic import Field as PydanticField
from pydantic_core import PydanticCustomError

from connector.catalog.spec import Field, FieldType, Operation
from connector.errors import CreativeAIError

T = FieldType


class Upload(BaseModel):
    """A file for a multipart field: bytes plus the name and type sent with them."""

    model_config = ConfigDict(frozen=True)

    filename: str = "upload.bin"
    content: bytes
    content_type: str = "application/octet-stream"


def _to_upload(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return Upload(content=bytes(value))
    if isinstance(value, tuple) and len(value) in (2, 3):
        name, content, *ctype = value
        return Upload(filename=name, content=content, content_type=(ctype or [_guess(name)])[0])
    return value


def _guess(filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower()
    return {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg"}.get(
        ext, "application/octet-stream"
    )


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("not an absolute http(s) URL")
    return value


class RequestModel(BaseModel):
    """Base of every generated request model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    __operation__: Operation

    def to_wire(self) -> dict[str, Any]:
        """The JSON body (or multipart form fields) the API expects, without empty values."""
        body = self.model_dump(exclude_none=True, mode="python")
        for use in self.__operation__.fields:
            f = use.field
            if f.fixed is not None:
                body[f.name] = f.fixed
            elif f.type is T.FILE and f.name in body:
                body[f.name] = getattr(self, f.name)  # keep the Upload, not its dict
        return body


def _annotation(field: Field) -> Any:
    t = field.type
    if t is T.ENUM:
        if field.closed:
            return Literal[field.option_values]
        return Annotated[str, StringConstraints(min_length=1)]
    if t in (T.STRING, T.TEXT):
        return Annotated[
            str, StringConstraints(min_length=field.min_length, max_length=field.max_length)
        ]
    if t is T.URL:
        return Annotated[str, AfterValidator(_check_url)]
    if t in (T.INTEGER, T.NUMBER):
        base: type = int if t is T.INTEGER else float
        return Annotated[base, PydanticField(ge=field.minimum, le=field.maximum)]
    if t is T.BOOLEAN:
        return bool
    if t is T.FILE:
        return Annotated[Upload, BeforeValidator(_to_upload)]
    if t is T.OBJECT:
        return _object_model(field)
    item: Any
    if t is T.STRING_LIST:
        item = _annotation(
            Field(key="item", name="item", type=field.item_type or T.STRING, label="", help="")
        )
    elif t is T.NUMBER_LIST:
        item = float
    else:
        item = _object_model(field)
    return Annotated[list[item], Len(field.min_items or 0, field.max_items)]


def _object_model(field: Field) -> type[BaseModel]:
    specs: dict[str, Any] = {
        c.name: (_annotation(c), ...) if c.required else (_annotation(c) | None, None)
        for c in field.children
    }
    return create_model(
        _class_name(field.key),
        __config__=ConfigDict(extra="forbid", frozen=True),
        **specs,
    )


def _class_name(key: str) -> str:
    return "".join(part.capitalize() for part in key.replace(".", "_").split("_"))


def _one_of_validator(groups: tuple[tuple[str, ...], ...]) -> Any:
    def check(model: BaseModel) -> BaseModel:
        for group in groups:
            given = [name for name in group if getattr(model, name) is not None]
            if len(given) != 1:
                raise PydanticCustomError(
                    "one_of",
                    "give exactly one of {names}",
                    {"names": " or ".join(group), "given": given},
                )
        return model

    return model_validator(mode="after")(check)


def build_request_model(op: Operation) -> type[RequestModel]:
    specs: dict[str, Any] = {}
    for use in op.fields:
        f = use.field
        if f.fixed is not None:
            continue
        # Optional fields take None as "not given" (no-code tools send empty values).
        specs[f.name] = (_annotation(f), ...) if use.required else (_annotation(f) | None, None)
    validators = {"_one_of": _one_of_validator(op.one_of)} if op.one_of else None
    model = create_model(
        _class_name(op.key) + "Request",
        __base__=RequestModel,
        __validators__=validators,
        **specs,
    )
    model.__operation__ = op
    return model


# -- errors in the catalog's words ------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    field: str  # dotted path on the wire, e.g. "prompts[3].prompt"
    value: Any
    message: str  # what is wrong and what is allowed

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class InvalidInput(CreativeAIError, ValueError):
    """Input that the API would refuse; names each field, the value given and what is allowed."""

    def __init__(self, operation: Operation, problems: list[Problem]) -> None:
        self.operation = operation
        self.problems = problems
        lines = "; ".join(str(p) for p in problems)
        super().__init__(f"{operation.label}: {lines}")

    @property
    def param(self) -> str:
        """The first offending field, as the API's `param` would name it."""
        return self.problems[0].field if self.problems else ""


def show(value: Any) -> str:
    """A value as an error message quotes it: short, and never a whole payload."""
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if isinstance(value, list | tuple):
        return f"{len(value)} item" + ("" if len(value) == 1 else "s")
    if isinstance(value, str) and len(value) > 60:
        return f"a text of {len(value):,} characters"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _find(fields: tuple[Field, ...], loc: tuple[int | str, ...]) -> tuple[Field | None, str]:
    """The catalog field a pydantic error location points at, and its wire path."""
    path = ""
    current: Field | None = None
    children = fields
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            continue
        match = next((f for f in children if f.name == part), None)
        path = f"{path}.{part}" if path else str(part)
        if match is None:
            return None, path
        current, children = match, match.children
    return current, path


def explain(op: Operation, error: ValidationError, data: Mapping[str, Any]) -> InvalidInput:
    fields = tuple(use.field for use in op.fields if use.field.fixed is None)
    problems: list[Problem] = []
    for err in error.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        field, path = _find(fields, loc)
        value = err.get("input")
        kind = err["type"]
        if kind == "one_of":
            ctx = err.get("ctx") or {}
            names, given = str(ctx.get("names", "")), ctx.get("given") or []
            which = "both were given" if given else "neither was given"
            problems.append(Problem(names, None, f"give exactly one of these ({which})"))
        elif kind == "extra_forbidden":
            allowed = ", ".join(f.name for f in (fields if len(loc) == 1 else _parent(fields, loc)))
            problems.append(Problem(path, value, f"is not a field here; allowed: {allowed}"))
        elif kind == "missing":
            what = field.allowed() if field else "a value"
            problems.append(Problem(path, None, f"is required ({what})"))
        else:
            what = field.allowed() if field else err["msg"]
            if loc and isinstance(loc[-1], int) and field and field.type is T.STRING_LIST:
                kind_of_item = "an absolute http(s) URL" if field.item_type is T.URL else "text"
                what = f"{kind_of_item} (each item of {field.name})"
            problems.append(Problem(path, value, f"{show(value)} is not allowed; expected {what}"))
    return InvalidInput(op, problems)


def _parent(fields: tuple[Field, ...], loc: tuple[int | str, ...]) -> tuple[Field, ...]:
    parent, _ = _find(fields, loc[:-1])
    return parent.children if parent else fields
